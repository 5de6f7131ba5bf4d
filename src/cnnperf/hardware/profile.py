"""Hardware profiles (paper Tables II-IV, VII, VIII): machine constants, CPI by threads per
core, and per network the op counts, measured times and MemoryContention(p).

Pure data and functions; TOML reading and writing live in `cnnperf.hardware.toml_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from statistics import NormalDist
from typing import Any

import numpy as np


def number(kind: type = float, zero_ok: bool = False, **kw) -> Any:
    """A numeric profile key (unit in its name); the loader checks type and sign from this."""
    return field(metadata={"toml": "number", "kind": kind, "zero_ok": zero_ok}, **kw)


def z_two_sided(level: float) -> float:
    """z with P(|Z| <= z) = level for a standard normal Z (1.645 at 0.90, 1.960 at 0.95)."""
    return NormalDist().inv_cdf((1 + level) / 2)


Z95 = z_two_sided(0.95)


@dataclass(frozen=True)
class Spread:
    """The uncertainty of one measured value; the value itself (the profile's number) is the
    median of its samples (schema 2). `ci_low`, `ci_high`: the distribution-free 95 % confidence
    interval of that median; `low`, `high`: the 5th and 95th percentiles of single timed regions
    (per unit of work: the machine's noise, asymmetric where it is); `samples`: how many (0: exact,
    e.g. a value that is 0 by definition)."""

    ci_low: float = number(zero_ok=True)
    ci_high: float = number(zero_ok=True)
    low: float = number(zero_ok=True)
    high: float = number(zero_ok=True)
    samples: int = number(int, zero_ok=True)

    def draw(self, value: float, z):
        """Draws of the value for standard normal z: a split normal whose 95 % interval is
        [ci_low, ci_high] (the estimate's own uncertainty), never below 0."""
        up, down = max(self.ci_high - value, 0.0) / Z95, max(value - self.ci_low, 0.0) / Z95
        if isinstance(z, float):  # the common case, one draw: plain floats are ten times faster
            return value if self.samples == 0 else max(value + z * (up if z > 0 else down), 0.0)
        z = np.asarray(z, dtype=float)
        if self.samples == 0:
            return value + 0 * z
        return np.maximum(value + np.where(z > 0, z * up, z * down), 0.0)


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
    spread: tuple[Spread, ...] = ()  # per row, schema 2 (empty: no uncertainty recorded)

    def sample(self, rng: np.random.Generator) -> Contention:
        """A copy with every measured row drawn from its spread (see Spread.draw)."""
        if not self.spread:
            return self
        z = rng.standard_normal(len(self.seconds)).tolist()
        drawn = tuple(s.draw(v, zk) for v, s, zk in zip(self.seconds, self.spread, z))
        return replace(self, seconds=drawn)

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
    # schema 2: the Spread of each measured number, keyed by its field name (t_fprop_s, ...)
    uncertainty: dict[str, Spread] = field(default_factory=dict, metadata={"toml": "uncertainty"})
    reference_runs: ReferenceRuns | None = field(default=None, metadata={"toml": "reference_runs"})

    def sample(self, rng: np.random.Generator) -> NetworkParams:
        """A copy with each measured value drawn from its stored distribution: the numbers with a
        Spread, the contention rows, and a fitted model stored as `coefficients` with their
        `covariance` (multivariate normal)."""
        z = rng.standard_normal(len(self.uncertainty)).tolist()
        drawn = {k: s.draw(getattr(self, k), zk) for (k, s), zk in zip(self.uncertainty.items(), z)}
        emp = self.empirical
        if "covariance" in emp and "coefficients" in emp:
            emp = {**emp, "coefficients": _mvn(emp["coefficients"], emp["covariance"], rng).tolist()}
        return replace(self, contention=self.contention.sample(rng), empirical=emp, **drawn)

    @property
    def uncertain(self) -> bool:
        """True if any value of this entry carries a recorded uncertainty."""
        return bool(any(s.samples for s in self.uncertainty.values()) or any(s.samples for s in self.contention.spread)
                    or "covariance" in self.empirical)


def _mvn(mean, cov, rng: np.random.Generator) -> np.ndarray:
    """One draw of N(mean, cov); cov is symmetrised and its negative eigenvalues (rounding) clipped."""
    m, c = np.asarray(mean, dtype=float), np.asarray(cov, dtype=float)
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    return m + v @ (np.sqrt(np.clip(w, 0.0, None)) * rng.standard_normal(len(m)))


@dataclass(frozen=True)
class Noise:
    """The machine's noise measured during calibration (schema 2, `[noise]`). `factors[w][q]`:
    the quantile `levels[q]` of the slow-down (wall time over quiet-mode time) of a run that
    needs `window_s[w]` seconds on the quiet machine; beyond the last window the last row
    holds. `region_drift` and `probe_drift`: the 95th percentile of single timed regions and of
    the drift probe over their quiet modes, minus 1."""

    window_s: tuple[float, ...]
    levels: tuple[float, ...]
    factors: tuple[tuple[float, ...], ...]
    region_drift: float
    probe_drift: float
    duration_s: float
    regions: int
    probe: str = ""

    def factors_at(self, u, seconds) -> np.ndarray:
        """Slow-down factors for uniform draws u (shape (K,)) and run lengths `seconds` (any
        shape): shape (K, *seconds.shape); inverse CDF, linear between the stored quantiles and
        in log(window) between the stored windows."""
        d = np.log(np.maximum(np.asarray(seconds, dtype=float), 1e-9)).ravel()
        logw, table = np.log(np.asarray(self.window_s)), np.asarray(self.factors)
        q = np.stack([np.interp(d, logw, table[:, j]) for j in range(table.shape[1])], axis=-1)  # (rows, L)
        levels = np.asarray(self.levels)
        u = np.clip(np.asarray(u, dtype=float), levels[0], levels[-1])
        i = np.clip(np.searchsorted(levels, u, side="right") - 1, 0, len(levels) - 2)
        w = (u - levels[i]) / (levels[i + 1] - levels[i])
        out = q[:, i] * (1 - w) + q[:, i + 1] * w  # (rows, K)
        return out.T.reshape((len(u), *np.shape(seconds)))


@dataclass(frozen=True)
class ReferenceRuns:
    """Real whole training runs the calibration timed (schema 2, `[networks.NAME.reference_runs]`):
    1 epoch of `images` training and `test_images` test images at each thread count, median
    seconds with their Spreads. Every strategy's prediction of these runs is its measured model
    error on this machine (`cnnperf.models.intervals.model_discrepancy`)."""

    threads: tuple[int, ...]
    seconds: tuple[float, ...]
    images: int
    test_images: int
    epochs: int = 1
    spread: tuple[Spread, ...] = ()


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
    cpi_spread: dict[int, Spread] = field(default_factory=dict)  # schema 2: per threads per core
    noise: Noise | None = None  # schema 2: the machine's noise during calibration ([noise])

    def sample(self, rng: np.random.Generator, networks=None) -> HardwareProfile:
        """A copy with each measured value drawn from its stored distribution (Monte Carlo of the
        prediction intervals): CPI, the entries of `networks` (all if None), and every other part
        of the profile that has a `sample(rng)` method of its own (e.g. a machine model)."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "networks":
                changes[f.name] = {n: e.sample(rng) if networks is None or n in networks else e
                                   for n, e in value.items()}
            elif callable(getattr(value, "sample", None)):
                changes[f.name] = value.sample(rng)
        if any(s.samples for s in self.cpi_spread.values()):
            changes["cpi"] = {t: self.cpi_spread[t].draw(c, float(rng.standard_normal())) if t in self.cpi_spread
                              else c for t, c in self.cpi.items()}
        return replace(self, **changes)

    def uncertain(self, networks=None) -> bool:
        """True if sampling can move a prediction: recorded spreads, or a part with `sample`."""
        nets = [e for n, e in self.networks.items() if networks is None or n in networks]
        parts = [getattr(self, f.name) for f in fields(self) if f.name not in ("networks", "noise")]
        return bool(any(e.uncertain for e in nets) or any(s.samples for s in self.cpi_spread.values())
                    or any(callable(getattr(v, "sample", None)) for v in parts))

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
