"""The CHAOS trainer (paper Fig. 4, NOTES.md "Training").

One shared weight store; one network instance (engine workspace) per worker, created
sequentially; each phase (training, validation, test) splits its images into `threads`
static contiguous chunks; workers run GIL-free engine kernels in Python threads and write
each layer's update into the shared weights without locks. The end of a phase is an
implicit barrier. With one thread the worker runs in the calling thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from cnnperf.errors import CnnperfError, DivergenceError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.divergence import BlockMonitor
from cnnperf.parallel.memory import MemoryEstimate, check_memory, estimate_memory
from cnnperf.parallel.pool import WORKER_STACK_BYTES, WorkerPool
from cnnperf.parallel.results import PhaseResult

BLOCK_IMAGES = 256  # images per kernel call: progress and stop granularity, negligible overhead


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    lr: float = 0.001
    lr_decay: float = 0.993  # per epoch (Cireşan's default)
    seed: int = 0
    threads: int = 1
    shuffle: bool = False  # seeded per-epoch permutation of the training images

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based `epoch`: lr * decay^(epoch-1)."""
        return self.lr * self.lr_decay ** (epoch - 1)


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


def epoch_order(n_images: int, seed: int, epoch: int) -> np.ndarray:
    """Seeded training order of one epoch (depends only on seed and epoch, so resume repeats it)."""
    return np.random.default_rng([seed, epoch]).permutation(n_images)


class Trainer:
    """Owns the shared weights and the per-worker network instances of one run.

    `compiling`, if given, is a context-manager factory entered around loading (on a cold cache:
    compiling) the kernels, e.g. to show a spinner; it is outside every timed region."""

    def __init__(self, spec: NetworkSpec, config: TrainConfig, weights: np.ndarray | None = None, engine=None, *,
                 compiling: Callable[[], AbstractContextManager] | None = None):
        self.spec, self.config = spec, config
        check_memory(estimate_memory(spec, config.threads, 0))  # from the spec's integers, before any array
        with compiling() if compiling is not None else contextlib.nullcontext():
            t0 = time.perf_counter()
            if engine is None:
                from cnnperf import engine  # lazy: loads or compiles the kernels
            self.engine = engine
            sizes = self._warm_up()
            self.compile_seconds = time.perf_counter() - t0
        check_memory(MemoryEstimate(sizes[0], sizes[1] + (WORKER_STACK_BYTES if config.threads > 1 else 0),
                                    config.threads, 0))  # the engine's real sizes
        t0 = time.perf_counter()
        self.layout = engine.build_layout(spec)
        self.weights = engine.init_weights(self.layout, config.seed)  # aligned shared store
        if weights is not None:
            if weights.shape != self.weights.shape:
                raise CnnperfError(f"the given weights hold {weights.size:,} values but network {spec.notation()} "
                                   f"needs {self.weights.size:,}; resume from a checkpoint written for this network")
            self.weights[:] = weights
        self.workspaces = [engine.new_workspace(self.layout, worker=(k, config.threads))  # sequential
                           for k in range(config.threads)]
        self.prep_seconds = time.perf_counter() - t0  # grows by the per-epoch bookkeeping
        self._pool = WorkerPool(config.threads) if config.threads > 1 else None
        self._shuffled: np.ndarray | None = None
        s = spec.shapes[0]
        self.input_shape = (s.size, s.size) if s.maps == 1 else (s.maps, s.size, s.size)

    def _warm_up(self) -> tuple[int, int]:
        """Compile (or load from the cache) every kernel outside the timed region. Returns the bytes
        of the shared weights and of one network instance."""
        eng = self.engine
        layout = eng.build_layout(self.spec)
        eng.compile_kernels(layout)
        w, ws = eng.init_weights(layout, 0), eng.new_workspace(layout)
        s = self.spec.shapes[0]
        x = np.zeros((1, s.size, s.size) if s.maps == 1 else (1, s.maps, s.size, s.size), dtype=np.float32)
        y = np.zeros(1, dtype=np.int64)
        eng.train_images(layout, w, ws, x, y, 0, 1, 0.0)
        eng.evaluate_images(layout, w, ws, x, y, 0, 1)
        return _nbytes(w), _nbytes(ws)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def _worker(self, k, phase, images, labels, lo, hi, lr, tick, monitor) -> tuple[int, int, float, float]:
        ws, eng, layout, weights = self.workspaces[k], self.engine, self.layout, self.weights
        cancelled = self._pool.cancelled if self._pool is not None else None
        images_done, errors, loss, t0 = 0, 0, 0.0, time.perf_counter()
        for start in range(lo, hi, BLOCK_IMAGES):
            if (cancelled is not None and cancelled.is_set()) or (monitor is not None and monitor.halted):
                break
            stop = min(hi, start + BLOCK_IMAGES)
            if phase == "train":
                e, l = eng.train_images(layout, weights, ws, images, labels, start, stop, lr)
            else:
                e, l = eng.evaluate_images(layout, weights, ws, images, labels, start, stop)
            images_done, errors, loss = images_done + stop - start, errors + e, loss + l
            tick(stop - start)
            if monitor is not None:
                monitor.observe(k, stop - start, l)
        return images_done, errors, loss, time.perf_counter() - t0

    def run_phase(self, phase: str, images, labels, lr: float, tick=lambda n: None,
                  monitor: BlockMonitor | None = None) -> PhaseResult:
        """One phase over `images` split into static chunks, one per worker. With a `monitor`, the
        workers stop early once it has seen a diverged or non-finite block (`monitor.halted`)."""
        if tuple(images.shape[1:]) != self.input_shape:
            given = "x".join(map(str, (1, *images.shape[1:]) if images.ndim == 3 else images.shape[1:]))
            raise CnnperfError(f"the images are {given} but network {self.spec.name} has the input layer "
                               f"{self.spec.notation().split('-')[0]}; use a network whose input is {given}")
        bounds = chunk_bounds(len(images), self.config.threads)
        t0 = time.perf_counter()
        if self._pool is None:
            results = [self._worker(0, phase, images, labels, *bounds[0], lr, tick, monitor)]
        else:
            results = self._pool.run(lambda k: self._worker(k, phase, images, labels, *bounds[k], lr, tick, monitor))
        seconds = time.perf_counter() - t0
        return PhaseResult(seconds, sum(r[0] for r in results), sum(r[1] for r in results),
                           float(sum(r[2] for r in results)), tuple(r[3] for r in results))

    def training_set(self, data: Dataset, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The training images in this epoch's order (per-epoch bookkeeping, counted in prep)."""
        if not self.config.shuffle:
            return data.train_images, data.train_labels
        t0 = time.perf_counter()
        order = epoch_order(len(data.train_images), self.config.seed, epoch)
        if self._shuffled is None:
            self._shuffled = np.empty_like(data.train_images)
        np.take(data.train_images, order, axis=0, out=self._shuffled)
        labels = data.train_labels[order]
        self.prep_seconds += time.perf_counter() - t0
        return self._shuffled, labels

    def check_finite(self, epoch: int, phase: str, result: PhaseResult) -> None:
        """NaN/inf detection: a non-finite loss or weight raises DivergenceError naming the layer."""
        if phase == "train" or not np.isfinite(result.loss_sum):
            for s in self.spec.shapes:
                params = self.engine.layer_params(self.layout, self.weights, s.index) if s.weights else ()
                if not all(np.isfinite(a).all() for a in params):
                    raise DivergenceError(f"training diverged in epoch {epoch}, {phase} phase: non-finite weights in "
                                          f"layer {s.index} ({s.kind})")
        if not np.isfinite(result.loss_sum):
            out = self.spec.shapes[-1]
            raise DivergenceError(f"training diverged in epoch {epoch}, {phase} phase: non-finite loss at layer "
                                  f"{out.index} (output)")


def _nbytes(obj) -> int:
    """Bytes of the arrays held by an engine object (a workspace dataclass, a dict, an array)."""
    if isinstance(obj, np.ndarray):
        return int(obj.base.nbytes if isinstance(obj.base, np.ndarray) else obj.nbytes)
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    fields = getattr(obj, "__dataclass_fields__", None)
    names = list(fields) if fields is not None else list(vars(obj)) if hasattr(obj, "__dict__") else []
    return sum(_nbytes(getattr(obj, name)) for name in names)
