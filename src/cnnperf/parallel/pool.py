"""Dedicated worker threads: worker k always runs chunk k, all start together, a barrier ends the phase.

No thread is ever left at a barrier: an exception in the caller's thread while the workers run
(KeyboardInterrupt included), a failing worker or `close()` sets `cancelled` (long-running work
checks it and returns early), aborts both barriers and joins the workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cnnperf.errors import CnnperfError

WORKER_STACK_BYTES = 2 << 20  # stack of each worker thread; the kernels need a few KiB (no recursion)
JOIN_TIMEOUT_S = 10.0  # a worker finishes its running kernel block first (milliseconds for the presets)


class WorkerPool:
    """`threads` persistent threads; `run(fn)` calls fn(k) on worker k for every k and waits for all."""

    def __init__(self, threads: int, name: str = "chaos"):
        self.threads = threads
        self.cancelled = threading.Event()  # set when the pool is closed or a run is abandoned
        self._start = threading.Barrier(threads + 1)
        self._end = threading.Barrier(threads + 1)
        self._fn: Callable[[int], object] | None = None
        self._results: list = [None] * threads
        self._errors: list[BaseException | None] = [None] * threads
        self._closed = False
        self._workers: list[threading.Thread] = []
        previous = threading.stack_size(WORKER_STACK_BYTES)
        try:
            for k in range(threads):
                t = threading.Thread(target=self._loop, args=(k,), name=f"{name}_{k}", daemon=True)
                t.start()
                self._workers.append(t)
        except RuntimeError as exc:  # "can't start new thread": the OS limit on threads
            self.close()
            raise CnnperfError(f"could start only {len(self._workers):,} of {threads:,} worker threads ({exc}); "
                               "use fewer --threads") from None
        finally:
            threading.stack_size(previous)

    def _loop(self, k: int) -> None:
        while True:
            try:
                self._start.wait()
            except threading.BrokenBarrierError:
                return
            try:
                self._results[k], self._errors[k] = self._fn(k), None
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._results[k], self._errors[k] = None, exc
                self.cancelled.set()  # the others stop early: the phase fails anyway
            try:
                self._end.wait()
            except threading.BrokenBarrierError:
                return

    def run(self, fn: Callable[[int], object]) -> list:
        """Run fn(0..threads-1) concurrently, one per worker thread; return results in worker order.

        Any exception while waiting (a signal in the caller's thread) closes the pool, then propagates."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        self._fn = fn
        try:
            self._start.wait()
            self._end.wait()  # implicit barrier at the end of a phase
        except BaseException:
            self.close()
            raise
        for exc in self._errors:
            if exc is not None:
                self.cancelled.clear()
                raise exc
        return list(self._results)

    def close(self) -> None:
        """Stop the workers: cancel running work, abort the barriers, join every thread (bounded)."""
        if self._closed:
            return
        self._closed = True
        self.cancelled.set()
        self._start.abort()
        self._end.abort()
        for t in self._workers:
            t.join(JOIN_TIMEOUT_S)
