"""cnnperf: CHAOS training of CNNs on many-core CPUs and performance models that predict it.

The public API lives in `cnnperf.api` and is re-exported here (loaded on first use, so
`import cnnperf` imports neither NumPy nor Numba):

    import cnnperf
    pred = cnnperf.predict("medium", "xeon-phi-7120p", threads=[240, 480])
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["api", "calibrate", "calibrate_interconnect", "count", "export_extrap", "network", "networks", "predict",
           "profile", "reproduce", "strategies_for", "train", "validate", "validate_ranks"]


def __getattr__(name: str):
    if name in __all__:
        import importlib

        api = importlib.import_module("cnnperf.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'cnnperf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
