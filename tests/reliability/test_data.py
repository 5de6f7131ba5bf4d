"""Reliability of MNIST data handling and output files through the CLI (issue 12): broken files and
mirrors are refused with one line (exit 2, no traceback), nothing is left behind, files honour the umask."""

import gzip
import http.server
import os
import stat
import subprocess
import sys
import threading
from functools import partial

import pytest

from cnnperf.fileio import atomic_write_bytes

from .harness import refused, tree

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def cli(*argv, env=None, umask=None, timeout=300):
    """`python -m cnnperf ARGV` with no fallback to real data, downloads or a shared cache."""
    base = {k: v for k, v in os.environ.items() if k not in ("CNNPERF_DATA", "CNNPERF_MNIST_MIRRORS")}
    full = {**base, "CNNPERF_MNIST_MIRRORS": "http://127.0.0.1:9/", **(env or {})}
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=False, capture_output=True, text=True,
                          timeout=timeout, env=full, preexec_fn=pre)


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
    r = cli("train", "--data", str(tiny_mnist), "--threads", "1", "--quiet", "--json", str(out),
            "--checkpoint", str(ck), umask=mask)
    assert r.returncode == 0, r.stderr
    for f in (out, ck):
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask


# --- damaged gzip files, on disk or from a mirror ---------------------------------------------------

def _gz(data: bytes = b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02") -> bytes:
    return gzip.compress(data, mtime=0)


DAMAGED = {  # how a gzip file is broken -> its bytes (every one starts with the gzip magic 1f 8b)
    "magic-then-garbage": b"\x1f\x8b" + bytes(range(256)) * 4,
    "header-then-garbage": _gz()[:10] + b"\xff\xfe this is not deflate data" * 20,  # zlib.error
    "truncated": _gz(bytes(5000))[:-30],
    "bad-crc": _gz()[:-8] + b"\x00" * 8,
    "trailing-garbage": _gz() + b"garbage after the member",
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_gzip_file_is_one_line(case, tiny_mnist, tmp_path):
    bad = tiny_mnist / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(DAMAGED[case])
    out = tmp_path / "out"
    out.mkdir()
    r = cli("train", "--data", str(tiny_mnist), "--quiet", "--json", str(out / "r.json"))
    line = refused(r)
    assert "damaged gzip file" in line and str(bad) in line and "replace it with a good copy" in line
    assert tree(out) == set()


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP mirror; tests put the files it serves into `root`."""
    root = tmp_path / "mirror"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("case", ["magic-then-garbage", "header-then-garbage", "truncated"])
def test_damaged_download_is_one_line_and_leaves_nothing(case, mirror, tmp_path):
    root, url = mirror
    for name in NAMES:
        (root / f"{name}.gz").write_bytes(DAMAGED[case])
    target = tmp_path / "new" / "mnist"
    r = cli("train", "--data", str(target), "--quiet", env={"CNNPERF_MNIST_MIRRORS": url,
                                                             "CNNPERF_CACHE_DIR": str(tmp_path / "cache")})
    line = refused(r)
    assert "download of train-images-idx3-ubyte.gz failed" in line and url in line and "--data" in line
    assert not (tmp_path / "new").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("where", ["--data", "cache"])
def test_offline_leaves_no_empty_directory(where, tmp_path):
    target = tmp_path / "nonexistent" / "deeper"  # like --data /nonexistent: parents missing too
    env = {"CNNPERF_CACHE_DIR": str(target if where == "cache" else tmp_path / "cache")}
    argv = ["--data", str(target)] if where == "--data" else []
    r = cli("train", *argv, "--quiet", env=env)
    line = refused(r)
    assert "MNIST not found" in line and "download of" in line
    assert not (tmp_path / "nonexistent").exists() and not (tmp_path / "cache").exists()


def test_data_path_that_is_a_file_is_one_line(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = cli("train", "--data", str(f), "--quiet", env={"CNNPERF_CACHE_DIR": str(tmp_path / "cache")})
    assert "is not a directory" in refused(r)
    assert not (tmp_path / "cache").exists()
