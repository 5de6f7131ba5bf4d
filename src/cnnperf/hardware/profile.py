"""Hardware profiles (paper Tables II-IV, VII, VIII): machine constants, CPI by threads per
core, and per network the op counts, measured times and MemoryContention(p).

Pure data and functions; TOML reading and writing live in `cnnperf.hardware.toml_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Contention:
    """MemoryContention(p) in seconds per image (paper Table IV).

    Linear interpolation between the measured thread counts; beyond them the paper's rule,
    a straight line a + b*p fitted by least squares to the measured points (it reproduces
    the paper's "predicted" rows for 480-3,840 threads). Rows marked extrapolated are kept
    for display and comparison but never used for prediction.
    """

    threads: tuple[int, ...]
    seconds: tuple[float, ...]
    status: tuple[str, ...]  # "measured" | "extrapolated" per row

    def measured(self) -> tuple[np.ndarray, np.ndarray]:
        keep = [k for k, s in enumerate(self.status) if s == "measured"]
        return np.array([self.threads[k] for k in keep], float), np.array([self.seconds[k] for k in keep], float)

    def line(self) -> tuple[float, float]:
        """(a, b) of the least-squares line a + b*p through the measured points."""
        p, c = self.measured()
        if len(p) == 1:
            return 0.0, float(c[0] / p[0])
        b, a = np.polyfit(p, c, 1)
        return float(a), float(b)

    def __call__(self, p) -> np.ndarray:
        """Seconds per image at thread count(s) p (array-aware)."""
        p_arr = np.asarray(p, dtype=float)
        mp, mc = self.measured()
        a, b = self.line()
        inside = np.interp(p_arr, mp, mc)
        return np.where((p_arr >= mp[0]) & (p_arr <= mp[-1]), inside, a + b * p_arr)

    def regime(self, p) -> np.ndarray:
        """'measured', 'interpolated' or 'extrapolated' per p."""
        p_arr = np.atleast_1d(np.asarray(p, dtype=float))
        mp, _ = self.measured()
        inside = np.where((p_arr > mp[0]) & (p_arr < mp[-1]), "interpolated", "extrapolated")
        out = np.where(np.isin(p_arr, mp), "measured", inside)
        return out


def number(kind: type = float, zero_ok: bool = False, **kw) -> Any:
    """A numeric profile key (unit in its name); the loader checks type and sign from this."""
    return field(metadata={"toml": "number", "kind": kind, "zero_ok": zero_ok}, **kw)


def text(**kw) -> Any:
    return field(metadata={"toml": "str"}, **kw)


def table(**kw) -> Any:
    return field(metadata={"toml": "table"}, **kw)


@dataclass(frozen=True)
class NetworkParams:
    """Per-network entries of a profile (`[networks.NAME]`). Counts in operations, times in seconds.

    The TOML keys are this class's fields (their metadata says how each is checked)."""

    name: str = field(metadata={"toml": "key"})  # the table's key, not a TOML value
    epochs: int = number(int)
    operation_factor: float = number()
    prep_ops: float = number(zero_ok=True)
    fprop_ops: float = number()
    bprop_ops: float = number()
    t_prep_s: float = number(zero_ok=True)
    t_fprop_s: float = number()
    t_bprop_s: float = number()
    contention: Contention = field(metadata={"toml": "memory_contention"})
    notation: str = text(default="")
    sources: dict = table(default_factory=dict, compare=False)  # how each value was obtained
    empirical: dict = table(default_factory=dict, compare=False)  # strategy (c) fit, if any


def machine_key(kind: type = float, **kw) -> Any:
    """A key of the profile's [machine] table (checked by the loader from this metadata)."""
    return field(metadata={"toml": "machine", "kind": kind}, **kw)


OVERSUBSCRIPTION = ("none", "time-slicing")


@dataclass(frozen=True)
class HardwareProfile:
    """One machine: clock s, cores, hardware threads per core, CPI table, networks."""

    name: str
    clock_hz: float = machine_key()
    cores: int = machine_key(int)
    threads_per_core: int = machine_key(int)
    cpi: dict[int, float] = field(default_factory=dict)  # threads per core -> cycles per instruction
    networks: dict[str, NetworkParams] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False)  # other TOML sections, kept verbatim
    # "none": the paper's rules; "time-slicing": see time_slice_at
    oversubscription: str = machine_key(str, default="none")
    machine_model: Any = field(default=None, compare=False)  # hardware.machine_model.MachineModel (strategy (d))

    @property
    def hardware_threads(self) -> int:
        return self.cores * self.threads_per_core

    def threads_per_core_at(self, p) -> np.ndarray:
        """Threads spread evenly over the cores: ceil(p / cores)."""
        return np.ceil(np.asarray(p, dtype=float) / self.cores).astype(int)

    def cpi_at(self, p) -> np.ndarray:
        """CPI(p) from the table by threads per core; beyond the table the last value (paper)."""
        t = self.threads_per_core_at(p)
        keys = sorted(self.cpi)
        table = np.array([self.cpi[k] for k in keys])
        idx = np.clip(np.searchsorted(keys, t, side="left"), 0, len(keys) - 1)
        return table[idx]

    def time_slice_at(self, p) -> np.ndarray:
        """cnnperf's oversubscription term: with "time-slicing", p software threads beyond the
        hardware threads share them, so each runs p / hardware_threads times slower. 1 otherwise."""
        p_arr = np.asarray(p, dtype=float)
        if self.oversubscription != "time-slicing":
            return np.ones_like(p_arr)
        return np.maximum(1.0, p_arr / self.hardware_threads)

    def contention_threads(self, contention: Contention, p) -> np.ndarray:
        """The thread count at which MemoryContention is read. Paper rules: p. With
        "time-slicing", beyond the measured thread counts only the hardware threads run at
        once, so the contention stays at its value for max(hardware threads, last measured p)
        instead of growing linearly; inside the measured range the measured values (which
        include the overheads of oversubscription) are interpolated."""
        p_arr = np.asarray(p, dtype=float)
        if self.oversubscription != "time-slicing":
            return p_arr
        return np.minimum(p_arr, max(float(self.hardware_threads), float(contention.measured()[0].max())))

    def params_for(self, net) -> NetworkParams:
        """The entry of network `net` (a NetworkSpec or a name): by name, else by notation."""
        name = getattr(net, "name", net)
        if name in self.networks:
            return self.networks[name]
        notation = net.notation() if hasattr(net, "notation") else None
        for params in self.networks.values():
            if notation and params.notation == notation:
                return params
        return self.network(name)

    def network(self, name: str) -> NetworkParams:
        from cnnperf.errors import CnnperfError
        if name not in self.networks:
            have = ", ".join(self.networks) or "none"
            raise CnnperfError(f"profile {self.name} has no network {name!r}; it has {have}"
                               " (calibrate it with 'cnnperf calibrate --nets ...')")
        return self.networks[name]
