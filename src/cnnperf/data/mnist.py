"""MNIST: find the four IDX files (--data, $CNNPERF_DATA, cache), download if missing, load.

Images are padded from 28x28 to 29x29 with one background row and column at the bottom
and right and scaled linearly from 0..255 to `pixel_range` (NOTES.md).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnperf.data.idx import gunzip, parse_idx, read_bytes
from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_bytes

# name -> SHA-256 of the uncompressed content (shared/data/mnist/README.md)
MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
TIMEOUT_S = 15
MNIST_COUNTS = {"train": 60000, "t10k": 10000}
PADDED_SIZE = 29  # images are padded from 28x28 to 29x29
PADDED = PADDED_SIZE * PADDED_SIZE
Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total or 0)


@dataclass(frozen=True)
class MnistData:
    train_images: np.ndarray  # float32 (N, 29, 29)
    train_labels: np.ndarray  # int64 (N,)
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path


def cache_dir() -> Path:
    if os.environ.get("CNNPERF_CACHE_DIR"):
        return Path(os.environ["CNNPERF_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnperf" / "mnist"


def file_in(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _complete(directory: Path) -> bool:
    return all(file_in(directory, name) for name in MNIST_FILES)


def missing_message(reason: str) -> str:
    names = ", ".join(f"{n}.gz" for n in MNIST_FILES)
    return (f"MNIST not found ({reason}): put {names} in a directory and pass --data DIR "
            f"or set CNNPERF_DATA=DIR")


def find_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True,
               mirrors: tuple[str, ...] | None = None, sha256: dict[str, str] | None = None,
               progress: Progress | None = None) -> Path:
    """The directory holding all four files: --data, then $CNNPERF_DATA, then the cache; else download."""
    explicit = [Path(d) for d in (data_dir, os.environ.get("CNNPERF_DATA")) if d]
    for directory in (*explicit, cache_dir()):
        if directory.is_dir() and _complete(directory):
            return directory
    target = explicit[0] if explicit else cache_dir()
    if not download:
        raise CnnperfError(missing_message(f"looked in {', '.join(str(d) for d in (*explicit, cache_dir()))}"))
    download_mnist(target, mirrors=mirrors, sha256=sha256, progress=progress)
    return target


def _mirror_list(mirrors: tuple[str, ...] | None) -> tuple[str, ...]:
    if mirrors is not None:
        return mirrors
    env = os.environ.get("CNNPERF_MNIST_MIRRORS")
    return tuple(m.strip() for m in env.split(",") if m.strip()) if env else MIRRORS


def _fetch(url: str, name: str, progress: Progress | None) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        total, chunks, done = int(response.headers.get("Content-Length") or 0), [], 0
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            done += len(chunk)
            if progress:
                progress(name, done, total)
    return b"".join(chunks)


def download_mnist(target: Path, *, mirrors: tuple[str, ...] | None = None, sha256: dict[str, str] | None = None,
                   progress: Progress | None = None) -> None:
    """Download each missing file, verify the SHA-256 of its uncompressed content, write it atomically.
    `target` (and its parents) are created only once a verified file is ready: a failed download
    leaves no empty directory behind."""
    sha256 = sha256 or MNIST_FILES
    _check_creatable(target)
    for name, expected in sha256.items():
        if target.is_dir() and file_in(target, name):
            continue
        errors = []
        for base in _mirror_list(mirrors):
            url = base.rstrip("/") + f"/{name}.gz"
            try:
                blob = _fetch(url, name, progress)
                content = gunzip(blob)
            except (urllib.error.URLError, http.client.HTTPException, OSError, EOFError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            digest = hashlib.sha256(content).hexdigest()
            if digest != expected:
                errors.append(f"{url}: SHA-256 mismatch (got {digest[:12]}..., expected {expected[:12]}...)")
                continue
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CnnperfError(missing_message(f"cannot create {target}: {exc.strerror}")) from None
            atomic_write_bytes(target / f"{name}.gz", blob)
            break
        else:
            raise CnnperfError(missing_message(f"download of {name}.gz failed: {'; '.join(errors) or 'no mirrors'}"))


def _check_creatable(target: Path) -> None:
    """Fail before downloading if `target` is not a directory or could not be created."""
    if target.exists() and not target.is_dir():
        raise CnnperfError(missing_message(f"{target} is not a directory"))
    existing = next(d for d in (target, *target.parents) if d.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise CnnperfError(missing_message(f"cannot create files in {existing}: not a writable directory"))


def _check_images(raw: np.ndarray, name: str) -> np.ndarray:
    if raw.ndim != 3 or raw.shape[1:] != (28, 28):
        raise CnnperfError(f"{name}: expected images of 28x28 pixels, got shape {raw.shape}; "
                           "is it an MNIST image file?")
    return raw


def pad_and_scale(raw: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """28x28 uint8 -> 29x29 float32: background row/column at bottom/right, 0..255 -> pixel_range."""
    lo, hi = pixel_range
    out = np.full((len(raw), PADDED_SIZE, PADDED_SIZE), lo, dtype=np.float32)
    out[:, :28, :28] = raw * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return out


def _check_labels(raw: np.ndarray, name: str) -> np.ndarray:
    if raw.ndim != 1:
        raise CnnperfError(f"{name}: expected a 1-D label file, got shape {raw.shape}; is it an MNIST label file?")
    if raw.size and raw.max() > 9:
        raise CnnperfError(f"{name}: label {int(raw.max())} out of range 0..9; the file is not MNIST labels")
    return raw.astype(np.int64)


def _count(name: str, n: int | None, available: int, what: str) -> int | None:
    if n is not None and (n <= 0 or n > available):
        raise CnnperfError(f"asked for {n} {what} images, but {name} has {available:,}; use 1..{available}")
    return n


def _pair(directory: Path, stem: str, n: int | None, what: str, pixel_range) -> tuple[np.ndarray, np.ndarray]:
    img_name, lab_name = f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte"
    img_path, lab_path = file_in(directory, img_name), file_in(directory, lab_name)
    if img_path is None or lab_path is None:
        raise CnnperfError(missing_message(f"{img_name if img_path is None else lab_name} missing in {directory}"))
    images_all = _check_images(parse_idx(read_bytes(img_path), str(img_path)), str(img_path))
    labels_all = _check_labels(parse_idx(read_bytes(lab_path), str(lab_path)), str(lab_path))
    if len(images_all) != len(labels_all):
        raise CnnperfError(f"{img_path} has {len(images_all):,} images but {lab_path} has {len(labels_all):,} labels; "
                           "use matching files")
    n = _count(str(img_path), n, len(images_all), what)
    return pad_and_scale(images_all[:n], pixel_range), labels_all[:n]


def load_bytes(n_train: int | None = None, n_test: int | None = None, *, shuffle: bool = False) -> int:
    """Memory `load_mnist` needs (about): the float32 29x29 images and int64 labels it returns, plus
    its peak while decoding the larger file (gzip and raw bytes, one float32 28x28 temporary);
    `shuffle` adds the trainer's reordered copy of the training images."""
    n_tr = MNIST_COUNTS["train"] if n_train is None else n_train
    n_te = MNIST_COUNTS["t10k"] if n_test is None else n_test
    kept = (n_tr + n_te) * (4 * PADDED + 8)
    decoding = 2 * MNIST_COUNTS["train"] * 28 * 28 + 4 * 28 * 28 * max(n_tr, n_te)
    return kept + decoding + (4 * PADDED * n_tr if shuffle else 0)


def load_mnist(data_dir: str | os.PathLike | None = None, n_train: int | None = None, n_test: int | None = None, *,
               pixel_range: tuple[float, float] = (0.0, 1.0), download: bool = True,
               progress: Progress | None = None) -> MnistData:
    """Training and test sets, the first `n_train` / `n_test` images (all by default)."""
    directory = find_mnist(data_dir, download=download, progress=progress)
    train_x, train_y = _pair(directory, "train", n_train, "training", pixel_range)
    test_x, test_y = _pair(directory, "t10k", n_test, "test", pixel_range)
    return MnistData(train_x, train_y, test_x, test_y, directory)
