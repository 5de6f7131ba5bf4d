"""Reliability of MNIST data handling and output files through the CLI (issue 12): broken files and
mirrors are refused with one line (exit 2, no traceback), nothing is left behind, files honour the umask."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cnnperf.fileio import atomic_write_bytes

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def cli(*argv, env=None, umask=None, timeout=300):
    """`python -m cnnperf ARGV` with no fallback to real data, downloads or a shared cache."""
    base = {k: v for k, v in os.environ.items() if k not in ("CNNPERF_DATA", "CNNPERF_MNIST_MIRRORS")}
    full = {**base, "CNNPERF_MNIST_MIRRORS": "http://127.0.0.1:9/", **(env or {})}
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=False, capture_output=True, text=True, timeout=timeout,
                          env=full, preexec_fn=pre)


def refused(r, code=2) -> str:
    """The run ended with `code`, exactly one line on stderr and no traceback; returns the line."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    return lines[0]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --- output files honour the umask ------------------------------------------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_write_honours_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        plain = tmp_path / "b.bin"
        plain.write_bytes(b"x")  # what open() gives
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o666 & ~mask == stat.S_IMODE(plain.stat().st_mode)


def test_atomic_rewrite_keeps_the_mode_of_an_existing_file(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("{}")
    target.chmod(0o600)
    atomic_write_bytes(target, b"{}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_train_outputs_honour_umask(tiny_mnist, tmp_path, mask):
    out, ck = tmp_path / "run.json", tmp_path / "ck.npz"
    r = cli("train", "--data", str(tiny_mnist), "--threads", "1", "--quiet", "--json", str(out), "--checkpoint", str(ck),
            umask=mask)
    assert r.returncode == 0, r.stderr
    for f in (out, ck):
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask
