"""Fully connected (and output) layers: forward, and backward with the update fused."""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.base import ZERO, U, inline_kernel, inner_kernel
from cnnperf.engine.kernels.simd import PAD, vfma, vload, vsplat, vstore
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


@inline_kernel
def row_of(k, start, N):
    """The k-th row of a sweep that starts at row `start` and wraps around N rows."""
    n = start + k
    return n - N if n >= N else n


@inline_kernel
def rows_backward_4(W, n0, n1, n2, n3, w_off, b_off, F, x, x_off, dz, d_off, dx, dx_off, need_dx, lr, prefetch,
                    p0, p1, p2, p3):
    """Rows n0..n3 of `full_backward` in one pass over F: dx += dz[n_i] * W[n_i, :] in row order (the
    same additions, in the same order, as four rows one by one; one load and store of dx per four
    rows), then W[n_i, :] -= lr * dz[n_i] * x. Prefetches rows p0..p3 (the next four) for writing."""
    for p in (p0, p1, p2, p3):
        prefetch_lines(W, w_off + p * F, F, prefetch)
    d0, d1, d2, d3 = dz[U(d_off + n0)], dz[U(d_off + n1)], dz[U(d_off + n2)], dz[U(d_off + n3)]
    w0, w1, w2, w3 = w_off + n0 * F, w_off + n1 * F, w_off + n2 * F, w_off + n3 * F
    e0, e1, e2, e3 = vsplat(W, d0), vsplat(W, d1), vsplat(W, d2), vsplat(W, d3)
    t0, t1, t2, t3 = lr * d0, lr * d1, lr * d2, lr * d3
    s0, s1, s2, s3 = vsplat(W, -t0), vsplat(W, -t1), vsplat(W, -t2), vsplat(W, -t3)
    F16 = F - F % PAD
    for f in range(0, F16, PAD):
        a0, a1, a2, a3 = vload(W, w0 + f), vload(W, w1 + f), vload(W, w2 + f), vload(W, w3 + f)
        if need_dx:
            vstore(dx, dx_off + f, vfma(vfma(vfma(vfma(vload(dx, dx_off + f), e0, a0), e1, a1), e2, a2), e3, a3))
        v = vload(x, x_off + f)
        vstore(W, w0 + f, vfma(a0, s0, v))
        vstore(W, w1 + f, vfma(a1, s1, v))
        vstore(W, w2 + f, vfma(a2, s2, v))
        vstore(W, w3 + f, vfma(a3, s3, v))
    for f in range(F16, F):
        a0, a1, a2, a3 = W[U(w0 + f)], W[U(w1 + f)], W[U(w2 + f)], W[U(w3 + f)]
        if need_dx:
            dx[U(dx_off + f)] = (((dx[U(dx_off + f)] + d0 * a0) + d1 * a1) + d2 * a2) + d3 * a3
        v = x[U(x_off + f)]
        W[U(w0 + f)], W[U(w1 + f)] = a0 - t0 * v, a1 - t1 * v
        W[U(w2 + f)], W[U(w3 + f)] = a2 - t2 * v, a3 - t3 * v
    W[U(b_off + n0)] -= t0
    W[U(b_off + n1)] -= t1
    W[U(b_off + n2)] -= t2
    W[U(b_off + n3)] -= t3


@inner_kernel
def full_backward(W, w_off, b_off, N, F, x, x_off, dz, d_off, dx, dx_off, need_dx, lr, gout, rotate, prefetch):
    """Fully connected backward with the update fused: dx += dz[n] * W[n, :] with the old row, then
    W[n, :] -= lr * dz[n] * x (the weights are written once, no gradient buffer), four rows per pass
    (`rows_backward_4`), the last N mod 4 one by one. Rows start at fraction `rotate` of the layer
    (write schedule, as apply_update); with `prefetch` > 0 the next rows' lines are fetched for
    writing first. With a `gout` array (float64 check path; None otherwise, which prunes that code)
    the gradient goes there and W is left alone."""
    if need_dx:
        for f in range(F):
            dx[U(dx_off + f)] = ZERO
    start = np.int64(rotate * N)
    k0 = 0
    if gout is None:
        N4 = N - N % 4
        for k in range(0, N4, 4):
            rows_backward_4(W, row_of(k, start, N), row_of(k + 1, start, N), row_of(k + 2, start, N),
                            row_of(k + 3, start, N), w_off, b_off, F, x, x_off, dz, d_off, dx, dx_off, need_dx, lr,
                            prefetch, row_of(min(k + 4, N - 1), start, N), row_of(min(k + 5, N - 1), start, N),
                            row_of(min(k + 6, N - 1), start, N), row_of(min(k + 7, N - 1), start, N))
        k0 = N4
    for k in range(k0, N):
        n = row_of(k, start, N)
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
