"""MNIST discovery, download (local HTTP server), SHA-256 checks, padding, subsets, real data."""

import gzip
import hashlib
import http.server
import os
import threading
from functools import partial

import numpy as np
import pytest

from cnnperf.data import mnist
from cnnperf.data.idx import encode_idx
from cnnperf.errors import CnnperfError

NAMES = tuple(mnist.MNIST_FILES)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNPERF_DATA", raising=False)
    monkeypatch.setenv("CNNPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNPERF_MNIST_MIRRORS", "http://127.0.0.1:9/")  # nothing listens there


def test_padding_and_scaling():
    raw = np.full((2, 28, 28), 255, np.uint8)
    raw[1, 0, 0] = 0
    out = mnist.pad_and_scale(raw, (0.0, 1.0))
    assert out.shape == (2, 29, 29) and out.dtype == np.float32
    assert out[0, :28, :28].min() == 1.0 and out[:, 28, :].max() == 0 and out[:, :, 28].max() == 0
    assert out[1, 0, 0] == 0.0
    out = mnist.pad_and_scale(raw, (-1.0, 1.0))
    assert out[0, 28, 28] == -1.0 and out[0, 0, 0] == 1.0


def test_search_order_data_then_env_then_cache(make_mnist, tmp_path, monkeypatch):
    a = make_mnist(tmp_path / "a", 20, 10, seed=1)
    b = make_mnist(tmp_path / "b", 30, 10, seed=2)
    c = make_mnist(tmp_path / "cache", 40, 10, seed=3, gz=False)
    monkeypatch.setenv("CNNPERF_DATA", str(b))
    assert mnist.find_mnist(a) == a
    assert mnist.find_mnist(None) == b
    monkeypatch.delenv("CNNPERF_DATA")
    assert mnist.find_mnist(None) == c
    assert len(mnist.load_mnist(None).train_images) == 40  # plain (not gzipped) files work too


def test_subsets_are_the_first_n(make_mnist, tmp_path):
    d = make_mnist(tmp_path / "m", 50, 20)
    full, sub = mnist.load_mnist(d), mnist.load_mnist(d, 7, 3)
    assert sub.train_images.shape == (7, 29, 29) and len(sub.test_labels) == 3
    assert np.array_equal(sub.train_images, full.train_images[:7])
    assert np.array_equal(sub.test_labels, full.test_labels[:3])
    with pytest.raises(CnnperfError, match="asked for 51 training images"):
        mnist.load_mnist(d, 51)


def test_mismatched_counts_and_bad_labels(make_mnist, tmp_path):
    d = make_mnist(tmp_path / "m", 20, 10)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.zeros(19, np.uint8))))
    with pytest.raises(CnnperfError, match="20 images but .* 19 labels"):
        mnist.load_mnist(d)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.full(20, 12, np.uint8))))
    with pytest.raises(CnnperfError, match="label 12 out of range"):
        mnist.load_mnist(d)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.zeros((20, 5, 5), np.uint8))))
    with pytest.raises(CnnperfError, match="28x28"):
        mnist.load_mnist(d)


def test_offline_message_names_files_and_both_ways(tmp_path):
    with pytest.raises(CnnperfError) as exc:
        mnist.find_mnist(tmp_path / "empty")
    msg = str(exc.value)
    assert "\n" not in msg and "--data" in msg and "CNNPERF_DATA" in msg
    assert all(name in msg for name in NAMES)


@pytest.fixture
def server(tmp_path):
    """A local HTTP mirror serving tiny gzipped MNIST-format files."""
    root = tmp_path / "mirror"
    root.mkdir()
    rng = np.random.default_rng(0)
    content = {}
    for name in NAMES:
        shape = (12, 28, 28) if "images" in name else (12,)
        data = encode_idx(rng.integers(0, 10 if "labels" in name else 256, shape).astype(np.uint8))
        (root / f"{name}.gz").write_bytes(gzip.compress(data))
        content[name] = hashlib.sha256(data).hexdigest()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", content, requests
    httpd.shutdown()


def test_download_verifies_and_writes_atomically(server, tmp_path):
    url, sha, requests = server
    target = mnist.find_mnist(None, mirrors=("http://127.0.0.1:9/", url), sha256=sha)
    assert target == tmp_path / "cache"
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.gz" for n in NAMES)  # no temp files
    assert len(requests) == 4
    again = mnist.find_mnist(None, mirrors=(url,), sha256=sha)
    assert again == target and len(requests) == 4  # nothing downloaded twice
    assert len(mnist.load_mnist(None).train_labels) == 12


def test_download_mirror_list_from_environment(server, tmp_path, monkeypatch):
    url, sha, _ = server
    monkeypatch.setenv("CNNPERF_MNIST_MIRRORS", url)
    assert mnist.find_mnist(tmp_path / "explicit", sha256=sha) == tmp_path / "explicit"


def test_sha_mismatch_leaves_nothing(server, tmp_path):
    url, sha, _ = server
    wrong = {**sha, NAMES[0]: "0" * 64}
    with pytest.raises(CnnperfError) as exc:
        mnist.find_mnist(None, mirrors=(url,), sha256=wrong)
    assert "SHA-256 mismatch" in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "cache" / f"{NAMES[0]}.gz").exists()
    assert not (tmp_path / "cache").exists()  # nothing verified: not even the directory is created


REAL = os.environ.get("CNNPERF_DATA_REAL") or os.environ.get("CNNPERF_DATA")


@pytest.mark.skipif(not REAL, reason="set CNNPERF_DATA to the real MNIST directory (CI: ../shared/data/mnist)")
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("CNNPERF_DATA", REAL)
    d = mnist.load_mnist(None, download=False)
    assert d.train_images.shape == (60000, 29, 29) and d.test_images.shape == (10000, 29, 29)
    assert d.train_images.max() == 1.0 and d.train_images[:, 28, :].max() == 0
    assert list(np.bincount(d.train_labels)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert list(np.bincount(d.test_labels)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
