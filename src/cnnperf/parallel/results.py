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
    comm_seconds: float = 0.0  # MPI weight averaging inside this phase (slowest rank)

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
            "comm_seconds": self.comm_seconds,
        }
        if self.worker_seconds:
            doc["slowest_worker_seconds"] = max(self.worker_seconds)
            doc["fastest_worker_seconds"] = min(self.worker_seconds)
            doc["worker_seconds"] = list(self.worker_seconds)
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> PhaseResult:
        return cls(doc["seconds"], doc["images"], doc["errors"], doc["mean_loss"] * doc["images"],
                   tuple(doc.get("worker_seconds", ())), doc.get("comm_seconds", 0.0))


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

    @classmethod
    def from_json(cls, doc: dict) -> EpochResult:
        return cls(doc["epoch"], doc["lr"], *(PhaseResult.from_json(doc[name]) for name in PHASES))


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
    cores: int = 0  # cores this process may use
    stopped: str = "completed"  # or "max-minutes", "interrupted"
    resumed_from_epoch: int = 0
    ranks: int = 1  # MPI ranks (processes), each with `threads` workers
    sync_every: int | None = None  # training images per rank between weight averages; None: once per epoch

    @property
    def oversubscribed(self) -> bool:
        return bool(self.cores) and self.threads > self.cores

    @property
    def total_seconds(self) -> float:
        return self.prep_seconds + sum(e.seconds for e in self.epochs)

    def to_json(self) -> dict:
        return {
            "net": self.net,
            "notation": self.notation,
            "threads": self.threads,
            "cores": self.cores,
            "oversubscribed": self.oversubscribed,
            "seed": self.seed,
            "prep_seconds": self.prep_seconds,
            "compile_seconds": self.compile_seconds,
            "load_seconds": self.load_seconds,
            "total_seconds": self.total_seconds,
            "stopped": self.stopped,
            "resumed_from_epoch": self.resumed_from_epoch,
            "ranks": self.ranks,
            "sync_every": self.sync_every if self.sync_every is not None else "epoch",
            "epochs": [e.to_json() for e in self.epochs],
        }
