"""Convolution with a connection table, backward (weight gradient, bias gradient, input delta).

Dense delta (no max pooling after the layer): the delta is copied into padded rows (Pp
columns, zero padding), the gradient of connection (m, c) is dz[m] . colT[c, t] per tap (four
maps sharing each column load, two taps at a time), and the input delta goes through a
transposed column gradient dcolT[c, t] = sum over the maps of input c of W[m, c, t] dz[m] and
its adjoint col2im. Under max pooling only the arg-max pixel of every window has a delta: the
gradient of (m, c) accumulates, per arg-max pixel, the input map's window of (K-1)*H + K values
starting at that pixel (contiguous "wide" rows; the K x K taps are copied out of it), and the
input delta adds the delta times the kernel into the same window row by row (8-lane vectors;
lanes past the K taps meet zeros: row by row, fewer accesses split cache lines than whole
windows). Scratch (`scratch`, the worker's dcol buffer) holds the padded delta and dcolT, or
the windows and the kernels in rows of 8-lane vectors.
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, I, U, kernel
from cnnperf.engine.kernels.conv_table import padded, table_offsets
from cnnperf.engine.kernels.simd import store_sums, vfma, vload, vload8, vmul, vsplat, vsplat8, vstore, vstore8, vsum


@kernel
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


@kernel
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


@kernel
def dcol_tile(W, w_off, conn, pairs, e0, e1, dzp, Pp, dcol, d_off, t, taps, p0, chunks):
    """dcolT[t + i, p0 : p0 + 16*chunks] = sum over connections e0..e1 of input c of W[m, c, t + i] dz[m]."""
    z = vsplat(dzp, 0.0)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    for e in range(e0, e1):
        m, w = conn[pairs + 2 * e], w_off + conn[pairs + 2 * e + 1] + t
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


@kernel
def col2im_t(dcol, s_off, C, H, K, dx, dx_off):
    """dx[c, oy+ky, ox+kx] = sum over taps of dcolT[c, t, oy*O + ox] (adjoint of im2col_t)."""
    O = H - K + 1
    Pp = padded(O * O)
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for c in range(C):
        for ky in range(K):
            for kx in range(K):
                r = s_off + (c * K * K + ky * K + kx) * Pp
                dst0 = dx_off + c * H * H + ky * H + kx
                for oy in range(O):
                    dst, src = dst0 + oy * H, r + oy * O
                    for ox in range(O):
                        dx[U(dst + ox)] += dcol[U(src + ox)]


@kernel
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
        e, e1 = conn[in_start + c], conn[in_start + c + 1]
        while e + 4 <= e1:
            q = pairs + 2 * e
            t = 0
            while t + 2 <= KK:
                grad_tile_4x2(scratch, conn[q], conn[q + 2], conn[q + 4], conn[q + 6], Pp, col, rc + t * Pp, grad,
                              conn[q + 1] + t, conn[q + 3] + t, conn[q + 5] + t, conn[q + 7] + t)
                t += 2
            if t < KK:
                for k in range(4):
                    grad_row(scratch, conn[q + 2 * k], Pp, col, rc + t * Pp, KK, grad, conn[q + 2 * k + 1] + t, 1)
            e += 4
        while e < e1:
            q = pairs + 2 * e
            for t in range(0, KK, 4):
                grad_row(scratch, conn[q], Pp, col, rc + t * Pp, KK, grad, conn[q + 1] + t, min(4, KK - t))
            e += 1
    if not need_dx:
        return
    d_off = M * Pp
    for c in range(C):
        e0, e1 = conn[in_start + c], conn[in_start + c + 1]
        r = d_off + c * KK * Pp
        for t in range(0, KK, 4):
            p0 = 0
            while p0 < Pp:
                chunks = 2 if p0 + 32 <= Pp else 1
                dcol_tile(W, w_off, conn, pairs, e0, e1, scratch, Pp, scratch, r, t, min(4, KK - t), p0, chunks)
                p0 += 16 * chunks
    col2im_t(scratch, d_off, C, H, K, dx, dx_off)


@kernel
def wide_window_sums(x, b0, b1, woff, g0, Q, dpool, d0, acc, a0_off, a1_off, lanes, two):
    """acc[a_off : a_off + 16*lanes] = sum_q dpool[d0 + q] * x[b + woff[g0 + q] + (0 .. 16*lanes)] for
    one or (`two`) two input maps b0, b1 of the same output map: up to 8 independent FMA chains."""
    z = vsplat(x, 0.0)
    a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = z
    for q in range(Q):
        w = woff[U(g0 + q)]
        r, t = b0 + w, b1 + w
        d = vsplat(x, dpool[U(d0 + q)])
        a0 = vfma(a0, d, vload(x, r))
        if two:
            c0 = vfma(c0, d, vload(x, t))
        if lanes > 1:
            a1 = vfma(a1, d, vload(x, r + 16))
            if two:
                c1 = vfma(c1, d, vload(x, t + 16))
        if lanes > 2:
            a2 = vfma(a2, d, vload(x, r + 32))
            if two:
                c2 = vfma(c2, d, vload(x, t + 32))
        if lanes > 3:
            a3 = vfma(a3, d, vload(x, r + 48))
            if two:
                c3 = vfma(c3, d, vload(x, t + 48))
    vstore(acc, a0_off, a0)
    if lanes > 1:
        vstore(acc, a0_off + 16, a1)
    if lanes > 2:
        vstore(acc, a0_off + 32, a2)
    if lanes > 3:
        vstore(acc, a0_off + 48, a3)
    if two:
        vstore(acc, a1_off, c0)
        if lanes > 1:
            vstore(acc, a1_off + 16, c1)
        if lanes > 2:
            vstore(acc, a1_off + 32, c2)
        if lanes > 3:
            vstore(acc, a1_off + 48, c3)


@kernel
def table_backward_pooled(W, w_off, M, C, H, K, Q, conn, co, n, y, dpool, p_off, arg, g_off, kind, x, x_off,
                          grad, gb, scratch, woff, dx, dx_off, need_dx):
    """Under max pooling (Q pooled pixels per map, arg-max in `arg`): gradient and input delta
    from the arg-max pixels only. The gradient sums whole windows ((K-1)*H + K contiguous
    inputs, 16-lane vectors) and copies the K x K taps out; the input delta adds the kernels row
    by row (8-lane vectors, ceil(K/8) per row). The pooled delta is turned into d (times f') in place; `woff` (int
    scratch, M*Q) receives each arg-max pixel's window offset oy*H + ox."""
    KK, O = K * K, H - K + 1
    nv = (K + 7) // 8  # 8-lane vectors per kernel row
    _, _, conn_in, map_start = table_offsets(co, C, M, n)
    inv_o = 1.0 / O  # the row of pixel j = oy*O + ox is int((j + 0.5) / O), exact: no integer division
    for m in range(M):
        for q in range(Q):
            pix = arg[U(g_off + m * Q + q)]
            woff[U(m * Q + q)] = pix + I((pix + 0.5) * inv_o) * (H - O)  # oy*H + ox
            dpool[U(p_off + m * Q + q)] *= derivative(y[U(p_off + m * Q + q)], kind)  # y at the arg-max: pooled
    sp = padded((K - 1) * H + K)  # a K x K window at oy*H + ox spans (K-1)*H + K input values
    for m in range(M):
        j0, j1 = conn[map_start + m], conn[map_start + m + 1]
        j = j0
        while j < j1:  # two connections of map m at a time (they share the delta and the windows)
            two = j + 1 < j1
            x0 = x_off + conn[conn_in + j] * H * H
            x1 = x_off + conn[conn_in + j + 1] * H * H if two else x0
            a = (j - j0) * sp
            for v in range(0, sp, 64):
                wide_window_sums(x, x0 + v, x1 + v, woff, m * Q, Q, dpool, p_off + m * Q, scratch, a + v, a + sp + v,
                                 min(4, (sp - v) // 16), two)
            j += 2
        for j in range(j0, j1):  # the K x K taps out of the windows, 16-lane copies per row (ascending: each
            for ky in range(K):  # copy's extra lanes are overwritten by the next row or connection)
                for u in range(0, K, 16):
                    vstore(grad, j * KK + ky * K + u, vload(scratch, (j - j0) * sp + ky * H + u))
    for m in range(M):  # after the weights: the last row's extra lanes may reach the biases
        s = ZERO
        for q in range(Q):
            s += dpool[U(p_off + m * Q + q)]
        grad[U(gb + m)] = s
    if not need_dx:
        return
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for i in range(16):  # lane masks: all taps, and the taps of a row's last vector
        scratch[U(i)] = 1.0 if i < 8 or i - 8 < K - 8 * (nv - 1) else 0.0
    full, last = vload8(scratch, 0), vload8(scratch, 8)
    stride = K * nv * 8  # kernel rows of 8-lane vectors, zeros past the K taps
    for j in range(n):
        for ky in range(K):
            for u in range(nv):
                vstore8(scratch, 16 + j * stride + (ky * nv + u) * 8,
                        vmul(full if u < nv - 1 else last, vload8(W, w_off + j * KK + ky * K + 8 * u)))
    for m in range(M):  # map by map, pixel by pixel: consecutive windows land on different input maps
        for q in range(Q):
            e = vsplat8(dx, dpool[U(p_off + m * Q + q)])
            base = dx_off + woff[U(m * Q + q)]
            for j in range(conn[map_start + m], conn[map_start + m + 1]):
                o, r = base + conn[conn_in + j] * H * H, 16 + j * stride
                if nv == 1:  # lanes past the K taps add zeros
                    for ky in range(K):
                        a = o + ky * H
                        vstore8(dx, a, vfma(vload8(dx, a), e, vload8(scratch, r + ky * 8)))
                else:
                    for ky in range(K):
                        for u in range(nv):
                            a = o + ky * H + 8 * u
                            vstore8(dx, a, vfma(vload8(dx, a), e, vload8(scratch, r + (ky * nv + u) * 8)))
