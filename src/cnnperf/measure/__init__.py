"""Measurement on a noisy machine: the protocol (`protocol.py`: interleaved blocks, drift probe, MAD rule,
adaptive repeats), its statistics (`robust.py`), the calibration's timed regions (`tasks.py`) and steps
(`calibrate.py`), the interconnect (`interconnect.py`, `mpi_bench.py`)."""
