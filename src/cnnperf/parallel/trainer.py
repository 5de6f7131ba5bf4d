"""The training loop of paper Fig. 4: every epoch a training, a validation and a test phase.

Each phase splits its images into `threads` static contiguous chunks; every worker owns a
network instance (engine workspace) and all share one weight store, updated without locks
(CHAOS, NOTES.md "Training"). With one thread the worker runs in the calling thread.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cnnperf.networks import NetworkSpec
from cnnperf.parallel.results import EpochResult, PhaseResult, TrainResult

BLOCK_IMAGES = 256  # images per kernel call: progress granularity, negligible overhead


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    lr: float = 0.001
    lr_decay: float = 0.993  # per epoch (Cireşan's default)
    seed: int = 0
    threads: int = 1


@dataclass(frozen=True)
class Dataset:
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


# progress(phase, epoch, images_done, images_total)
Progress = Callable[[str, int, int, int], None]


def chunk_bounds(n_images: int, threads: int) -> list[tuple[int, int]]:
    """Static contiguous chunks, sizes differing by at most one image."""
    return [(k * n_images // threads, (k + 1) * n_images // threads) for k in range(threads)]


class Trainer:
    """Owns the shared weights and the per-worker network instances of one run."""

    def __init__(self, spec: NetworkSpec, config: TrainConfig, weights: np.ndarray | None = None):
        from cnnperf import engine  # lazy: compiles/loads kernels

        self.engine, self.spec, self.config = engine, spec, config
        t0 = time.perf_counter()
        self.compile_seconds = self._warm_up()
        t1 = time.perf_counter()
        self.layout = engine.build_layout(spec)
        self.weights = engine.init_weights(self.layout, config.seed) if weights is None else weights
        self.workspaces = [engine.new_workspace(self.layout) for _ in range(config.threads)]  # sequential, as the paper
        self.prep_seconds = time.perf_counter() - t1
        self._pool = ThreadPoolExecutor(config.threads) if config.threads > 1 else None

    def _warm_up(self) -> float:
        """Compile (or load from cache) the kernels outside the timed region. Returns seconds."""
        t0 = time.perf_counter()
        layout = self.engine.build_layout(self.spec)
        w = self.engine.init_weights(layout, 0)
        ws = self.engine.new_workspace(layout)
        x = np.zeros((1, *self._input_shape()), dtype=np.float32)
        y = np.zeros(1, dtype=np.int64)
        self.engine.train_images(layout, w, ws, x, y, 0, 1, 0.0)
        self.engine.evaluate_images(layout, w, ws, x, y, 0, 1)
        return time.perf_counter() - t0

    def _input_shape(self) -> tuple[int, ...]:
        s = self.spec.shapes[0]
        return (s.size, s.size) if s.maps == 1 else (s.maps, s.size, s.size)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _worker(self, k, phase, images, labels, lo, hi, lr, tick) -> tuple[int, float, float]:
        ws, eng = self.workspaces[k], self.engine
        errors, loss, t0 = 0, 0.0, time.perf_counter()
        for start in range(lo, hi, BLOCK_IMAGES):
            stop = min(hi, start + BLOCK_IMAGES)
            if phase == "train":
                e, l = eng.train_images(self.layout, self.weights, ws, images, labels, start, stop, lr)
            else:
                e, l = eng.evaluate_images(self.layout, self.weights, ws, images, labels, start, stop)
            errors, loss = errors + e, loss + l
            tick(stop - start)
        return errors, loss, time.perf_counter() - t0

    def run_phase(self, phase: str, images, labels, lr: float, tick=lambda n: None) -> PhaseResult:
        bounds = chunk_bounds(len(images), self.config.threads)
        t0 = time.perf_counter()
        if self._pool is None:
            results = [self._worker(0, phase, images, labels, *bounds[0], lr, tick)]
        else:
            futures = [self._pool.submit(self._worker, k, phase, images, labels, lo, hi, lr, tick)
                       for k, (lo, hi) in enumerate(bounds)]
            results = [f.result() for f in futures]  # implicit barrier
        seconds = time.perf_counter() - t0
        return PhaseResult(seconds, len(images), sum(r[0] for r in results), float(sum(r[1] for r in results)),
                           tuple(r[2] for r in results))

    def run_epoch(self, epoch: int, data: Dataset, progress: Progress | None = None) -> EpochResult:
        """Epoch `epoch` (1-based): learning rate lr * decay^(epoch-1)."""
        lr = self.config.lr * self.config.lr_decay ** (epoch - 1)
        phases = {}
        for phase, images, labels in (("train", data.train_images, data.train_labels),
                                      ("validation", data.train_images, data.train_labels),
                                      ("test", data.test_images, data.test_labels)):
            tick = _ticker(progress, phase, epoch, len(images))
            phases[phase] = self.run_phase(phase, images, labels, lr, tick)
        return EpochResult(epoch, lr, phases["train"], phases["validation"], phases["test"])


def _ticker(progress: Progress | None, phase: str, epoch: int, total: int):
    if progress is None:
        return lambda n: None
    done = [0]

    def tick(n: int) -> None:
        done[0] += n  # list append/add under the GIL; progress only
        progress(phase, epoch, done[0], total)

    progress(phase, epoch, 0, total)
    return tick


def train(spec: NetworkSpec, data: Dataset, config: TrainConfig, progress: Progress | None = None,
          load_seconds: float = 0.0) -> tuple[TrainResult, np.ndarray]:
    """Run `config.epochs` epochs. Returns the result record and the final weight store."""
    trainer = Trainer(spec, config)
    try:
        epochs = tuple(trainer.run_epoch(e, data, progress) for e in range(1, config.epochs + 1))
    finally:
        trainer.close()
    result = TrainResult(spec.name, spec.notation(), config.threads, config.seed, trainer.prep_seconds,
                         trainer.compile_seconds, load_seconds, epochs)
    return result, trainer.weights
