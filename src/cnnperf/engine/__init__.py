"""The CNN engine: per-image forward, backward and SGD update as Numba kernels.

Importing this package loads (or, on a cold cache, compiles) the kernels, so the CLI
imports it lazily. The API the CHAOS trainer uses:

- `build_layout(spec)` -> `Layout` (offsets; pure NumPy)
- `init_weights(layout, seed, dtype)` -> the shared weight store (flat, 64-byte aligned blocks)
- `new_workspace(layout, dtype)` -> one worker's network instance (private buffers)
- `train_images(layout, weights, ws, images, labels, lo, hi, lr)` -> (errors, loss sum)
- `evaluate_images(layout, weights, ws, images, labels, lo, hi)` -> (errors, loss sum)
- `forward_image`, `loss_and_gradient` (float64 check path), `layer_params`
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnperf.engine import network as _net
from cnnperf.engine.layout import A_OFF, FAN_IN, Layout, build_layout

__all__ = ["Layout", "Workspace", "build_layout", "init_weights", "new_workspace", "train_images",
           "evaluate_images", "forward_image", "loss_and_gradient", "layer_params"]


def aligned_zeros(n: int, dtype=np.float32) -> np.ndarray:
    """Zeroed 1-D array of n items starting on a 64-byte boundary, with a 64-byte guard after
    it, so buffers of different workers never share a cache line."""
    itemsize = np.dtype(dtype).itemsize
    pad = 64 // itemsize
    raw = np.zeros(n + 3 * pad, dtype=dtype)
    start = (-raw.ctypes.data % 64) // itemsize
    return raw[start:start + n]


@dataclass(frozen=True, eq=False)
class Workspace:
    """One worker's network instance: activations, deltas, pooling arg-max, im2col and gradient buffers."""

    act: np.ndarray
    delta: np.ndarray
    arg: np.ndarray
    col: np.ndarray
    dcol: np.ndarray
    grad: np.ndarray
    gout: np.ndarray  # empty: update the weights; else receives the gradient (check path)
    bucket: np.ndarray  # int scratch: maps bucketed by arg-max pixel (sparse conv backward)
    rotate: float = 0.0  # where this worker's weight-update sweeps start (k/P for worker k of P)


def new_workspace(layout: Layout, dtype=np.float32, worker: tuple[int, int] = (0, 1)) -> Workspace:
    """Network instance of worker k of P (`worker=(k, P)`: sets its write schedule)."""
    z = lambda n: aligned_zeros(n, dtype)  # noqa: E731
    return Workspace(z(layout.act_size), z(layout.act_size), aligned_zeros(layout.arg_size, np.int64),
                     z(layout.col_size), z(layout.dcol_size), z(layout.grad_size), np.empty(0, dtype=dtype),
                     aligned_zeros(layout.bucket_size, np.int64), worker[0] / max(worker[1], 1))


def weighted_layers(layout: Layout) -> list[int]:
    return [s.index for s in layout.spec.shapes if s.weights]


def init_weights(layout: Layout, seed: int, dtype=np.float32) -> np.ndarray:
    """Seeded uniform initialisation in +-1/sqrt(fan_in) (weights and biases; PyTorch's default range)."""
    rng = np.random.default_rng(seed)
    w = aligned_zeros(layout.n_weights_padded, dtype)
    for i in weighted_layers(layout):
        bound = np.sqrt(3.0 / float(layout.desc[i, FAN_IN]))
        ws, bs = layout.weight_slices(i)
        w[ws] = rng.uniform(-bound, bound, ws.stop - ws.start)
        w[bs] = rng.uniform(-bound, bound, bs.stop - bs.start)
    return w


def layer_params(layout: Layout, weights: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Views (W, b) of layer `index` in PyTorch's shapes: conv (M, C, K, K), full (N, F)."""
    s = layout.spec.shapes[index]
    ws, bs = layout.weight_slices(index)
    prev = layout.spec.shapes[index - 1]
    shape = (s.maps, prev.maps, s.kernel, s.kernel) if s.kind == "conv" else (s.maps, s.fan_in)
    return weights[ws].reshape(shape), weights[bs]


def _rows(images: np.ndarray, dtype) -> np.ndarray:
    rows = images.reshape(len(images), -1)
    if rows.dtype != dtype or not rows.flags.c_contiguous:
        rows = np.ascontiguousarray(rows, dtype=dtype)
    return rows


def _check(layout: Layout, weights: np.ndarray, ws: Workspace) -> None:
    if weights.dtype != ws.act.dtype:
        raise TypeError(f"weights are {weights.dtype} but the workspace is {ws.act.dtype}")
    if weights.shape != (layout.n_weights_padded,):
        raise ValueError(f"weights have shape {weights.shape}, layout needs ({layout.n_weights_padded},)")


def train_images(layout: Layout, weights, ws: Workspace, images, labels, lo: int, hi: int, lr: float) -> tuple[int, float]:
    """Per-image SGD over images[lo:hi], updating `weights` in place. Returns (errors, loss sum)."""
    _check(layout, weights, ws)
    e, loss = _net.train_images(layout.desc, weights, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, ws.gout, ws.bucket,
                                _rows(images, weights.dtype), np.asarray(labels, dtype=np.int64), lo, hi,
                                weights.dtype.type(lr), layout.activation, weights.dtype == np.float64, ws.rotate)
    return int(e), float(loss)


def evaluate_images(layout: Layout, weights, ws: Workspace, images, labels, lo: int, hi: int) -> tuple[int, float]:
    """Forward only over images[lo:hi]. Returns (errors, loss sum)."""
    _check(layout, weights, ws)
    e, loss = _net.evaluate_images(layout.desc, weights, ws.act, ws.delta, ws.arg, ws.col,
                                   _rows(images, weights.dtype), np.asarray(labels, dtype=np.int64), lo, hi,
                                   layout.activation, weights.dtype == np.float64)
    return int(e), float(loss)


def forward_image(layout: Layout, weights, ws: Workspace, image) -> np.ndarray:
    """Softmax probabilities of one image."""
    evaluate_images(layout, weights, ws, np.asarray(image)[None], np.zeros(1, dtype=np.int64), 0, 1)
    out = layout.spec.shapes[-1]
    o = int(layout.desc[-1, A_OFF])
    logits = ws.act[o:o + out.neurons].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def loss_and_gradient(layout: Layout, weights: np.ndarray, image, label: int) -> tuple[float, np.ndarray]:
    """Float64 check path: cross-entropy loss of one image and the gradient w.r.t. every weight
    (same flat layout as `weights`), computed by the same kernels without updating."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    base = new_workspace(layout, np.float64)
    gout = np.zeros(layout.n_weights_padded)
    ws = Workspace(base.act, base.delta, base.arg, base.col, base.dcol, base.grad, gout, base.bucket)
    x = np.asarray(image, dtype=np.float64)[None]
    _, loss = _net.train_images(layout.desc, w, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, gout, ws.bucket,
                                _rows(x, np.float64), np.array([label], dtype=np.int64), 0, 1, 1.0,
                                layout.activation, True, 0.0)
    return float(loss), gout


def loss_only(layout: Layout, weights: np.ndarray, image, label: int) -> float:
    """Float64 loss of one image (for finite differences)."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    ws = new_workspace(layout, np.float64)
    _, loss = evaluate_images(layout, w, ws, np.asarray(image, dtype=np.float64)[None], np.array([label]), 0, 1)
    return loss
