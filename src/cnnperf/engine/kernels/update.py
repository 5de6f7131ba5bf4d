"""The once-per-layer write of an update into the (shared) weights, and its write schedule."""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.base import U, inline_kernel, inner_kernel
from cnnperf.engine.kernels.simd import prefetch_write

LINE = 16  # floats per 64-byte cache line (fp32; the float64 check path never writes W)
CHUNK = 8 * LINE  # weights written between two rounds of prefetches


@inline_kernel
def prefetch_lines(W, first, n, on):
    """With `on` > 0, prefetch for writing the lines holding W[first : first + n]."""
    if on > 0:
        for j in range(first, first + n + LINE - 1, LINE):
            prefetch_write(W, U(j))


@inline_kernel
def sweep(W, w_off, lo, hi, grad, lr, prefetch):
    """W[w_off + i] -= lr * grad[i] for i in [lo, hi), in chunks of CHUNK weights, each chunk
    prefetching for writing the lines `prefetch` lines ahead of it."""
    for c0 in range(lo, hi, CHUNK):
        c1 = min(c0 + CHUNK, hi)
        prefetch_lines(W, w_off + c0 + prefetch * LINE, c1 - c0, prefetch)
        for i in range(c0, c1):
            W[U(w_off + i)] -= lr * grad[U(i)]


@inner_kernel
def apply_update(W, w_off, b_off, n_w, n_b, grad, gb, lr, gout, rotate, prefetch):
    """Write one layer's update into the (shared) weights: W -= lr * grad, once per weight.

    Write schedule: the sweep starts at fraction `rotate` of the block, on a cache line (worker k
    of P uses k/P), so workers updating the same layer at the same moment write different lines;
    with `prefetch` > 0 every chunk fetches the lines that many lines ahead for writing first.
    With a `gout` array (float64 check path; None otherwise) the gradient is stored there instead.
    """
    if gout is not None:
        for i in range(n_w):
            gout[U(w_off + i)] = grad[U(i)]
        for i in range(n_b):
            gout[U(b_off + i)] = grad[U(gb + i)]
        return
    start = (np.int64(rotate * n_w) // LINE) * LINE
    for part in range(2):  # [start, n_w), then [0, start): one loop, so the sweep is compiled once
        sweep(W, w_off, start if part == 0 else 0, n_w if part == 0 else start, grad, lr, prefetch)
    for i in range(n_b):
        W[U(b_off + i)] -= lr * grad[U(gb + i)]
