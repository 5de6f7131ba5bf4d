"""Dedicated worker threads: worker k always runs chunk k, all start together, a barrier ends the phase."""

from __future__ import annotations

import threading
from typing import Callable


class WorkerPool:
    """`threads` persistent threads; `run(fn)` calls fn(k) on worker k for every k and waits for all."""

    def __init__(self, threads: int, name: str = "chaos"):
        self.threads = threads
        self._start = threading.Barrier(threads + 1)
        self._end = threading.Barrier(threads + 1)
        self._fn: Callable[[int], object] | None = None
        self._results: list = [None] * threads
        self._errors: list[BaseException | None] = [None] * threads
        self._closed = False
        self._workers = [threading.Thread(target=self._loop, args=(k,), name=f"{name}_{k}", daemon=True)
                         for k in range(threads)]
        for t in self._workers:
            t.start()

    def _loop(self, k: int) -> None:
        while True:
            self._start.wait()
            if self._closed:
                return
            try:
                self._results[k], self._errors[k] = self._fn(k), None
            except BaseException as exc:  # re-raised in the caller's thread
                self._results[k], self._errors[k] = None, exc
            self._end.wait()

    def run(self, fn: Callable[[int], object]) -> list:
        """Run fn(0..threads-1) concurrently, one per worker thread; return results in worker order."""
        self._fn = fn
        self._start.wait()
        self._end.wait()  # implicit barrier at the end of a phase
        for exc in self._errors:
            if exc is not None:
                raise exc
        return list(self._results)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._start.wait()
            for t in self._workers:
                t.join()
