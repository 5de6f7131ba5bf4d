"""Progress displays on stderr (rich): a one-line status for long library calls."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def status_line(title: str, quiet: bool = False) -> Iterator[Callable[[str], None] | None]:
    """A spinner with `title: <step>`; yields the callback that sets the step (None when quiet)."""
    if quiet:
        yield None
        return
    from rich.console import Console

    with Console(file=sys.stderr).status(title) as status:
        yield lambda step: status.update(f"{title}: {step}")


class _Elapsed:
    """Spinner text with the seconds since it was made."""

    def __init__(self, text: str):
        self.text, self.t0 = text, time.monotonic()

    def __rich__(self) -> str:
        return f"{self.text}: {time.monotonic() - self.t0:.0f} s"


class TrainingDisplay:
    """stderr: a spinner while the kernels compile (only if that takes over a second), then a rich
    progress bar, one line per phase of the running epoch. Nothing with `quiet`."""

    SPINNER_AFTER_S = 1.0

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._bar = None
        self._tasks: dict = {}

    def _console(self):
        from rich.console import Console
        return Console(file=sys.stderr)

    @contextlib.contextmanager
    def compiling(self):
        if self.quiet:
            yield
            return
        status = self._console().status(_Elapsed("compiling kernels (first run only; later runs load them from "
                                                  "the cache)"))
        timer = threading.Timer(self.SPINNER_AFTER_S, status.start)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            timer.join()
            status.stop()

    def progress(self, phase: str, epoch: int, done: int, total: int) -> None:
        if self.quiet:
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self._bar = Progress(TextColumn("epoch {task.fields[epoch]} {task.description:>10}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self._console(), transient=True)
            self._bar.start()
        key = (epoch, phase)
        if key not in self._tasks:
            self._tasks[key] = self._bar.add_task(phase, total=total, epoch=epoch)
        self._bar.update(self._tasks[key], completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
