"""IDX round-trips and every kind of broken file (one-line errors)."""

import gzip

import numpy as np
import pytest

from cnnperf.data.idx import encode_idx, parse_idx, read_idx, write_idx
from cnnperf.errors import CnnperfError


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (2, 3, 4)])
def test_round_trip(tmp_path, gz, shape):
    a = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    path = write_idx(tmp_path / "x.idx", a, gzip_=gz)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.uint8 and b.shape == shape and np.array_equal(a, b)
    assert not [p for p in tmp_path.iterdir() if p.name != "x.idx"]  # no temp file left


def test_header_layout():
    data = encode_idx(np.zeros((2, 3), np.uint8))
    assert data[:4] == bytes([0, 0, 8, 2]) and data[4:12] == bytes([0, 0, 0, 2, 0, 0, 0, 3]) and len(data) == 18


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d[:3], "truncated"),
    (lambda d: d[:-5], "truncated"),
    (lambda d: d + b"\0", "too long"),
    (lambda d: b"\x12\x34" + d[2:], "not an IDX file"),
    (lambda d: d[:2] + b"\x0d" + d[3:], "data type 0x0d"),
    (lambda d: d[:6], "inside its header"),
])
def test_broken_bytes(mutate, needle):
    data = encode_idx(np.ones((3, 4, 4), np.uint8))
    with pytest.raises(CnnperfError) as exc:
        parse_idx(mutate(data), "f.idx")
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_missing_and_damaged_gzip(tmp_path):
    with pytest.raises(CnnperfError, match="not found"):
        read_idx(tmp_path / "nope")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(encode_idx(np.ones(10, np.uint8)))[:-6])
    with pytest.raises(CnnperfError, match="damaged gzip"):
        read_idx(bad)
