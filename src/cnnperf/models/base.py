"""The model contract: `predict(net, profile, p, i, it, ep) -> Prediction` with named terms.

Every strategy is a small plug-in returning seconds and its terms `prep`, `train`,
`validate`, `test`, `mem` (plus `cpi` and threads per core), vectorised over NumPy arrays
of p / i / it / ep (they broadcast).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnperf.hardware import HardwareProfile, NetworkParams

TERMS = ("prep", "train", "validate", "test", "mem")


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

    @property
    def seconds(self) -> np.ndarray:
        return sum(self.terms[k] for k in self.terms)

    def rows(self) -> list[dict]:
        """One dict per prediction (flattened), JSON-ready."""
        shape = np.broadcast(self.p, self.images, self.test_images, self.epochs, self.seconds).shape
        b = {k: np.broadcast_to(v, shape).ravel() for k, v in
             {"p": self.p, "images": self.images, "test_images": self.test_images, "epochs": self.epochs,
              "seconds": self.seconds, "cpi": self.cpi, "tpc": self.threads_per_core,
              "slice": self.time_slice}.items()}
        terms = {k: np.broadcast_to(v, shape).ravel() for k, v in self.terms.items()}
        return [{"net": self.net, "strategy": self.strategy, "p": int(b["p"][j]), "images": int(b["images"][j]),
                 "test_images": int(b["test_images"][j]), "epochs": int(b["epochs"][j]),
                 "seconds": float(b["seconds"][j]),
                 "terms": {**{k: float(v[j]) for k, v in terms.items()}, "cpi": float(b["cpi"][j]),
                           "threads_per_core": int(b["tpc"][j]), "time_slice": float(b["slice"][j])}}
                for j in range(len(b["p"]))]


def as_arrays(p, i, it, ep):
    arrays = [np.asarray(v, dtype=float) for v in (p, i, it, ep)]
    if any(np.any(a <= 0) for a in arrays[:2] + arrays[3:]) or np.any(arrays[2] < 0):
        from cnnperf.errors import CnnperfError
        raise CnnperfError("threads, images and epochs must be positive (test images >= 0)")
    return arrays


def contention_term(net: NetworkParams, profile: HardwareProfile, p, i, ep) -> np.ndarray:
    """Tmem = MemoryContention(p) * i * ep / p (paper Tables V and VI); with time-slicing
    stretched like the computation (see HardwareProfile.contention_threads)."""
    return net.contention(profile.contention_threads(net.contention, p)) * i * ep / p * profile.time_slice_at(p)
