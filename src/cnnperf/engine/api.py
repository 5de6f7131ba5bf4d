"""The engine's Python face: checks and wrappers around the Numba loops (importing this module
loads, or on a cold cache compiles, the kernels)."""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels import network as _net
from cnnperf.engine.layout import A_OFF, Layout, build_layout
from cnnperf.engine.store import Workspace, aligned_zeros, init_weights, layer_params, new_workspace, weighted_layers

__all__ = ["Layout", "Workspace", "aligned_zeros", "build_layout", "evaluate_images", "forward_image", "init_weights",
           "layer_params", "loss_and_gradient", "loss_only", "new_workspace", "train_images", "weighted_layers"]


def _rows(layout: Layout, images: np.ndarray, dtype) -> np.ndarray:
    """Images as C-contiguous rows of the weights' dtype; refuses rows that are not the input layer's size."""
    images = np.asarray(images)
    rows = images.reshape(len(images), -1)
    if rows.shape[1] != layout.spec.shapes[0].neurons:
        raise ValueError(f"images have {rows.shape[1]} values each, the input layer {layout.spec.shapes[0].neurons}")
    if rows.dtype != dtype or not rows.flags.c_contiguous:
        rows = np.ascontiguousarray(rows, dtype=dtype)
    return rows


def _labels(layout: Layout, labels, rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Labels as int64; refuses a range outside the images or a label outside the classes
    (the kernels index without bounds checks)."""
    labels = np.asarray(labels, dtype=np.int64)
    if not 0 <= lo <= hi <= min(len(rows), len(labels)):
        raise ValueError(f"image range [{lo}, {hi}) outside the {len(rows)} images / {len(labels)} labels")
    part = labels[lo:hi]
    if part.size and (part.min() < 0 or part.max() >= layout.spec.n_classes):
        raise ValueError(f"labels must lie in [0, {layout.spec.n_classes}), got {part.min()}..{part.max()}")
    return labels


def _check(layout: Layout, weights: np.ndarray, ws: Workspace) -> None:
    if weights.dtype != ws.act.dtype:
        raise TypeError(f"weights are {weights.dtype} but the workspace is {ws.act.dtype}")
    if weights.shape != (layout.n_weights_padded,):
        raise ValueError(f"weights have shape {weights.shape}, layout needs ({layout.n_weights_padded},)")


def options(layout: Layout, weights: np.ndarray, gout: np.ndarray | None = None) -> tuple:
    """The kernels' last arguments (conn, dense, direct_dense, extra, exact, gout): None for every
    kernel group the network does not run, so it is not compiled (float32: no exact activations; no
    gradient output but on the check path). The float64 check path (tests only) compiles every group
    once for all networks instead: the layer descriptors still choose what runs."""
    g = layout.groups
    check = weights.dtype == np.float64
    return (layout.conn if check or "table" in g else None, 1 if check or "dense" in g else None,
            1 if check or "direct_dense" in g else None, 1 if check or "extra" in g else None,
            True if check else None, gout if gout is not None and gout.size else None)


def loop_args(layout: Layout, weights, ws: Workspace, rows, labels, lo: int, hi: int, lr: float, train: bool) -> tuple:
    """The arguments of the per-image loop (`kernels.network.run_images`), in its order."""
    return (layout.desc, weights, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, ws.bucket, rows, labels, lo, hi,
            weights.dtype.type(lr), layout.activation, ws.rotate, ws.prefetch, train,
            *options(layout, weights, ws.gout))


def train_images(
    layout: Layout, weights, ws: Workspace, images, labels, lo: int, hi: int, lr: float
) -> tuple[int, float]:
    """Per-image SGD over images[lo:hi], updating `weights` in place. Returns (errors, loss sum)."""
    _check(layout, weights, ws)
    rows = _rows(layout, images, weights.dtype)
    e, loss = _net.run_images(*loop_args(layout, weights, ws, rows, _labels(layout, labels, rows, lo, hi), lo, hi, lr,
                                         True))
    return int(e), float(loss)


def evaluate_images(layout: Layout, weights, ws: Workspace, images, labels, lo: int, hi: int) -> tuple[int, float]:
    """Forward only over images[lo:hi]. Returns (errors, loss sum)."""
    _check(layout, weights, ws)
    rows = _rows(layout, images, weights.dtype)
    e, loss = _net.run_images(*loop_args(layout, weights, ws, rows, _labels(layout, labels, rows, lo, hi), lo, hi, 0,
                                         False))
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
    rows = _rows(layout, np.asarray(image, dtype=np.float64)[None], np.float64)
    _, loss = _net.run_images(layout.desc, w, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, ws.bucket, rows,
                              _labels(layout, [label], rows, 0, 1), 0, 1, 1.0, layout.activation, 0.0, 0, True,
                              *options(layout, w, gout))
    return float(loss), gout


def loss_only(layout: Layout, weights: np.ndarray, image, label: int) -> float:
    """Float64 loss of one image (for finite differences)."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    ws = new_workspace(layout, np.float64)
    _, loss = evaluate_images(layout, w, ws, np.asarray(image, dtype=np.float64)[None], np.array([label]), 0, 1)
    return loss
