"""The engine's build: a digest of the kernels' sources (pure Python, no Numba). It stamps the
compiled-kernel cache (`kernels.base`) and a calibrated machine model, whose costs describe the
kernels it was measured with."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

KERNELS = Path(__file__).resolve().parent / "kernels"


@cache
def source_digest(folder: Path = KERNELS) -> bytes:
    """SHA-256 of every module in `folder` (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.digest()


def kernels_build() -> str:
    """A short name of this build of the kernels (12 hex digits of `source_digest`)."""
    return source_digest().hex()[:12]
