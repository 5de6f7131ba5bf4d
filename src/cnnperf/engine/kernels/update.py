"""The once-per-layer write of an update into the shared weights (write scheduling)."""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.base import U, inner_kernel


@inner_kernel
def apply_update(W, w_off, b_off, n_w, n_b, grad, gb, lr, gout, rotate):
    """Write one layer's update into the (shared) weights: W -= lr * grad, once per weight.

    Write scheduling: the sweep starts at fraction `rotate` of the block (worker k of P uses
    k/P), so workers updating the same layer at the same moment write different cache lines.
    With a `gout` array (float64 check path; None otherwise) the gradient is stored there instead.
    """
    if gout is not None:
        for i in range(n_w):
            gout[U(w_off + i)] = grad[U(i)]
        for i in range(n_b):
            gout[U(b_off + i)] = grad[U(gb + i)]
        return
    start = (np.int64(rotate * n_w) // 16) * 16
    for i in range(start, n_w):
        W[U(w_off + i)] -= lr * grad[U(i)]
    for i in range(start):
        W[U(w_off + i)] -= lr * grad[U(i)]
    for i in range(n_b):
        W[U(b_off + i)] -= lr * grad[U(gb + i)]
