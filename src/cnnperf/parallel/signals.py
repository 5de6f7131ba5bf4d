"""Ctrl-C during training: the first SIGINT asks for a clean stop after the running phase (the
finished epochs are kept), a second one raises KeyboardInterrupt at once. The worker pool then
cancels its work, aborts its barriers and joins its threads, so the process ends promptly."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_sigint(stop: threading.Event, on_first: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """Within the block, SIGINT sets `stop` (and calls `on_first`, e.g. to say so); a second SIGINT
    raises KeyboardInterrupt in the main thread. Outside the main thread (where Python cannot install
    handlers) nothing changes. The previous handler is restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if on_first is not None:
            on_first()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
