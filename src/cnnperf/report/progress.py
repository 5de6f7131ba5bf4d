"""Progress displays on stderr (rich): a one-line status for long library calls."""

from __future__ import annotations

import contextlib
import sys
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
