"""First convolution on a one-map image: "wide" direct convolution and its gradient.

A wide row holds j = oy*H + ox over whole input rows (columns ox >= O are scratch), so every
tap is one long contiguous FMA stream; the layer needs no input delta (its input is the image).
Conventions as in `cnnperf.engine.kernels.conv`.
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, U, inner_kernel


@inner_kernel
def conv_forward_direct(W, w_off, b_off, x, x_off, H, M, K, wide, wd_off, out, o_off):
    """One input map, "wide" direct convolution: out[m, j] for j = oy*H + ox over whole input
    rows (columns ox >= O are discarded), so every tap is one long contiguous FMA stream."""
    O = H - K + 1
    J = (O - 1) * H + O
    for m in range(M):
        base = wd_off + m * J
        b = W[U(b_off + m)]
        for j in range(J):
            wide[U(base + j)] = b
        for ky in range(K):
            kx = 0
            while kx + 4 <= K:
                t = w_off + m * K * K + ky * K + kx
                w0, w1, w2, w3 = W[U(t)], W[U(t + 1)], W[U(t + 2)], W[U(t + 3)]
                src = x_off + ky * H + kx
                for j in range(J):
                    wide[U(base + j)] += (w0 * x[U(src + j)] + w1 * x[U(src + j + 1)]
                                          + w2 * x[U(src + j + 2)] + w3 * x[U(src + j + 3)])
                kx += 4
            while kx < K:
                w0 = W[U(w_off + m * K * K + ky * K + kx)]
                src = x_off + ky * H + kx
                for j in range(J):
                    wide[U(base + j)] += w0 * x[U(src + j)]
                kx += 1
        for oy in range(O):
            dst, src = o_off + m * O * O + oy * O, base + oy * H
            for ox in range(O):
                out[U(dst + ox)] = wide[U(src + ox)]


@inner_kernel
def wide_delta_sparse(M, O, H, nq, y, y_off, dpool, p_off, arg, g_off, kind, dzw, w_off):
    """First layer under pooling: scatter the arg-max deltas (through f') into wide rows (j = oy*H + ox)."""
    J = (O - 1) * H + O
    for i in range(M * J):
        dzw[U(w_off + i)] = ZERO
    for m in range(M):
        for q in range(nq):
            pix = arg[U(g_off + m * nq + q)]
            d = dpool[U(p_off + m * nq + q)] * derivative(y[U(y_off + m * O * O + pix)], kind)
            dzw[U(w_off + m * J + (pix // O) * H + pix % O)] = d


@inner_kernel
def wide_delta_dense(M, O, H, dz, z_off, dzw, w_off):
    """First layer, dense delta (through f'): copy into wide rows, zeros in the ox >= O columns."""
    J = (O - 1) * H + O
    for m in range(M):
        for oy in range(O):
            dst, src = w_off + m * J + oy * H, z_off + m * O * O + oy * O
            for ox in range(O):
                dzw[U(dst + ox)] = dz[U(src + ox)]
            if oy < O - 1:
                for ox in range(O, H):
                    dzw[U(dst + ox)] = ZERO


@inner_kernel
def conv_grad_direct(M, K, H, O, x, x_off, dzw, w_off, grad, gb):
    """One-map first layer: grad[m, ky, kx] = sum_j dzw[m, j] * x[j + ky*H + kx] (long dot products)."""
    J = (O - 1) * H + O
    for m in range(M):
        row = w_off + m * J
        s = ZERO
        for j in range(J):
            s += dzw[U(row + j)]
        grad[U(gb + m)] = s
        for ky in range(K):
            for kx in range(K):
                src = x_off + ky * H + kx
                t = ZERO
                for j in range(J):
                    t += dzw[U(row + j)] * x[U(src + j)]
                grad[U(m * K * K + ky * K + kx)] = t
