"""The data cache sizes of this CPU (sysfs), from which the kernels' blocking is chosen
(`cnnperf.engine.layout`). Pure Python; the engine's own reader (it may not import `hardware`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DEFAULT_BYTES = {1: 32 << 10, 2: 512 << 10}  # where sysfs says nothing: the smallest of current x86-64 cores


@cache
def cache_bytes(level: int) -> int:
    """Bytes of CPU 0's data (or unified) cache of `level`; DEFAULT_BYTES where unknown."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in sorted(base.glob("index*")):
            lvl, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
            if int(lvl) == level and kind in ("Data", "Unified") and size:
                scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1:].upper(), 1)
                return int(size.rstrip("KMGkmg")) * scale
    except (OSError, ValueError):
        pass
    return DEFAULT_BYTES[level]
