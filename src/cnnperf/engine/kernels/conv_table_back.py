"""Convolution with a connection table, backward of a dense delta (weight gradient, bias gradient,
input delta).

Dense delta (no max pooling after the layer): the delta is copied into padded rows (Pp
columns, zero padding), the gradient of connection (m, c) is dz[m] . colT[c, t] per tap (four
maps sharing each column load, two taps at a time), and the input delta goes through a
transposed column gradient dcolT[c, t] = sum over the maps of input c of W[m, c, t] dz[m] and
its adjoint col2im (under max pooling: `conv_table_pooled`).
Scratch (`scratch`, the worker's dcol buffer) holds the padded delta and dcolT.
"""

from __future__ import annotations

from cnnperf.engine.kernels.base import ZERO, U, entry_kernel
from cnnperf.engine.kernels.conv_table import padded, table_offsets
from cnnperf.engine.kernels.simd import (
    store_sums,
    vadd,
    vfma,
    vkeep16,
    vload,
    vsplat,
    vstore,
    vsum,
)


@entry_kernel
def grad_tile_4x2(dzp, m0, m1, m2, m3, Pp, col, r, grad, g0, g1, g2, g3):
    """grad[g_i], grad[g_i + 1] = dz[m_i] . colT rows r and r + Pp, for four maps."""
    z = vsplat(dzp, 0.0)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    for p in range(0, Pp, 16):
        x0, x1 = vload(col, r + p), vload(col, r + Pp + p)
        d = vload(dzp, m0 * Pp + p)
        a0, b0 = vfma(a0, d, x0), vfma(b0, d, x1)
        d = vload(dzp, m1 * Pp + p)
        a1, b1 = vfma(a1, d, x0), vfma(b1, d, x1)
        d = vload(dzp, m2 * Pp + p)
        a2, b2 = vfma(a2, d, x0), vfma(b2, d, x1)
        d = vload(dzp, m3 * Pp + p)
        a3, b3 = vfma(a3, d, x0), vfma(b3, d, x1)
    grad[U(g0)], grad[U(g0 + 1)] = vsum(a0), vsum(b0)
    grad[U(g1)], grad[U(g1 + 1)] = vsum(a1), vsum(b1)
    grad[U(g2)], grad[U(g2 + 1)] = vsum(a2), vsum(b2)
    grad[U(g3)], grad[U(g3 + 1)] = vsum(a3), vsum(b3)


@entry_kernel
def grad_row(dzp, m, Pp, col, r, KK, grad, g, taps):
    """grad[g + t] = dz[m] . colT row r + t*Pp for `taps` (1..4) taps."""
    z = vsplat(dzp, 0.0)
    a0 = a1 = a2 = a3 = z
    for p in range(0, Pp, 16):
        d = vload(dzp, m * Pp + p)
        a0 = vfma(a0, d, vload(col, r + p))
        if taps > 1:
            a1 = vfma(a1, d, vload(col, r + Pp + p))
        if taps > 2:
            a2 = vfma(a2, d, vload(col, r + 2 * Pp + p))
        if taps > 3:
            a3 = vfma(a3, d, vload(col, r + 3 * Pp + p))
    store_sums(grad, g, taps, a0, a1, a2, a3)


@entry_kernel
def dcol_tile(W, w_off, conn, pairs, e0, e1, dzp, Pp, dcol, d_off, t, taps, p0, chunks):
    """dcolT[t + i, p0 : p0 + 16*chunks] = sum over connections e0..e1 of input c of W[m, c, t + i] dz[m]."""
    z = vsplat(dzp, 0.0)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    for e in range(e0, e1):
        m, w = conn[U(pairs + 2 * e)], w_off + conn[U(pairs + 2 * e + 1)] + t
        x0, x1 = vload(dzp, m * Pp + p0), vload(dzp, m * Pp + p0 + 16 * (chunks - 1))
        v = vsplat(W, W[U(w)])
        a0, b0 = vfma(a0, v, x0), vfma(b0, v, x1)
        if taps > 1:
            v = vsplat(W, W[U(w + 1)])
            a1, b1 = vfma(a1, v, x0), vfma(b1, v, x1)
        if taps > 2:
            v = vsplat(W, W[U(w + 2)])
            a2, b2 = vfma(a2, v, x0), vfma(b2, v, x1)
        if taps > 3:
            v = vsplat(W, W[U(w + 3)])
            a3, b3 = vfma(a3, v, x0), vfma(b3, v, x1)
    r = d_off + t * Pp + p0
    vstore(dcol, r, a0)
    if taps > 1:
        vstore(dcol, r + Pp, a1)
    if taps > 2:
        vstore(dcol, r + 2 * Pp, a2)
    if taps > 3:
        vstore(dcol, r + 3 * Pp, a3)
    if chunks == 2:
        vstore(dcol, r + 16, b0)
        if taps > 1:
            vstore(dcol, r + Pp + 16, b1)
        if taps > 2:
            vstore(dcol, r + 2 * Pp + 16, b2)
        if taps > 3:
            vstore(dcol, r + 3 * Pp + 16, b3)


@entry_kernel
def col2im_t(dcol, s_off, C, H, K, dx, dx_off):
    """dx[c, oy+ky, ox+kx] = sum over taps of dcolT[c, t, oy*O + ox] (adjoint of im2col_t): one 16-lane
    add per output row (lanes past the row add zero and write their values back unchanged); the input
    maps are the inner loop, so consecutive adds never overlap, and the rows go in S passes of every
    S-th row (S = the 16-lane span of a row's adds over H, rounded up), so no add overlaps the adds
    of the row before it, still in flight (its load would wait for their stores)."""
    O = H - K + 1
    Pp = padded(O * O)
    S = (padded(O) + H - 1) // H
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for ky in range(K):
        for kx in range(K):
            for s0 in range(S):
                for oy in range(s0, O, S):
                    for c in range(C):
                        src = s_off + (c * K * K + ky * K + kx) * Pp + oy * O
                        dst = dx_off + c * H * H + (oy + ky) * H + kx
                        for ox in range(0, O, 16):
                            vstore(dx, dst + ox, vadd(vload(dx, dst + ox), vkeep16(vload(dcol, src + ox), O - ox)))


@entry_kernel
def table_backward_dense(W, w_off, M, C, H, K, conn, co, n, dz, z_off, col, c_off, grad, gb, scratch, dx, dx_off,
                         need_dx):
    """Gradient (weights at grad[j*K*K + t], biases at grad[gb + m]) and, with need_dx, the input delta."""
    KK, O = K * K, H - K + 1
    P = O * O
    Pp = padded(P)
    in_start, pairs, _, _ = table_offsets(co, C, M, n)
    for m in range(M):  # padded copy of the delta; bias gradient
        s = ZERO
        for p in range(P):
            v = dz[U(z_off + m * P + p)]
            scratch[U(m * Pp + p)] = v
            s += v
        for p in range(P, Pp):
            scratch[U(m * Pp + p)] = ZERO
        grad[U(gb + m)] = s
    for c in range(C):
        rc = c_off + c * KK * Pp
        e, e1 = conn[U(in_start + c)], conn[U(in_start + c + 1)]
        while e + 4 <= e1:
            q = pairs + 2 * e
            t = 0
            while t + 2 <= KK:
                grad_tile_4x2(scratch, conn[U(q)], conn[U(q + 2)], conn[U(q + 4)], conn[U(q + 6)], Pp, col,
                              rc + t * Pp, grad, conn[U(q + 1)] + t, conn[U(q + 3)] + t, conn[U(q + 5)] + t,
                              conn[U(q + 7)] + t)
                t += 2
            if t < KK:
                for k in range(4):
                    grad_row(scratch, conn[U(q + 2 * k)], Pp, col, rc + t * Pp, KK, grad, conn[U(q + 2 * k + 1)] + t, 1)
            e += 4
        while e < e1:
            q = pairs + 2 * e
            for t in range(0, KK, 4):
                grad_row(scratch, conn[U(q)], Pp, col, rc + t * Pp, KK, grad, conn[U(q + 1)] + t, min(4, KK - t))
            e += 1
    if not need_dx:
        return
    d_off = M * Pp
    for c in range(C):
        e0, e1 = conn[U(in_start + c)], conn[U(in_start + c + 1)]
        r = d_off + c * KK * Pp
        for t in range(0, KK, 4):
            p0 = 0
            while p0 < Pp:
                chunks = 2 if p0 + 32 <= Pp else 1
                dcol_tile(W, w_off, conn, pairs, e0, e1, scratch, Pp, scratch, r, t, min(4, KK - t), p0, chunks)
                p0 += 16 * chunks
    col2im_t(scratch, d_off, C, H, K, dx, dx_off)
