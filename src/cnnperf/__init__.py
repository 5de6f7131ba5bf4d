"""cnnperf: CHAOS training of CNNs on many-core CPUs and performance models that predict it."""

__version__ = "0.1.0"
