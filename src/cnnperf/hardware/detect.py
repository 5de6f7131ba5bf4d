"""Detect the machine at hand: cores, hardware threads per core, model name, clock.

Every value records how it was obtained (`sources`), because on VMs and containers some of
them are guesses: the affinity mask, sysfs topology, /proc/cpuinfo, or a fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class MachineInfo:
    cores: int
    threads_per_core: int
    model_name: str
    clock_hz: float
    logical_cpus: int
    sources: dict = field(default_factory=dict, compare=False)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _cpuinfo_field(text: str | None, key: str) -> str | None:
    for line in (text or "").splitlines():
        if line.startswith(key) and ":" in line:
            return line.split(":", 1)[1].strip()
    return None


def detect_machine() -> MachineInfo:
    """Cores this process may use (affinity mask / SMT siblings), model name and nominal clock."""
    sources = {}
    try:
        cpus = sorted(os.sched_getaffinity(0))
        sources["logical_cpus"] = "os.sched_getaffinity"
    except AttributeError:
        cpus = list(range(os.cpu_count() or 1))
        sources["logical_cpus"] = "os.cpu_count"
    siblings = _read(f"/sys/devices/system/cpu/cpu{cpus[0]}/topology/thread_siblings_list")
    if siblings:
        tpc = 0
        for part in siblings.strip().split(","):
            lo, _, hi = part.partition("-")
            tpc += int(hi or lo) - int(lo) + 1
        sources["threads_per_core"] = "sysfs thread_siblings_list"
    else:
        tpc = 1
        sources["threads_per_core"] = "fallback: 1 (no sysfs topology)"
    cores = max(1, len(cpus) // max(tpc, 1))
    sources["cores"] = f"{len(cpus)} logical CPUs / {tpc} threads per core"
    cpuinfo = _read("/proc/cpuinfo")
    model = _cpuinfo_field(cpuinfo, "model name") or "unknown"
    sources["model_name"] = "/proc/cpuinfo" if model != "unknown" else "not found"
    max_khz = _read(f"/sys/devices/system/cpu/cpu{cpus[0]}/cpufreq/cpuinfo_max_freq")
    if max_khz:
        clock, sources["clock_hz"] = float(max_khz) * 1e3, "sysfs cpuinfo_max_freq"
    elif _cpuinfo_field(cpuinfo, "cpu MHz"):
        clock, sources["clock_hz"] = float(_cpuinfo_field(cpuinfo, "cpu MHz")) * 1e6, "/proc/cpuinfo cpu MHz (current, nominal on VMs)"
    else:
        clock, sources["clock_hz"] = 1e9, "fallback: 1 GHz (not found)"
    return MachineInfo(cores, tpc, model, clock, len(cpus), sources)
