"""Fully connected (and output) layers: forward, and backward with the update fused."""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.base import ZERO, U, inner_kernel
from cnnperf.engine.kernels.update import prefetch_lines


@inner_kernel
def full_forward(W, w_off, b_off, N, F, x, x_off, out, o_off):
    """out[n] = b[n] + sum_f W[n, f] * x[f]."""
    N4 = N - N % 4
    for n0 in range(0, N4, 4):
        w0, w1, w2, w3 = w_off + n0 * F, w_off + (n0 + 1) * F, w_off + (n0 + 2) * F, w_off + (n0 + 3) * F
        s0 = s1 = s2 = s3 = ZERO
        for f in range(F):
            v = x[U(x_off + f)]
            s0 += W[U(w0 + f)] * v
            s1 += W[U(w1 + f)] * v
            s2 += W[U(w2 + f)] * v
            s3 += W[U(w3 + f)] * v
        out[U(o_off + n0)] = W[U(b_off + n0)] + s0
        out[U(o_off + n0 + 1)] = W[U(b_off + n0 + 1)] + s1
        out[U(o_off + n0 + 2)] = W[U(b_off + n0 + 2)] + s2
        out[U(o_off + n0 + 3)] = W[U(b_off + n0 + 3)] + s3
    for n in range(N4, N):
        s = ZERO
        for f in range(F):
            s += W[U(w_off + n * F + f)] * x[U(x_off + f)]
        out[U(o_off + n)] = W[U(b_off + n)] + s


@inner_kernel
def full_backward(W, w_off, b_off, N, F, x, x_off, dz, d_off, dx, dx_off, need_dx, lr, gout, rotate, prefetch):
    """Fully connected backward with the update fused, row by row: dx += dz[n] * W[n, :] with the
    old row, then W[n, :] -= lr * dz[n] * x (the weights are written once, no gradient buffer).
    Rows start at fraction `rotate` of the layer (write schedule, as apply_update); with `prefetch`
    > 0 each row first fetches the next row's lines for writing. With a
    `gout` array (float64 check path; None otherwise, which prunes that code) the gradient goes
    there and W is left alone."""
    if need_dx:
        for f in range(F):
            dx[U(dx_off + f)] = ZERO
    start = np.int64(rotate * N)
    for k in range(N):
        n = start + k
        if n >= N:
            n -= N
        d = dz[U(d_off + n)]
        w = w_off + n * F
        if gout is None:
            prefetch_lines(W, w + F if n + 1 < N else w_off, F, prefetch)
        if need_dx:
            for f in range(F):
                dx[U(dx_off + f)] += d * W[U(w + f)]
        if gout is not None:
            for f in range(F):
                gout[U(w + f)] = d * x[U(x_off + f)]
            gout[U(b_off + n)] = d
        else:
            step = lr * d
            for f in range(F):
                W[U(w + f)] -= step * x[U(x_off + f)]
            W[U(b_off + n)] -= step
