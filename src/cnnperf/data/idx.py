"""IDX files (LeCun's format for MNIST), gzipped or not: read with validation, write for tests."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_bytes

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """File content, decompressed if it is gzip (detected by its magic bytes, not its name)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CnnperfError(f"IDX file {p} not found") from None
    except OSError as exc:
        raise CnnperfError(f"cannot read IDX file {p}: {exc.strerror}") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            return gunzip(raw)
        except ValueError as exc:
            raise CnnperfError(f"{p} is a damaged gzip file ({exc}); replace it with a good copy") from None
    return raw


def gunzip(blob: bytes) -> bytes:
    """gzip.decompress with every kind of damage (bad header, bad deflate data, truncation, CRC)
    raised as ValueError with a one-line reason."""
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(" ".join(str(exc).split()) or type(exc).__name__) from None


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes: magic 0x0000 | dtype | ndim, big-endian uint32 dims, then the payload (uint8 only)."""
    if len(data) < 4:
        raise CnnperfError(f"{name} is truncated: {len(data)} bytes, not even an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or ndim == 0:
        raise CnnperfError(f"{name} is not an IDX file (magic {data[:4].hex()}); expected 00000801 (labels) or "
                           "00000803 (images)")
    if dtype != UBYTE:
        raise CnnperfError(f"{name} has IDX data type 0x{dtype:02x}; only unsigned bytes (0x08) are supported")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CnnperfError(f"{name} is truncated inside its header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise CnnperfError(f"{name} is {what}: {len(data):,} bytes, the header {dims} needs {expected:,}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    return parse_idx(read_bytes(path), str(path))


def encode_idx(array: np.ndarray) -> bytes:
    a = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(">HBB", 0, UBYTE, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_idx(path: str | Path, array: np.ndarray, gzip_: bool = False) -> Path:
    """Write `array` (uint8) as an IDX file, gzip-compressed if asked; atomically."""
    data = encode_idx(array)
    return atomic_write_bytes(path, gzip.compress(data, mtime=0) if gzip_ else data)
