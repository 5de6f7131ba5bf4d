"""WorkerPool: no thread is ever left at a barrier (a signal in the caller, a failing worker, close)."""

import signal
import threading
import time

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import preset
from cnnperf.parallel.pool import WorkerPool
from cnnperf.parallel.trainer import TrainConfig, Trainer

from .fake_engine import FakeEngine


def sigint_main_after(seconds: float) -> threading.Timer:
    """A real SIGINT to the main thread (it wakes a blocked barrier wait, as Ctrl-C does)."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


def alive(pool: WorkerPool) -> list[threading.Thread]:
    return [t for t in pool._workers if t.is_alive()]


def test_results_in_worker_order_and_reuse():
    pool = WorkerPool(4)
    try:
        for _ in range(3):
            assert pool.run(lambda k: k * k) == [0, 1, 4, 9]
    finally:
        pool.close()
    assert not alive(pool)


def test_interrupt_in_the_caller_releases_and_joins_the_workers():
    pool = WorkerPool(3)

    def work(k):  # long work that polls `cancelled`, as the trainer's block loop does
        while not pool.cancelled.is_set():
            time.sleep(0.001)
        return k

    sigint_main_after(0.2)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pool.run(work)
    assert not alive(pool) and time.monotonic() - t0 < 30
    with pytest.raises(RuntimeError, match="closed"):
        pool.run(work)


def test_interrupt_while_workers_finish_without_polling():
    """Workers that do not poll finish their work, find the end barrier broken and exit."""
    pool = WorkerPool(2)
    sigint_main_after(0.1)
    with pytest.raises(KeyboardInterrupt):
        pool.run(lambda k: time.sleep(0.5))
    assert not alive(pool)


def test_failing_worker_cancels_the_others_and_is_reraised():
    pool = WorkerPool(3)
    seen = []

    def work(k):
        if k == 0:
            raise ValueError("boom")
        while not pool.cancelled.is_set():
            time.sleep(0.001)
        seen.append(k)

    try:
        with pytest.raises(ValueError, match="boom"):
            pool.run(work)
        assert sorted(seen) == [1, 2]
        assert pool.run(lambda k: k) == [0, 1, 2]  # the pool stays usable
    finally:
        pool.close()
    assert not alive(pool)


def test_close_when_idle_joins_and_is_idempotent():
    pool = WorkerPool(5)
    pool.close()
    pool.close()
    assert not alive(pool)


def test_thread_limit_gives_one_line_and_joins_the_started(monkeypatch):
    real_start, started = threading.Thread.start, []

    def start(self):
        if self.name.startswith("chaos_") and len(started) == 3:
            raise RuntimeError("can't start new thread")
        started.append(self)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(CnnperfError, match=r"could start only 3 of 10 worker threads .*use fewer --threads"):
        WorkerPool(10)
    assert not any(t.is_alive() for t in started)


def test_the_callers_thread_stack_size_is_restored():
    previous = threading.stack_size(1 << 20)
    try:
        pool = WorkerPool(2)
        pool.close()
        assert threading.stack_size() == 1 << 20
    finally:
        threading.stack_size(previous)


class SlowEngine(FakeEngine):
    def train_images(self, *args):
        time.sleep(0.02)
        return super().train_images(*args)


def test_interrupt_during_a_trainer_phase_leaves_no_thread():
    trainer = Trainer(preset("small"), TrainConfig(threads=2), engine=SlowEngine())
    x, y = np.zeros((100_000, 29, 29), np.float32), np.zeros(100_000, np.int64)
    sigint_main_after(0.3)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        try:
            trainer.run_phase("train", x, y, 0.1)
        finally:
            trainer.close()
    assert not alive(trainer._pool) and time.monotonic() - t0 < 30
