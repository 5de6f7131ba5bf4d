"""Results of a training run: per-phase, per-epoch and per-run frozen records (JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES = ("train", "validation", "test")


@dataclass(frozen=True)
class PhaseResult:
    """One timed phase of one epoch: wall seconds, images, misclassified images, summed loss."""

    seconds: float
    images: int
    errors: int
    loss_sum: float
    worker_seconds: tuple[float, ...] = ()  # busy time of each worker in this phase

    @property
    def error_rate(self) -> float:
        return self.errors / self.images if self.images else 0.0

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.images if self.images else 0.0

    def to_json(self) -> dict:
        doc = {
            "seconds": self.seconds,
            "images": self.images,
            "error_rate": self.error_rate,
            "errors": self.errors,
            "mean_loss": self.mean_loss,
        }
        if self.worker_seconds:
            doc["slowest_worker_seconds"] = max(self.worker_seconds)
            doc["fastest_worker_seconds"] = min(self.worker_seconds)
        return doc


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based
    lr: float
    train: PhaseResult
    validation: PhaseResult
    test: PhaseResult

    @property
    def seconds(self) -> float:
        return self.train.seconds + self.validation.seconds + self.test.seconds

    def to_json(self) -> dict:
        return {
            "epoch": self.epoch,
            "lr": self.lr,
            "seconds": self.seconds,
            **{name: getattr(self, name).to_json() for name in PHASES},
        }


@dataclass(frozen=True)
class TrainResult:
    """A whole run. `prep_seconds` is the sequential preparation (paper TPrep), excluded from phases."""

    net: str
    notation: str
    threads: int
    seed: int
    prep_seconds: float
    compile_seconds: float
    load_seconds: float
    epochs: tuple[EpochResult, ...] = field(default_factory=tuple)

    @property
    def total_seconds(self) -> float:
        return self.prep_seconds + sum(e.seconds for e in self.epochs)

    def to_json(self) -> dict:
        return {
            "net": self.net,
            "notation": self.notation,
            "threads": self.threads,
            "seed": self.seed,
            "prep_seconds": self.prep_seconds,
            "compile_seconds": self.compile_seconds,
            "load_seconds": self.load_seconds,
            "total_seconds": self.total_seconds,
            "epochs": [e.to_json() for e in self.epochs],
        }
