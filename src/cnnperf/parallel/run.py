"""A whole training run: the one epoch loop (phases, NaN/inf and divergence checks, checkpoints,
progress, time limit and clean stop), shared by one process and by MPI ranks.

The loop drives a `PhaseRunner`: `LocalRunner` (one process's CHAOS trainer) or
`parallel.distributed.DistributedTrainer` (one rank; its `synchronise` and `agree` are collective,
so every rank takes every decision at the same point).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from cnnperf.errors import CnnperfError, DivergenceError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.checkpoint import Checkpoint, save_checkpoint
from cnnperf.parallel.divergence import BlockMonitor, DivergenceRule
from cnnperf.parallel.results import EpochResult, PhaseResult, TrainResult
from cnnperf.parallel.trainer import Dataset, Progress, TrainConfig, Trainer


class PhaseRunner(Protocol):
    root: bool  # writes checkpoints and reports progress
    weights: np.ndarray

    def training_set(self, data: Dataset, epoch: int) -> tuple[np.ndarray, np.ndarray]: ...

    def phase(self, name: str, images, labels, lr: float, tick, monitor: BlockMonitor | None) -> PhaseResult: ...

    def check_finite(self, epoch: int, phase: str, result: PhaseResult) -> None: ...

    def synchronise(self, flag: bool) -> bool:
        """True if `flag` is set anywhere (every process gets the same answer)."""

    def agree(self, verdict: str | None) -> str | None:
        """The first divergence verdict of any process, or None."""


class LocalRunner:
    """The phase runner of one process: its CHAOS trainer; decisions need no communication."""

    root = True

    def __init__(self, trainer: Trainer):
        self.trainer = trainer

    @property
    def weights(self) -> np.ndarray:
        return self.trainer.weights

    def training_set(self, data: Dataset, epoch: int):
        return self.trainer.training_set(data, epoch)

    def phase(self, name, images, labels, lr, tick, monitor):
        return self.trainer.run_phase(name, images, labels, lr, tick, monitor)

    def check_finite(self, epoch, phase, result):
        self.trainer.check_finite(epoch, phase, result)

    def synchronise(self, flag: bool) -> bool:
        return flag

    def agree(self, verdict: str | None) -> str | None:
        return verdict


def run_epochs(runner: PhaseRunner, spec: NetworkSpec, config: TrainConfig, data: Dataset, done: list[EpochResult], *,
               progress: Progress | None = None, checkpoint: str | Path | None = None,
               max_minutes: float | None = None, stop: threading.Event | None = None, lr_factor: float = 1.0,
               divergence: DivergenceRule | None = None) -> str:
    """Run epochs `len(done) + 1 .. config.epochs`, appending to `done`. Returns how the run ended:
    "completed", "max-minutes" (after the running epoch) or "interrupted" (`stop` set: after the
    running phase; the unfinished epoch is dropped). Raises DivergenceError (exit code 3)."""
    t_start = time.perf_counter()
    divergence = divergence or DivergenceRule()
    monitor = BlockMonitor(divergence, spec.n_classes, config.threads)
    for epoch in range(len(done) + 1, config.epochs + 1):
        lr = config.lr_at(epoch) * lr_factor
        train_x, train_y = runner.training_set(data, epoch)
        phases: dict[str, PhaseResult] = {}
        for name, images, labels in (("train", train_x, train_y), ("validation", train_x, train_y),
                                     ("test", data.test_images, data.test_labels)):
            tick = _ticker(progress if runner.root else None, name, epoch, len(images))
            phases[name] = result = runner.phase(name, images, labels, lr, tick, monitor if name == "train" else None)
            runner.check_finite(epoch, name, result)
            if name == "train":
                previous = done[-1].train.mean_loss if done else None
                verdict = runner.agree(monitor.verdict or divergence.growth_verdict(previous, result.mean_loss,
                                                                                     spec.n_classes))
                if verdict is not None:
                    raise DivergenceError(f"training diverged in epoch {epoch}, train phase: {verdict}; "
                                          "lower --lr or turn the rule off with --no-divergence-check")
            if runner.synchronise(stop is not None and stop.is_set()):
                return "interrupted"
        done.append(EpochResult(epoch, lr, phases["train"], phases["validation"], phases["test"]))
        if checkpoint is not None and runner.root:
            save_checkpoint(checkpoint, _checkpoint(spec, config, runner.weights, done))
        if max_minutes is not None and epoch < config.epochs \
                and runner.synchronise(time.perf_counter() - t_start >= max_minutes * 60):
            return "max-minutes"
    return "completed"


def config_from_checkpoint(ckpt: Checkpoint, spec: NetworkSpec, epochs: int, threads: int) -> TrainConfig:
    """The resumed run keeps the checkpoint's seed, learning rate, decay and shuffling."""
    if ckpt.notation != spec.notation() or ckpt.activation != spec.activation:
        raise CnnperfError(f"checkpoint is for network {ckpt.notation} ({ckpt.activation}), not {spec.notation()} "
                           f"({spec.activation}); pass the same --net as the run that wrote it")
    if ckpt.epochs_done >= epochs:
        raise CnnperfError(f"checkpoint has {ckpt.epochs_done} epochs done already; "
                           f"ask for --epochs > {ckpt.epochs_done}")
    c = ckpt.run["config"]
    return TrainConfig(epochs=epochs, lr=c["lr"], lr_decay=c["lr_decay"], seed=c["seed"], threads=threads,
                       shuffle=c["shuffle"])


def resumed_epochs(resume: Checkpoint | None) -> list[EpochResult]:
    return [] if resume is None else [EpochResult.from_json(e) for e in resume.run["epochs"]]


def train(spec: NetworkSpec, data: Dataset, config: TrainConfig, *, progress: Progress | None = None,
          load_seconds: float = 0.0, checkpoint: str | Path | None = None, resume: Checkpoint | None = None,
          max_minutes: float | None = None, stop: threading.Event | None = None, engine=None, cores: int = 0,
          divergence: DivergenceRule | None = None, compiling=None) -> tuple[TrainResult, np.ndarray]:
    """Run epochs `resume.epochs_done + 1 .. config.epochs` in this process (see `run_epochs`).
    `cores`: the cores this process may use (recorded; 0 = unknown). Returns the result and the final weights."""
    done = resumed_epochs(resume)
    trainer = Trainer(spec, config, None if resume is None else resume.weights.copy(), engine, compiling=compiling)
    try:
        stopped = run_epochs(LocalRunner(trainer), spec, config, data, done, progress=progress, checkpoint=checkpoint,
                             max_minutes=max_minutes, stop=stop, divergence=divergence)
    finally:
        trainer.close()
    result = TrainResult(spec.name, spec.notation(), config.threads, config.seed, trainer.prep_seconds,
                         trainer.compile_seconds, load_seconds, tuple(done), cores, stopped,
                         0 if resume is None else resume.epochs_done)
    return result, trainer.weights


def _checkpoint(spec: NetworkSpec, config: TrainConfig, weights: np.ndarray, done: list[EpochResult]) -> Checkpoint:
    run = {"config": {"lr": config.lr, "lr_decay": config.lr_decay, "seed": config.seed, "shuffle": config.shuffle,
                      "threads": config.threads},
           "epochs": [e.to_json() for e in done]}
    return Checkpoint(spec.notation(), spec.activation, len(done), weights, run)


def _ticker(progress: Progress | None, phase: str, epoch: int, total: int):
    if progress is None:
        return lambda n: None
    done, lock = [0], threading.Lock()

    def tick(n: int) -> None:
        with lock:
            done[0] += n
            progress(phase, epoch, done[0], total)

    progress(phase, epoch, 0, total)
    return tick
