"""The model contract: a strategy is one module implementing `Strategy`.

`predict(net, profile, p, i, it, ep) -> Prediction` returns seconds of whole training runs
and the named terms `TERMS` (`prep`, `train`, `validate`, `test`, `mem`) that add up to it,
vectorised over NumPy arrays of p / i / it / ep (they broadcast). A strategy fitted to whole
runs that cannot separate the phases (c) reports its value in `train` and 0 in the others,
and says so in `Prediction.notes`. The distributed model adds a term `comm`.
Prediction intervals are generic (`cnnperf.models.intervals`): the strategy's own `predict`
re-run on profiles drawn from the stored uncertainty; they fill `seconds_low`, `seconds_high`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile, NetworkParams

TERMS = ("prep", "train", "validate", "test", "mem")


@runtime_checkable
class Strategy(Protocol):
    """One prediction strategy (paper Tables V, VI and cnnperf's extensions)."""

    NAME: str  # the letter users type: --strategy NAME
    LABEL: str  # "(b) measured times"
    EQUATION: str

    def requires(self, net, profile: HardwareProfile) -> str | None:
        """None if the profile can predict `net` with this strategy, else what to do about it."""

    def predict(self, net, profile: HardwareProfile, p, i, it, ep) -> Prediction:
        """Seconds and terms; `net` is a NetworkSpec, a name, or the profile's NetworkParams."""

    def substitute(self, net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
        """The equation with the numbers of prediction row `j` substituted, and its total."""


@dataclass(frozen=True)
class Prediction:
    """Predicted seconds of whole training runs and the named terms that add up to it."""

    strategy: str
    net: str
    p: np.ndarray
    images: np.ndarray
    test_images: np.ndarray
    epochs: np.ndarray
    terms: dict[str, np.ndarray]  # seconds per term, each broadcast to the same shape
    cpi: np.ndarray
    threads_per_core: np.ndarray
    equation: str = ""
    time_slice: np.ndarray | float = 1.0
    notes: tuple[str, ...] = field(default=())
    inputs: dict = field(default_factory=dict)  # strategy-specific values that `substitute` shows
    seconds_low: np.ndarray | None = None  # the prediction interval at `interval_level` (None: none)
    seconds_high: np.ndarray | None = None
    interval_level: float | None = None
    flags: tuple[str, ...] = ()  # per row (rows() order): "" or why the value must not be trusted

    @property
    def seconds(self) -> np.ndarray:
        return sum(self.terms[k] for k in self.terms)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.broadcast(self.p, self.images, self.test_images, self.epochs, self.seconds).shape

    def column(self, values) -> np.ndarray:
        """`values` broadcast to the prediction's shape, flattened (row order of `rows`)."""
        return np.broadcast_to(values, self.shape).ravel()

    def rows(self) -> list[dict]:
        """One dict per prediction (flattened), JSON-ready."""
        b = {k: self.column(v) for k, v in
             {"p": self.p, "images": self.images, "test_images": self.test_images, "epochs": self.epochs,
              "seconds": self.seconds, "cpi": self.cpi, "tpc": self.threads_per_core,
              "slice": self.time_slice}.items()}
        terms = {k: self.column(v) for k, v in self.terms.items()}
        lo, hi = (None if v is None else self.column(v) for v in (self.seconds_low, self.seconds_high))
        return [{"net": self.net, "strategy": self.strategy, "p": int(b["p"][j]), "images": int(b["images"][j]),
                 "test_images": int(b["test_images"][j]), "epochs": int(b["epochs"][j]),
                 "seconds": float(b["seconds"][j]),
                 "seconds_low": None if lo is None else float(lo[j]),
                 "seconds_high": None if hi is None else float(hi[j]),
                 "interval_level": self.interval_level, "flag": self.flag(j),
                 "terms": {**{k: float(v[j]) for k, v in terms.items()}, "cpi": float(b["cpi"][j]),
                           "threads_per_core": int(b["tpc"][j]), "time_slice": float(b["slice"][j])}}
                for j in range(len(b["p"]))]

    def flag(self, j: int) -> str | None:
        """Why row j must not be trusted as it stands (extrapolated, implausible), or None."""
        return (self.flags[j] or None) if j < len(self.flags) else None

    def value(self, name: str, j: int = 0) -> float:
        """Row j of p, images, test_images, epochs, cpi or time_slice as a float."""
        source = {"p": self.p, "images": self.images, "test_images": self.test_images, "epochs": self.epochs,
                  "cpi": self.cpi, "time_slice": self.time_slice, "seconds": self.seconds}[name]
        return float(self.column(source)[j])


def as_arrays(p, i, it, ep):
    arrays = [np.asarray(v, dtype=float) for v in (p, i, it, ep)]
    if any(np.any(a <= 0) for a in arrays[:2] + arrays[3:]) or np.any(arrays[2] < 0):
        raise CnnperfError("threads, images and epochs must be positive (test images >= 0)")
    return arrays


def params_of(net, profile: HardwareProfile) -> NetworkParams:
    """The profile's entry for `net` (a NetworkParams is taken as it is)."""
    return net if isinstance(net, NetworkParams) else profile.params_for(net)


def missing_entry(net, profile: HardwareProfile) -> str | None:
    """The message of a profile without an entry for `net`, or None."""
    try:
        params_of(net, profile)
    except CnnperfError as exc:
        return str(exc)
    return None


def contention_term(net: NetworkParams, profile: HardwareProfile, p, i, ep) -> np.ndarray:
    """Tmem = MemoryContention(p) * i * ep / p (paper Tables V and VI); with time-slicing
    stretched like the computation (see HardwareProfile.contention_threads)."""
    return net.contention(profile.contention_threads(net.contention, p)) * i * ep / p * profile.time_slice_at(p)


def contention_at(net: NetworkParams, profile: HardwareProfile, p: float) -> float:
    """MemoryContention read at thread count p as the models use it (seconds per image)."""
    return float(net.contention(profile.contention_threads(net.contention, p)))


def slowdown_text(pred: Prediction, j: int) -> tuple[str, str]:
    """('CPI' or 'CPI * slice', ' * slice' or '') as substituted into the equations."""
    cpi, sl = pred.value("cpi", j), pred.value("time_slice", j)
    if sl != 1.0:  # time-slicing profiles stretch compute and contention alike (HardwareProfile.time_slice_at)
        return f"{cpi:g} * {sl:.4g}", f" * {sl:.4g}"
    return f"{cpi:g}", ""


def total_text(pred: Prediction, j: int) -> str:
    total = pred.value("seconds", j)
    return f"  = {total:,.1f} s = {total / 60:,.2f} min"
