"""Shared fixtures: tiny MNIST-format IDX files written by the tests themselves."""

import gzip
import struct

import numpy as np
import pytest

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """Standard IDX encoding of a uint8 array (magic 0x0000 08 ndim, big-endian sizes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_tiny_mnist(directory, n_train=200, n_test=100, seed=0, gz=True):
    """Digit-like random images: class k has a bright bar at row 2k+4, so the data are learnable."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for k, lab in enumerate(labels):
            images[k, 2 * lab + 4, 4:24] = 255
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{stem}-{kind}-ubyte"
            data = idx_bytes(arr)
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
    return directory


@pytest.fixture
def tiny_mnist(tmp_path):
    return write_tiny_mnist(tmp_path / "mnist")


@pytest.fixture
def make_mnist():
    """write_tiny_mnist(directory, n_train, n_test, seed, gz) for tests that need other sizes."""
    return write_tiny_mnist


@pytest.fixture
def phi_variant(tmp_path):
    """variant(old, new, count=-1): the built-in Xeon Phi profile with `old` replaced by `new`,
    written as tmp_path/bad.toml; returns its path."""
    from cnnperf.hardware.toml_io import resolve_profile_path

    def variant(old: str, new: str, count: int = -1) -> str:
        text = resolve_profile_path("xeon-phi-7120p").read_text()
        assert old in text
        path = tmp_path / "bad.toml"
        path.write_text(text.replace(old, new, count))
        return str(path)
    return variant
