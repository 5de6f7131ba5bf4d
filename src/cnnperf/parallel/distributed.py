"""CHAOS across processes: R MPI ranks, each a CHAOS trainer with P threads on its own shard
of every phase's images; the ranks keep one model by averaging their weights with an
allreduce every K training images per rank (default: once per epoch). Validation and test
error counts are summed over the ranks. mpi4py is imported only under mpiexec.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np

from cnnperf.errors import CnnperfError, DivergenceError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.divergence import DivergenceRule
from cnnperf.parallel.results import PhaseResult, TrainResult
from cnnperf.parallel.trainer import Dataset, TrainConfig, Trainer, chunk_bounds

MPI_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE")


def under_mpiexec() -> bool:
    return any(k in os.environ for k in MPI_ENV)


def mpi_world():
    """COMM_WORLD when started by mpiexec, else None (and mpi4py is not imported)."""
    if not under_mpiexec():
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        raise CnnperfError("started under mpiexec but mpi4py is not installed; pip install 'cnnperf[mpi]'") from None
    return MPI.COMM_WORLD


def check_same_options(comm, signature: dict) -> None:
    """Refuse to start when ranks were given different networks or options (before training)."""
    mine = json.dumps(signature, sort_keys=True)
    root = comm.bcast(mine, root=0)
    if root != mine:  # the differing rank reports (and aborts the job); rank 0 waits to be stopped
        a, b = json.loads(mine), json.loads(root)
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise CnnperfError(f"ranks disagree: rank 0 has {', '.join(f'{k}={b.get(k)!r}' for k in diff)}, "
                           f"rank {comm.rank} has {', '.join(f'{k}={a.get(k)!r}' for k in diff)}; "
                           "start every rank with the same network and options")
    comm.Barrier()


def shard(data: Dataset, rank: int, ranks: int) -> Dataset:
    """Rank r's contiguous share of the training and of the test images."""
    (a, b), (c, d) = chunk_bounds(len(data.train_images), ranks)[rank], chunk_bounds(len(data.test_images), ranks)[rank]
    return Dataset(data.train_images[a:b], data.train_labels[a:b], data.test_images[c:d], data.test_labels[c:d])


class DistributedTrainer:
    """One rank's phase runner (see `parallel.run.PhaseRunner`): local CHAOS phases plus weight
    averaging and reductions; `synchronise` and `agree` are collective."""

    def __init__(self, comm, spec: NetworkSpec, config: TrainConfig, sync_every: int | None, weights=None, *,
                 compiling=None):
        from mpi4py import MPI
        self.MPI, self.comm, self.R = MPI, comm, comm.size
        self.spec, self.config, self.sync_every = spec, config, sync_every
        self.root = comm.rank == 0
        self.local = Trainer(spec, config, weights, compiling=compiling)

    @property
    def weights(self) -> np.ndarray:
        return self.local.weights

    def close(self) -> None:
        self.local.close()

    def average_weights(self) -> float:
        """Allreduce-average the shared weights in place. Returns the seconds it took."""
        t0 = time.perf_counter()
        w = self.local.weights
        self.comm.Allreduce(self.MPI.IN_PLACE, w, op=self.MPI.SUM)
        w *= np.float32(1.0 / self.R)
        return time.perf_counter() - t0

    def _reduce(self, local: PhaseResult, seconds: float, comm_s: float) -> PhaseResult:
        counts = np.array([local.images, local.errors], dtype=np.int64)
        self.comm.Allreduce(self.MPI.IN_PLACE, counts, op=self.MPI.SUM)
        loss = self.comm.allreduce(local.loss_sum, op=self.MPI.SUM)
        seconds = self.comm.allreduce(seconds, op=self.MPI.MAX)  # the slowest rank ends the phase
        comm_s = self.comm.allreduce(comm_s, op=self.MPI.MAX)
        return PhaseResult(seconds, int(counts[0]), int(counts[1]), loss, local.worker_seconds, comm_s)

    def training_set(self, data: Dataset, epoch: int):
        return data.train_images, data.train_labels  # the local shard; --shuffle is refused under mpiexec

    def phase(self, name: str, images, labels, lr: float, tick, monitor=None) -> PhaseResult:
        if name == "train":
            return self._train_phase(images, labels, lr, tick, monitor)
        self.comm.Barrier()
        t0 = time.perf_counter()
        part = self.local.run_phase(name, images, labels, 0.0, tick)
        return self._reduce(part, time.perf_counter() - t0, 0.0)

    def _train_phase(self, x_all, y_all, lr: float, tick, monitor) -> PhaseResult:
        """Training over the local shard, averaging every `sync_every` images (and at the end); all
        ranks stop after the average at which any rank's monitor has halted."""
        n_max = self.comm.allreduce(len(x_all), op=self.MPI.MAX)  # every rank joins every allreduce
        step = self.sync_every or max(n_max, 1)
        self.comm.Barrier()
        t0 = time.perf_counter()
        images = errors = 0
        loss = comm_s = 0.0
        workers = np.zeros(self.config.threads)
        for start in range(0, max(n_max, 1), step):
            x, y = x_all[start:start + step], y_all[start:start + step]
            if len(x):
                part = self.local.run_phase("train", x, y, lr, tick, monitor)
                images, errors, loss = images + part.images, errors + part.errors, loss + part.loss_sum
                workers += np.array(part.worker_seconds)
            comm_s += self.average_weights()
            if monitor is not None:
                t1 = time.perf_counter()
                halted = self.synchronise(monitor.halted)
                comm_s += time.perf_counter() - t1
                if halted:
                    break
        seconds = time.perf_counter() - t0
        return self._reduce(PhaseResult(0.0, images, errors, loss, tuple(workers)), seconds, comm_s)

    def check_finite(self, epoch: int, phase: str, result: PhaseResult) -> None:
        self.local.check_finite(epoch, phase, result)  # weights are averaged, sums reduced: the same on every rank

    def synchronise(self, flag: bool) -> bool:
        return bool(self.comm.allreduce(int(flag), op=self.MPI.MAX))

    def agree(self, verdict: str | None) -> str | None:
        return next((v for v in self.comm.allgather(verdict) if v is not None), None)


def train_distributed(comm, spec: NetworkSpec, data: Dataset, config: TrainConfig, sync_every: int | None, *,
                      progress=None, load_seconds: float = 0.0, checkpoint=None, resume=None,
                      max_minutes: float | None = None, stop: threading.Event | None = None,
                      lr_scaling: bool = True, cores: int = 0, divergence: DivergenceRule | None = None,
                      compiling=None) -> tuple[TrainResult, np.ndarray]:
    """Like `cnnperf.parallel.run.train` (the same epoch loop), over the ranks of `comm`; every rank
    returns the same result.

    With `lr_scaling` each rank steps with R times the learning rate: averaging R models divides
    every rank's progress by R (the linear scaling rule; without it R = 4 with one average per
    epoch ends 2.7 points worse than R = 1 on the small network, with it 0.4 points)."""
    from cnnperf.parallel.run import resumed_epochs, run_epochs

    local = shard(data, comm.rank, comm.size)
    done = resumed_epochs(resume)
    trainer = DistributedTrainer(comm, spec, config, sync_every, None if resume is None else resume.weights.copy(),
                                 compiling=compiling)
    try:
        stopped = run_epochs(trainer, spec, config, local, done, progress=progress, checkpoint=checkpoint,
                             max_minutes=max_minutes, stop=stop, lr_factor=comm.size if lr_scaling else 1,
                             divergence=divergence)
        prep = comm.allreduce(trainer.local.prep_seconds, op=trainer.MPI.MAX)
    except DivergenceError as exc:  # decided on reduced values: every rank raises it at the same point
        exc.all_ranks = True
        raise
    finally:
        trainer.close()
    result = TrainResult(spec.name, spec.notation(), config.threads, config.seed, prep,
                         trainer.local.compile_seconds, load_seconds, tuple(done), cores, stopped,
                         0 if resume is None else resume.epochs_done, comm.size, sync_every)
    return result, trainer.local.weights


def abort_on_error(comm, exc: BaseException, command: str) -> None:
    """Print one line naming the failing rank, then bring the whole job down (no hang). An error
    that every rank raised at the same point (`exc.all_ranks`, e.g. divergence) needs no abort:
    the caller lets rank 0 report it and every rank exit with its code."""
    code = getattr(exc, "exit_code", 1)
    print(f"cnnperf {command}: error: rank {comm.rank} of {comm.size}: {exc}", file=sys.stderr, flush=True)
    time.sleep(0.5)  # let mpiexec forward the line before MPI_Abort tears the job down
    comm.Abort(code)
