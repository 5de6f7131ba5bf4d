"""A whole training run as a library call: `run_training(TrainRequest(...)) -> TrainResult`.

Checks the request (one-line CnnperfError, before any work), refuses a run that does not fit in
memory, loads MNIST (outside every timed region), resumes from a checkpoint and trains in this
process or, started by mpiexec, as one rank of a distributed run (every rank returns the same
result; rank 0 is the one to report it). No argparse, no printing: the CLI is a thin layer.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.divergence import DivergenceRule
from cnnperf.parallel.results import TrainResult
from cnnperf.parallel.trainer import Dataset, Progress, TrainConfig

FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise CnnperfError(message)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class TrainRequest:
    """What to train and how. `threads` workers share one weight store (per MPI rank); `cores` is
    the number of cores this process may use (recorded in the result; 0 = unknown).
    `train_images`/`test_images`: the first N of each set (None: all). `sync_every`: under mpiexec,
    training images per rank between weight averages (None: once per epoch); `lr_scaling`: every
    rank steps with R x `lr`. `resume` continues the checkpoint's run (its seed, lr, decay, shuffle)."""

    spec: NetworkSpec
    threads: int
    cores: int = 0
    epochs: int = 1
    train_images: int | None = None
    test_images: int | None = None
    data_dir: str | Path | None = None
    seed: int = 0
    lr: float = 0.001
    lr_decay: float = 0.993
    shuffle: bool = False
    checkpoint: str | Path | None = None
    resume: str | Path | None = None
    max_minutes: float | None = None
    sync_every: int | None = None
    lr_scaling: bool = True
    divergence: DivergenceRule = field(default_factory=DivergenceRule)

    def __post_init__(self):
        _check(isinstance(self.spec, NetworkSpec), f"spec must be a NetworkSpec, got {type(self.spec).__name__}")
        for name in ("threads", "epochs"):
            v = getattr(self, name)
            _check(_is_int(v) and v >= 1, f"{name} must be a positive integer, got {v!r}")
        for name in ("cores", "seed"):
            v = getattr(self, name)
            _check(_is_int(v) and v >= 0, f"{name} must be an integer >= 0, got {v!r}")
        for name in ("train_images", "test_images", "sync_every"):
            v = getattr(self, name)
            _check(v is None or (_is_int(v) and v >= 1), f"{name} must be a positive integer or None, got {v!r}")
        _check(_is_number(self.lr) and self.lr > 0, f"lr must be a positive finite number, got {self.lr!r}")
        _check(self.lr <= FLOAT32_MAX, f"learning rate {self.lr:g} is beyond the float32 range of the weights "
                                       f"({FLOAT32_MAX:.3g}); use a smaller --lr")
        _check(_is_number(self.lr_decay) and 0 < self.lr_decay <= 1,
               f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        _check(self.max_minutes is None or (_is_number(self.max_minutes) and self.max_minutes > 0),
               f"max_minutes must be a positive number or None, got {self.max_minutes!r}")
        _check(isinstance(self.divergence, DivergenceRule), "divergence must be a DivergenceRule")
        for name in ("shuffle", "lr_scaling"):
            _check(isinstance(getattr(self, name), bool), f"{name} must be True or False")

    def signature(self, config: TrainConfig) -> dict:
        """What every MPI rank must agree on."""
        return {"net": self.spec.notation(), "activation": self.spec.activation, "epochs": config.epochs,
                "lr": config.lr, "lr_decay": config.lr_decay, "seed": config.seed, "threads": config.threads,
                "shuffle": config.shuffle, "train_images": self.train_images, "test_images": self.test_images,
                "sync_every": self.sync_every, "resume": self.resume is not None, "lr_scaling": self.lr_scaling,
                "divergence": [self.divergence.loss_factor, self.divergence.blocks, self.divergence.growth,
                               self.divergence.enabled]}


def mpi_rank() -> int:
    """This process's MPI rank (0 without mpiexec): rank 0 reports the result."""
    from cnnperf.parallel.distributed import mpi_world
    comm = mpi_world()
    return 0 if comm is None else comm.rank


def run_training(request: TrainRequest, *, progress: Progress | None = None, stop: threading.Event | None = None,
                 compiling=None) -> TrainResult:
    """Run `request` and return its result (on every MPI rank). `progress(phase, epoch, done, total)`
    reports images (rank 0 only); setting `stop` ends the run after the running phase (result
    `stopped == "interrupted"`); `compiling` is a context-manager factory around loading the
    kernels (see `Trainer`). Raises CnnperfError (bad request, data, checkpoint, not enough memory)
    and DivergenceError. Under mpiexec a rank that raises must end the job (`abort_on_error`)
    unless the error has `all_ranks` set."""
    from cnnperf.fileio import check_writable
    from cnnperf.parallel.checkpoint import load_checkpoint
    from cnnperf.parallel.distributed import check_same_options, mpi_world
    from cnnperf.parallel.memory import check_memory, estimate_memory
    from cnnperf.parallel.run import config_from_checkpoint

    comm = mpi_world()
    ranks = 1 if comm is None else comm.size
    if request.checkpoint is not None:
        check_writable(request.checkpoint)
    resume = load_checkpoint(request.resume) if request.resume is not None else None
    if resume is not None:
        config = config_from_checkpoint(resume, request.spec, request.epochs, request.threads)
    else:
        config = TrainConfig(epochs=request.epochs, lr=request.lr, lr_decay=request.lr_decay, seed=request.seed,
                             threads=request.threads, shuffle=request.shuffle)
    step = config.lr * (ranks if request.lr_scaling else 1)
    _check(step <= FLOAT32_MAX, f"the learning rate of each rank ({ranks} x {config.lr:g}) is beyond the float32 "
                                "range of the weights; use a smaller --lr")
    local_ranks = 1
    if comm is not None:
        _check(not config.shuffle, "--shuffle is not supported under mpiexec yet; leave it out")
        check_same_options(comm, request.signature(config))
        local_ranks = _ranks_on_this_node(comm)
    check_memory(estimate_memory(request.spec, config.threads, _data_bytes(request, config), local_ranks))
    check_input(request.spec)
    data, load_seconds = load_data(request.data_dir, request.train_images, request.test_images)
    common = {"progress": progress, "load_seconds": load_seconds, "checkpoint": request.checkpoint, "resume": resume,
              "max_minutes": request.max_minutes, "stop": stop, "cores": request.cores,
              "divergence": request.divergence, "compiling": compiling}
    if comm is None:
        from cnnperf.parallel.run import train
        result, _ = train(request.spec, data, config, **common)
    else:
        from cnnperf.parallel.distributed import train_distributed
        result, _ = train_distributed(comm, request.spec, data, config, request.sync_every,
                                      lr_scaling=request.lr_scaling, **common)
    return result


def load_data(data_dir, n_train: int | None, n_test: int | None) -> tuple[Dataset, float]:
    """MNIST as a Dataset and the seconds loading took (untimed by the paper's phases)."""
    from cnnperf.data.mnist import load_mnist
    t0 = time.perf_counter()
    m = load_mnist(data_dir, n_train, n_test)
    return Dataset(m.train_images, m.train_labels, m.test_images, m.test_labels), time.perf_counter() - t0


def _data_bytes(request: TrainRequest, config: TrainConfig) -> int:
    from cnnperf.data.mnist import load_bytes
    return load_bytes(request.train_images, request.test_images, shuffle=config.shuffle)  # every rank loads all


def check_input(spec: NetworkSpec) -> None:
    from cnnperf.data.mnist import PADDED_SIZE
    first = spec.shapes[0]
    _check((first.maps, first.size) == (1, PADDED_SIZE),
           f"network {spec.name} has the input layer {first.maps}x{first.size}x{first.size} but MNIST images are "
           f"1x{PADDED_SIZE}x{PADDED_SIZE} (28x28 padded); use a network with a {PADDED_SIZE}x{PADDED_SIZE} input")


def _ranks_on_this_node(comm) -> int:
    from mpi4py import MPI
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return node.size
    finally:
        node.Free()
