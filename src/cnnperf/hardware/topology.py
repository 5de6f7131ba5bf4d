"""The machine at hand: usable CPUs, hardware threads per core, model name, clock, ISA.

The one place that reads CPU topology (affinity mask, sysfs, /proc/cpuinfo). Every value
of `detect_machine` records how it was obtained (`sources`), because on VMs and containers
some of them are guesses.
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
    """The first line's value whose name is exactly `key` ("model" is not "model name")."""
    for line in (text or "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _cpu_list(text: str) -> list[int]:
    """sysfs CPU list syntax: `0-3,8,10-11`."""
    out: list[int] = []
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi or lo) + 1))
    return out


def usable_cpus() -> list[int]:
    """Logical CPUs this process may run on (affinity mask; all CPUs where there is none)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def available_cores() -> int:
    """Logical CPUs this process may use: the default thread count of a run."""
    return len(usable_cpus())


def core_siblings(cpu: int = 0) -> list[int]:
    """Logical CPUs sharing `cpu`'s core (sysfs thread_siblings_list), else just [cpu]."""
    text = _read(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
    return _cpu_list(text) if text and text.strip() else [cpu]


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """ISA flags from /proc/cpuinfo (or its text `cpuinfo`), e.g. avx2, avx512f; empty where unknown."""
    return set((_cpuinfo_field(_read("/proc/cpuinfo") if cpuinfo is None else cpuinfo, "flags") or "").split())


def simd_fp32_lanes(cpuinfo: str | None = None) -> int:
    """fp32 lanes of the widest vector unit the CPU reports: 16 (AVX-512), 8 (AVX2), else 4."""
    flags = cpu_flags(cpuinfo)
    return 16 if "avx512f" in flags else 8 if "avx2" in flags else 4


def fma_fp32_lanes(cpuinfo: str | None = None) -> tuple[int, str]:
    """fp32 lanes one FMA pipe completes per cycle, and why: the widest ISA's vector
    (`simd_fp32_lanes`), except where the core executes vectors in narrower halves, as AMD's
    Zen 1 (family 0x17, model < 0x30: 128-bit pipes) and Zen 4 (family 0x19 with AVX-512:
    256-bit pipes) do. `cpuinfo`: the text of /proc/cpuinfo (read where None)."""
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    isa = simd_fp32_lanes(text or "")
    vendor = _cpuinfo_field(text, "vendor_id") or ""
    try:
        family, model = int(_cpuinfo_field(text, "cpu family") or -1), int(_cpuinfo_field(text, "model") or -1)
    except ValueError:
        family = model = -1
    name = {16: "AVX-512", 8: "AVX2", 4: "SSE"}[isa]
    if vendor == "AuthenticAMD" and family == 0x19 and isa > 8:
        return 8, f"{name}, executed as 256-bit halves (AMD family 0x19: Zen 4)"
    if vendor == "AuthenticAMD" and family == 0x17 and 0 <= model < 0x30 and isa > 4:
        return 4, f"{name}, executed as 128-bit halves (AMD family 0x17, model < 0x30: Zen 1)"
    return isa, f"{name}, full-width pipes"


def cache_bytes(level: int, cpu: int = 0) -> int:
    """Size of `cpu`'s data or unified cache of `level` (sysfs), 0 where unknown."""
    base = Path(f"/sys/devices/system/cpu/cpu{cpu}/cache")
    for index in sorted(base.glob("index*")):
        lvl, kind, size = (_read(str(index / f)) for f in ("level", "type", "size"))
        if lvl and kind and size and int(lvl) == level and kind.strip() in ("Data", "Unified"):
            text = size.strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            return int(text.rstrip("KMG")) * scale
    return 0


def detect_machine() -> MachineInfo:
    """Cores this process may use (affinity mask / SMT siblings), model name and nominal clock."""
    sources = {}
    cpus = usable_cpus()
    sources["logical_cpus"] = "os.sched_getaffinity" if hasattr(os, "sched_getaffinity") else "os.cpu_count"
    siblings = _read(f"/sys/devices/system/cpu/cpu{cpus[0]}/topology/thread_siblings_list")
    if siblings and siblings.strip():
        tpc = len(_cpu_list(siblings))
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
    mhz = _cpuinfo_field(cpuinfo, "cpu MHz")
    if max_khz:
        clock, sources["clock_hz"] = float(max_khz) * 1e3, "sysfs cpuinfo_max_freq"
    elif mhz:
        clock, sources["clock_hz"] = float(mhz) * 1e6, "/proc/cpuinfo cpu MHz (current, nominal on VMs)"
    else:
        clock, sources["clock_hz"] = 1e9, "fallback: 1 GHz (not found)"
    return MachineInfo(cores, tpc, model, clock, len(cpus), sources)


def machine_mismatch(profile) -> list[str]:
    """Warnings when `profile` (a HardwareProfile) describes another machine than this one."""
    m = detect_machine()
    detected = profile.extra.get("detected", {}) if isinstance(profile.extra.get("detected"), dict) else {}
    if (profile.cores, profile.threads_per_core) != (m.cores, m.threads_per_core):
        return [f"profile {profile.name} is for {profile.cores} cores x {profile.threads_per_core} threads, this "
                f"machine has {m.cores} x {m.threads_per_core}; predictions describe the other machine"]
    if detected.get("model_name") not in (None, m.model_name):
        return [f"profile {profile.name} was calibrated on '{detected.get('model_name')}', this is '{m.model_name}'"]
    return []
