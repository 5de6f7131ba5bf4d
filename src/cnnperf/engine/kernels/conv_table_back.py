"""Convolution with a connection table, backward (weight gradient, bias gradient, input delta).

Dense delta (no max pooling after the layer): the delta is copied into padded rows (Pp
columns, zero padding), the gradient of connection (m, c) is dz[m] . colT[c, t] per tap (four
maps sharing each column load, two taps at a time), and the input delta goes through a
transposed column gradient dcolT[c, t] = sum over the maps of input c of W[m, c, t] dz[m] and
its adjoint col2im. Under max pooling only the arg-max pixel of every window has a delta; both
products then run over the layer's pieces, 8 taps of a kernel row (ceil(K/8) per row), whose input
offsets the connection block holds (`cnnperf.engine.layout.table_block`): the gradient of a piece
sums, over the arg-max pixels of its map, the delta times the input row the piece's taps cover
there (eight pieces of one map at a time, in registers), and the input delta adds the delta times
the piece's taps into that row. With AVX-512 (`MASKED_STORES`) only the taps are stored (a masked
store): the lanes past them would overlap a later window's row and make its load wait (about 6 %
of medium-r10's layer-3 backward, measured); an AVX2 masked store (vmaskmovps) measured 1.6x
slower for the whole train step, so there the lanes past the taps add zero (W read with them masked
off) and are written back unchanged.
Scratch (`scratch`, the worker's dcol buffer) holds the padded delta and dcolT of a dense delta.
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, I, U, entry_kernel, inline_kernel
from cnnperf.engine.kernels.conv_table import padded, table_offsets, table_pieces
from cnnperf.engine.kernels.simd import (
    VL,
    store_sums,
    vadd,
    vfma,
    vkeep8,
    vkeep16,
    vload,
    vload8,
    vsplat,
    vsplat8,
    vstore,
    vstore8,
    vstore_first8,
    vsum,
)

MASKED_STORES = VL == 16  # k-masked stores (AVX-512) are as fast as plain ones; AVX2's vmaskmovps is not


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


@inline_kernel
def piece_weight(k, K, nv):
    """Offset of piece k's 8 taps in its layer's weights (and gradient): kernel row k // nv (rows of all
    connections in order), from tap 8 * (k % nv) (`cnnperf.engine.layout.table_block`)."""
    return k * K if nv == 1 else (k // nv) * K + 8 * (k % nv)


@entry_kernel
def piece_sums(x, woff, g0, Q, dpool, d0, grad, cnt, x0, x1, x2, x3, x4, x5, x6, x7, o0, o1, o2, o3, o4, o5,
               o6, o7):
    """grad[o_i : o_i + 8] = sum_q dpool[d0 + q] * x[x_i + woff[g0 + q] : ... + 8] for the first `cnt`
    (1..8) pieces of one output map (they share every delta): eight FMA chains of 8 lanes. Stores
    are unmasked, in the pieces' (ascending) order: lanes past a row's taps are overwritten later."""
    z = vsplat8(x, 0.0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
    for q in range(Q):
        w = woff[U(g0 + q)]
        d = vsplat8(x, dpool[U(d0 + q)])
        a0 = vfma(a0, d, vload8(x, x0 + w))
        if cnt > 1:
            a1 = vfma(a1, d, vload8(x, x1 + w))
        if cnt > 2:
            a2 = vfma(a2, d, vload8(x, x2 + w))
        if cnt > 3:
            a3 = vfma(a3, d, vload8(x, x3 + w))
        if cnt > 4:
            a4 = vfma(a4, d, vload8(x, x4 + w))
        if cnt > 5:
            a5 = vfma(a5, d, vload8(x, x5 + w))
        if cnt > 6:
            a6 = vfma(a6, d, vload8(x, x6 + w))
        if cnt > 7:
            a7 = vfma(a7, d, vload8(x, x7 + w))
    vstore8(grad, o0, a0)
    if cnt > 1:
        vstore8(grad, o1, a1)
    if cnt > 2:
        vstore8(grad, o2, a2)
    if cnt > 3:
        vstore8(grad, o3, a3)
    if cnt > 4:
        vstore8(grad, o4, a4)
    if cnt > 5:
        vstore8(grad, o5, a5)
    if cnt > 6:
        vstore8(grad, o6, a6)
    if cnt > 7:
        vstore8(grad, o7, a7)


@inline_kernel
def map_gradient(x, x_off, K, nv, conn, pc, k0, k1, woff, g0, Q, dpool, d0, grad):
    """The gradient of pieces k0 .. k1 - 1 (one output map's connections) under max pooling, eight at a
    time (`piece_sums`; the input offsets of pieces past k1 are k1 - 1's, never stored)."""
    k = k0
    while k < k1:
        last = k1 - 1
        x0, x1 = x_off + conn[U(pc + k)], x_off + conn[U(pc + min(k + 1, last))]
        x2, x3 = x_off + conn[U(pc + min(k + 2, last))], x_off + conn[U(pc + min(k + 3, last))]
        x4, x5 = x_off + conn[U(pc + min(k + 4, last))], x_off + conn[U(pc + min(k + 5, last))]
        x6, x7 = x_off + conn[U(pc + min(k + 6, last))], x_off + conn[U(pc + min(k + 7, last))]
        piece_sums(x, woff, g0, Q, dpool, d0, grad, min(k1 - k, 8), x0, x1, x2, x3, x4, x5, x6, x7,
                   piece_weight(k, K, nv), piece_weight(k + 1, K, nv), piece_weight(k + 2, K, nv),
                   piece_weight(k + 3, K, nv), piece_weight(k + 4, K, nv), piece_weight(k + 5, K, nv),
                   piece_weight(k + 6, K, nv), piece_weight(k + 7, K, nv))
        k += 8


@entry_kernel
def table_backward_pooled(W, w_off, M, C, H, K, Q, conn, co, n, y, dpool, p_off, arg, g_off, kind, x, x_off,
                          grad, gb, woff, dx, dx_off, need_dx):
    """Under max pooling (Q pooled pixels per map, arg-max in `arg`): gradient and input delta
    from the arg-max pixels only, both over the layer's pieces (8 taps of a kernel row, ceil(K/8)
    per row; their input offsets in `conn`): the gradient sums each piece's window rows in registers
    (`map_gradient`), the input delta adds each piece's taps times the delta into its window row.
    The pooled delta is turned into d (times f') in place; `woff` (int scratch, M*Q) receives each
    arg-max pixel's window offset oy*H + ox."""
    O = H - K + 1
    nv = (K + 7) // 8  # 8-lane pieces per kernel row
    _, _, _, map_start = table_offsets(co, C, M, n)
    inv_o = 1.0 / O  # the row of pixel j = oy*O + ox is int((j + 0.5) / O), exact: no integer division
    for m in range(M):
        for q in range(Q):
            pix = arg[U(g_off + m * Q + q)]
            woff[U(m * Q + q)] = pix + I((pix + 0.5) * inv_o) * (H - O)  # oy*H + ox
            dpool[U(p_off + m * Q + q)] *= derivative(y[U(p_off + m * Q + q)], kind)  # y at the arg-max: pooled
    pc, R = table_pieces(co, C, M, n), K * nv  # R pieces per connection
    for m in range(M):  # ascending: each map's stores overwrite the previous map's extra lanes
        k0, k1 = conn[U(map_start + m)] * R, conn[U(map_start + m + 1)] * R
        map_gradient(x, x_off, K, nv, conn, pc, k0, k1, woff, m * Q, Q, dpool, p_off + m * Q, grad)
    for m in range(M):  # after the weights: the last row's extra lanes may reach the biases
        s = ZERO
        for q in range(Q):
            s += dpool[U(p_off + m * Q + q)]
        grad[U(gb + m)] = s
    if not need_dx:
        return
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    if nv == 1:
        connection_rows_dx(W, w_off, M, H, K, Q, conn, map_start, pc, dpool, p_off, woff, dx, dx_off)
        return
    for m in range(M):  # map by map, pixel by pixel: consecutive windows land on different input maps
        for q in range(Q):
            e = vsplat8(dx, dpool[U(p_off + m * Q + q)])
            base = dx_off + woff[U(m * Q + q)]
            k0, k1 = conn[U(map_start + m)] * R, conn[U(map_start + m + 1)] * R
            for k in range(k0, k1):
                a, taps = base + conn[U(pc + k)], K - 8 * (k % nv)
                w = vload8(W, w_off + piece_weight(k, K, nv))
                if MASKED_STORES:
                    vstore_first8(dx, a, vfma(vload8(dx, a), e, w), taps)
                else:
                    vstore8(dx, a, vfma(vload8(dx, a), e, vkeep8(w, taps)))


@inline_kernel
def row_dx(dx, a, e, W, w, taps):
    """dx[a : a + taps] += e * W[w : w + taps] (8 lanes; AVX-512: a masked store of the taps, AVX2:
    the lanes past them add zero)."""
    if MASKED_STORES:
        vstore_first8(dx, a, vfma(vload8(dx, a), e, vload8(W, w)), taps)
    else:
        vstore8(dx, a, vfma(vload8(dx, a), e, vkeep8(vload8(W, w), taps)))


@inline_kernel
def connection_rows_dx(W, w_off, M, H, K, Q, conn, map_start, pc, dpool, p_off, woff, dx, dx_off):
    """The pooled input delta of `table_backward_pooled` for kernels of at most 8 taps a row (one piece
    per row): per connection of a window, its K rows written out (rows H apart in the input, K apart in
    the weights), the same adds in the same order as piece by piece. Written out: a loop over the rows
    measured 1.6-1.8x slower than piece by piece (medium-r10's input delta, in the kernel), this form
    3-5 % faster; the train step gained within its noise (0-7 % of the ratio, 4 pairs)."""
    KK = K * K
    for m in range(M):
        j0, j1 = conn[U(map_start + m)], conn[U(map_start + m + 1)]
        for q in range(Q):
            e = vsplat8(dx, dpool[U(p_off + m * Q + q)])
            base = dx_off + woff[U(m * Q + q)]
            for j in range(j0, j1):
                a, w = base + conn[U(pc + j * K)], w_off + j * KK
                row_dx(dx, a, e, W, w, K)
                if K > 1:
                    row_dx(dx, a + H, e, W, w + K, K)
                if K > 2:
                    row_dx(dx, a + 2 * H, e, W, w + 2 * K, K)
                if K > 3:
                    row_dx(dx, a + 3 * H, e, W, w + 3 * K, K)
                if K > 4:
                    row_dx(dx, a + 4 * H, e, W, w + 4 * K, K)
                if K > 5:
                    row_dx(dx, a + 5 * H, e, W, w + 5 * K, K)
                if K > 6:
                    row_dx(dx, a + 6 * H, e, W, w + 6 * K, K)
                if K > 7:
                    row_dx(dx, a + 7 * H, e, W, w + 7 * K, K)
