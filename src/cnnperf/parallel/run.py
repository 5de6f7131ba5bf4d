"""A whole training run: epochs, checkpoints, resume, time limit and clean stop."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.checkpoint import Checkpoint, save_checkpoint
from cnnperf.parallel.results import EpochResult, TrainResult
from cnnperf.parallel.trainer import Dataset, Progress, TrainConfig, Trainer


def available_cores() -> int:
    """Cores this process may run on (affinity mask), the default thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def config_from_checkpoint(ckpt: Checkpoint, spec: NetworkSpec, epochs: int, threads: int) -> TrainConfig:
    """The resumed run keeps the checkpoint's seed, learning rate, decay and shuffling."""
    if ckpt.notation != spec.notation() or ckpt.activation != spec.activation:
        raise CnnperfError(f"checkpoint is for network {ckpt.notation} ({ckpt.activation}), not {spec.notation()} "
                           f"({spec.activation}); pass the same --net as the run that wrote it")
    if ckpt.epochs_done >= epochs:
        raise CnnperfError(f"checkpoint has {ckpt.epochs_done} epochs done already; ask for --epochs > {ckpt.epochs_done}")
    c = ckpt.run["config"]
    return TrainConfig(epochs=epochs, lr=c["lr"], lr_decay=c["lr_decay"], seed=c["seed"], threads=threads,
                       shuffle=c["shuffle"])


def train(spec: NetworkSpec, data: Dataset, config: TrainConfig, *, progress: Progress | None = None,
          load_seconds: float = 0.0, checkpoint: str | Path | None = None, resume: Checkpoint | None = None,
          max_minutes: float | None = None, stop: threading.Event | None = None,
          engine=None) -> tuple[TrainResult, np.ndarray]:
    """Run epochs `resume.epochs_done + 1 .. config.epochs`. Returns the result and the final weights.

    Stops cleanly after the running epoch once `max_minutes` have passed, and after the
    running phase when `stop` is set (the unfinished epoch is dropped from the result).
    """
    t_start = time.perf_counter()
    done: list[EpochResult] = []
    if resume is not None:
        done = [EpochResult.from_json(e) for e in resume.run["epochs"]]
    trainer = Trainer(spec, config, None if resume is None else resume.weights.copy(), engine)
    stopped = "completed"
    try:
        for epoch in range(len(done) + 1, config.epochs + 1):
            result = trainer.run_epoch(epoch, data, progress, stop)
            if result is None:
                stopped = "interrupted"
                break
            done.append(result)
            if checkpoint is not None:
                save_checkpoint(checkpoint, _checkpoint(spec, config, trainer.weights, done))
            if max_minutes is not None and epoch < config.epochs and time.perf_counter() - t_start >= max_minutes * 60:
                stopped = "max-minutes"
                break
    finally:
        trainer.close()
    result = TrainResult(spec.name, spec.notation(), config.threads, config.seed, trainer.prep_seconds,
                         trainer.compile_seconds, load_seconds, tuple(done), available_cores(), stopped,
                         0 if resume is None else resume.epochs_done)
    return result, trainer.weights


def _checkpoint(spec: NetworkSpec, config: TrainConfig, weights: np.ndarray, done: list[EpochResult]) -> Checkpoint:
    run = {"config": {"lr": config.lr, "lr_decay": config.lr_decay, "seed": config.seed, "shuffle": config.shuffle,
                      "threads": config.threads},
           "epochs": [e.to_json() for e in done]}
    return Checkpoint(spec.notation(), spec.activation, len(done), weights, run)
