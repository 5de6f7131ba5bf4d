"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cnnperf.errors import CnnperfError


def read_toml(path: str | os.PathLike, what: str) -> dict:
    """The TOML document at `path` (a `what`: "network file", "profile"); a one-line CnnperfError
    when it cannot be read or is not TOML."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CnnperfError(f"malformed TOML in {p}: {exc}; fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnperfError(f"cannot read {what} {p}: {exc}") from None
    except ValueError as exc:  # what tomllib does not wrap, e.g. an integer of over 4,300 digits
        raise CnnperfError(f"malformed TOML in {p}: {str(exc).split(';')[0]}; fix the file") from None


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before any work) if `path` cannot be written. Returns the path."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CnnperfError(f"{p} is a directory; give a file path")
    if p.exists() and not p.is_file():  # a device or pipe: the atomic rename would replace it
        raise CnnperfError(f"{p} is not a regular file; give a file path")
    if not parent.is_dir():
        raise CnnperfError(f"cannot write {p}: directory {parent} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK):
        raise CnnperfError(f"cannot write {p}: directory {parent} is not writable; choose another path")
    if p.exists() and not os.access(p, os.W_OK):
        raise CnnperfError(f"cannot write {p}: file is read-only; choose another path")
    try:  # what access() cannot tell (root, /proc, read-only mounts): create and remove a temporary file there
        fd, probe = tempfile.mkstemp(prefix=f".{p.name[:200]}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CnnperfError(f"cannot write {p}: {exc.strerror or exc}; choose another path") from None
    return p


def current_umask() -> int:
    """The process umask, read without changing it where Linux reports it (/proc/self/status)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting it, then restore it at once
    os.umask(mask)
    return mask


def _final_mode(p: Path) -> int:
    """Mode of the written file: an existing file keeps its mode, a new one gets 0o666 & ~umask
    (what open() would give; mkstemp's temp files are 0o600)."""
    try:
        return stat.S_IMODE(p.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temp file in the same directory, fsync, rename)."""
    p = check_writable(path)
    mode = _final_mode(p)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:200]}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    except OSError as exc:
        raise CnnperfError(f"cannot write {p}: {exc.strerror or exc}; choose another path") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):  # POSIX
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:  # disk full, quota, the target turned into a directory ...
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise CnnperfError(f"cannot write {p}: {exc.strerror or exc}; choose another path") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return p


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def output_dir(path: str | os.PathLike, first_file: str) -> Path:
    """Create directory `path` (with parents) for a command's outputs and check that
    `first_file` can be written there; one-line CnnperfError otherwise."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CnnperfError(f"cannot create output directory {out}: {exc.strerror}; choose another --out") from None
    check_writable(out / first_file)
    return out


@contextlib.contextmanager
def new_output_dir(path: str | os.PathLike, first_file: str) -> Iterator[Path]:
    """`output_dir` for a job that may fail or be interrupted: the directories it created are
    removed again if the job leaves them empty (a refused or stopped run leaves no empty folder)."""
    out = Path(path)
    created = [d for d in (out, *out.parents) if not d.exists()]  # deepest first
    made = output_dir(out, first_file)
    try:
        yield made
    except BaseException:
        for d in created:
            try:
                d.rmdir()
            except OSError:  # not empty (the job's resumable state is kept) or gone
                break
        raise


class ResumableState:
    """Finished steps of a long job, saved as JSON beside its output after every step (atomic
    writes), so the same command resumes an interrupted job. A state file of a job with other
    options, one that is not such a file, or one with a step that `check(name, value)` rejects
    means starting over (and says so)."""

    def __init__(self, path: str | os.PathLike, key: str, log=lambda message: None,
                 check: Callable[[str, Any], bool] | None = None):
        self.path, self.key = Path(path), key
        self.steps: dict = {}
        check_writable(self.path)  # before any step is done, not after the first
        if not self.path.is_file():
            return
        try:
            old = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # also UnicodeDecodeError
            old = None
        if not isinstance(old, dict):
            log(f"ignoring {self.path}: not a readable state file; starting over")
            return
        # "fingerprint": the key's name in state files of cnnperf 0.1
        same, steps = old.get("key", old.get("fingerprint")) == key, old.get("steps")
        if not same:
            log(f"ignoring {self.path}: it belongs to a job with other options; starting over")
        elif not isinstance(steps, dict):
            log(f"ignoring {self.path}: its steps are not a table; starting over")
        elif (bad := [k for k, v in steps.items() if check is not None and not check(k, v)]):
            log(f"ignoring {self.path}: its step {bad[0]!r} is malformed; starting over")
        else:
            self.steps = steps
            log(f"resuming: {len(steps)} step(s) done in {self.path}")

    def get(self, name: str, default=None):
        return self.steps.get(name, default)

    def put(self, name: str, value) -> None:
        self.steps[name] = value
        atomic_write_json(self.path, {"key": self.key, "steps": self.steps})

    def done(self) -> None:
        """The job finished: remove the state file."""
        self.path.unlink(missing_ok=True)
