"""Convolution with a connection table under max pooling, backward: only the arg-max pixel of
every window has a delta.

Gradient: kernels of at most 8 taps a row (`connection_gradient`): two connections of a map at a
time, their kernel rows in 8-lane registers summed over the map's arg-max pixels (the window
rows loaded at each pixel). Wider kernels: over the layer's pieces, 8 taps of a kernel row
(ceil(K/8) per row), whose input offsets the connection block holds
(`cnnperf.engine.layout.table_block`), eight pieces of one map at a time (`map_gradient`).

Input delta, when a pooling window's region fits a vector (R = S + K - 1 <= 8 rows and columns:
the windows of all arg-max pixels of one S x S pooling window lie in an R x R region of the
input): per input map and pooled pixel, the region's rows are 8-lane accumulators in registers,
to which every connection of that input map adds its delta times its kernel, read from a
zero-padded copy (`pad_weights`, made per input map, so it is in L1 while read) at an address
shifted by the arg-max pixel's place in its pooling window: 8 loads and 8 FMAs per connection
and pixel instead of K read-modify-writes of the input delta, then R row adds per region
(`region_dx`). Otherwise (`connection_rows_dx`) the input delta adds each piece's taps times the
delta into its window row, one 8-lane add per kernel row.
With AVX-512 (`MASKED_STORES`) only the taps (region columns) are stored (a masked store): the
lanes past them would overlap a later window's row and make its load wait (about 6 % of
medium-r10's layer-3 backward, measured); an AVX2 masked store (vmaskmovps) measured 1.6x slower
for the whole train step, so there the lanes past them add zero and are written back unchanged.
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, I, U, entry_kernel, inline_kernel
from cnnperf.engine.kernels.conv_table import padded, table_offsets, table_pieces
from cnnperf.engine.kernels.simd import (
    MASKED_STORES,
    vadd,
    vfma,
    vkeep8,
    vload8,
    vsplat8,
    vstore8,
    vstore_first8,
)
from cnnperf.engine.layout import SLACK

PAD_ROW = 8  # floats per row of a padded kernel (`pad_weights`): a constant, so `region_dx` addresses its rows
# from one register (a row stride in a register cost LLVM one register per row, and moves)


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


@inline_kernel
def window_rows(x, a, H, K, d, r0, r1, r2, r3, r4, r5, r6, r7):
    """r_k + d * x[a + k*H : a + k*H + 8] for the K (<= 8) rows of a window (the rest unchanged)."""
    r0 = vfma(r0, d, vload8(x, a))
    if K > 1:
        r1 = vfma(r1, d, vload8(x, a + H))
    if K > 2:
        r2 = vfma(r2, d, vload8(x, a + 2 * H))
    if K > 3:
        r3 = vfma(r3, d, vload8(x, a + 3 * H))
    if K > 4:
        r4 = vfma(r4, d, vload8(x, a + 4 * H))
    if K > 5:
        r5 = vfma(r5, d, vload8(x, a + 5 * H))
    if K > 6:
        r6 = vfma(r6, d, vload8(x, a + 6 * H))
    if K > 7:
        r7 = vfma(r7, d, vload8(x, a + 7 * H))
    return r0, r1, r2, r3, r4, r5, r6, r7


@inline_kernel
def store_kernel_rows(grad, g, K, r0, r1, r2, r3, r4, r5, r6, r7):
    """grad[g + k*K : ... + 8] = r_k for k < K, ascending (the 8 - K lanes past a row are overwritten
    by the next row, the last row's by whatever is stored after it)."""
    vstore8(grad, g, r0)
    if K > 1:
        vstore8(grad, g + K, r1)
    if K > 2:
        vstore8(grad, g + 2 * K, r2)
    if K > 3:
        vstore8(grad, g + 3 * K, r3)
    if K > 4:
        vstore8(grad, g + 4 * K, r4)
    if K > 5:
        vstore8(grad, g + 5 * K, r5)
    if K > 6:
        vstore8(grad, g + 6 * K, r6)
    if K > 7:
        vstore8(grad, g + 7 * K, r7)


@inline_kernel
def connection_gradient(x, x_off, H, K, M, Q, conn, map_start, pc, woff, dpool, p_off, grad):
    """The gradient under max pooling for kernels of at most 8 taps a row (one piece per row): two
    connections of a map at a time, their 2K kernel rows in registers over the map's arg-max pixels
    (one loop, no calls: a call per eight pieces, `map_gradient`, measured 2.5x slower on medium-r10)."""
    KK = K * K
    z = vsplat8(x, 0.0)
    for m in range(M):
        j0, j1 = conn[U(map_start + m)], conn[U(map_start + m + 1)]
        for j in range(j0, j1, 2):
            two = j + 1 < j1
            xa = x_off + conn[U(pc + j * K)]
            xb = x_off + conn[U(pc + (j + 1) * K)] if two else xa
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = z
            for q in range(Q):
                d, w = vsplat8(x, dpool[U(p_off + m * Q + q)]), woff[U(m * Q + q)]
                a0, a1, a2, a3, a4, a5, a6, a7 = window_rows(x, xa + w, H, K, d, a0, a1, a2, a3, a4, a5, a6, a7)
                if two:
                    b0, b1, b2, b3, b4, b5, b6, b7 = window_rows(x, xb + w, H, K, d, b0, b1, b2, b3, b4, b5, b6,
                                                                 b7)
            store_kernel_rows(grad, j * KK, K, a0, a1, a2, a3, a4, a5, a6, a7)
            if two:
                store_kernel_rows(grad, (j + 1) * KK, K, b0, b1, b2, b3, b4, b5, b6, b7)


@entry_kernel
def table_backward_pooled(W, w_off, M, C, H, K, S, Q, conn, co, n, y, dpool, p_off, arg, g_off, kind, x, x_off,
                          grad, gb, woff, pad, pad_off, dx, dx_off, need_dx):
    """Under S x S max pooling (Q pooled pixels per map, arg-max in `arg`): gradient and input delta
    from the arg-max pixels only. The gradient over the layer's pieces (`map_gradient`); the input
    delta by regions (`region_dx`, with the padded kernels at pad[pad_off:], `pad_weights`) when
    S + K - 1 <= 8, else piece by piece. The pooled delta is turned into d (times f') in place;
    `woff` (int scratch, 2*M*Q) receives each arg-max pixel's window offset oy*H + ox, then its
    shift in the padded kernels (`region_dx`)."""
    O = H - K + 1
    nv = (K + 7) // 8  # 8-lane pieces per kernel row
    _, _, _, map_start = table_offsets(co, C, M, n)
    inv_o = 1.0 / O  # the row of pixel j = oy*O + ox is int((j + 0.5) / O), exact: no integer division
    regions = need_dx and S + K - 1 <= 8
    Qs, RS = I(Q ** 0.5 + 0.5), PAD_ROW
    for m in range(M):
        for q in range(Q):
            pix = arg[U(g_off + m * Q + q)]
            oy = I((pix + 0.5) * inv_o)
            woff[U(m * Q + q)] = pix + oy * (H - O)  # oy*H + ox
            if regions:  # (S-1-sy)*RS + S-1-sx, (sy, sx): the pixel's place in its pooling window
                py = I((q + 0.5) * (1.0 / Qs))
                woff[U(M * Q + m * Q + q)] = (S - 1 - oy + S * py) * RS + S - 1 - (pix - oy * O) + S * (q - py * Qs)
            dpool[U(p_off + m * Q + q)] *= derivative(y[U(p_off + m * Q + q)], kind)  # y at the arg-max: pooled
    pc, R = table_pieces(co, C, M, n), K * nv  # R pieces per connection
    if nv == 1:
        connection_gradient(x, x_off, H, K, M, Q, conn, map_start, pc, woff, dpool, p_off, grad)
    for m in range(M if nv > 1 else 0):  # ascending: each map's stores overwrite the previous map's extra lanes
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
    if regions:
        region_dx(W, w_off, pad, pad_off, M, C, H, K, S, Qs, conn, co, n, dpool, p_off, woff, M * Q, dx, dx_off)
        return
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
def pad_offset(c_off, C, K, O):
    """Where a pooled table layer's padded kernels start in `col`: after its colT and SLACK
    (`cnnperf.engine.layout.conv_buffers`)."""
    return c_off + padded(C * K * K * padded(O * O)) + SLACK


@entry_kernel
def pad_block(K, S):
    """Floats of one connection's padded kernel over K*K (`cnnperf.engine.paths.table_pad_floats`):
    R + S rows of PAD_ROW floats (R = S + K - 1), rounded up to a multiple of K*K (so j*K*K
    locates it)."""
    return ((2 * S + K - 1) * PAD_ROW + K * K - 1) // (K * K)


@inline_kernel
def pad_weights(W, w_off, conn, pairs, e0, e1, K, S, pad, pad_off):
    """The padded kernels `region_dx` reads, of the connections e0 .. e1 - 1 of one input map (in
    slots 0, 1, ...): slot i's kernel row ky at pad[pad_off + i*K*K*B + (S-1+ky)*PAD_ROW + S-1 :]
    (B = `pad_block`), its K taps then zeros (an 8-lane store: the lanes past the row land on the
    next row's first S-1 floats, zero, before that row is written); the rest of a slot is never
    written (zero, as the workspace is allocated)."""
    KK = K * K
    B = pad_block(K, S)
    for e in range(e0, e1):
        src, dst = w_off + conn[U(pairs + 2 * e + 1)], pad_off + (e - e0) * KK * B + (S - 1) * PAD_ROW + S - 1
        for ky in range(K):
            vstore8(pad, dst + ky * PAD_ROW, vkeep8(vload8(W, src + ky * K), K))


@inline_kernel
def region_add(dx, a, v, R):
    """dx[a : a + R] += v[:R] (AVX-512: a masked store; AVX2: the lanes past R add zero)."""
    if MASKED_STORES:
        vstore_first8(dx, a, vadd(vload8(dx, a), v), R)
    else:
        vstore8(dx, a, vadd(vload8(dx, a), vkeep8(v, R)))


@entry_kernel
def region_dx(W, w_off, pad, pad_off, M, C, H, K, S, Qs, conn, co, n, dpool, p_off, woff, s_off, dx, dx_off):
    """dx += the input delta of the arg-max pixels, by input map c and pooling window (py, px): the
    R = S + K - 1 rows of the region at (S*py, S*px) in registers; every connection (m, c) adds
    d[m, q] times its padded kernel from the shift woff[s_off + m*Q + q] (row r of the region reads
    padded row r + S-1-sy, lane i padded column i + S-1-sx: rows of PAD_ROW = 8 floats hold S-1
    zeros and K taps, and R <= 8, so lanes i < R past a row read the next row's zeros); then one
    add of R lanes per row. Always 8 rows (those past R are not added): a loop without branches,
    whatever R. Input maps are the outer loop, so a map's padded kernels stay in L1 over its
    windows (windows outer measured 1.8x slower: every window read all the kernels from L2)."""
    Q, KK, RS, R = Qs * Qs, K * K, PAD_ROW, S + K - 1
    B = pad_block(K, S)
    in_start, pairs, _, _ = table_offsets(co, C, M, n)
    z = vsplat8(dx, 0.0)
    inv_q = 1.0 / Qs
    for c in range(C):
        e0, e1 = conn[U(in_start + c)], conn[U(in_start + c + 1)]
        pad_weights(W, w_off, conn, pairs, e0, e1, K, S, pad, pad_off)  # in L1 while its windows read it
        for q in range(Q):
            py = I((q + 0.5) * inv_q)
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
            for e in range(e0, e1):
                m = conn[U(pairs + 2 * e)]
                v = vsplat8(dx, dpool[U(p_off + m * Q + q)])
                b = pad_off + (e - e0) * KK * B + woff[U(s_off + m * Q + q)]
                a0, a1 = vfma(a0, v, vload8(pad, b)), vfma(a1, v, vload8(pad, b + RS))
                a2, a3 = vfma(a2, v, vload8(pad, b + 2 * RS)), vfma(a3, v, vload8(pad, b + 3 * RS))
                a4, a5 = vfma(a4, v, vload8(pad, b + 4 * RS)), vfma(a5, v, vload8(pad, b + 5 * RS))
                a6, a7 = vfma(a6, v, vload8(pad, b + 6 * RS)), vfma(a7, v, vload8(pad, b + 7 * RS))
            a = dx_off + c * H * H + S * (py * H + q - py * Qs)
            region_add(dx, a, a0, R)
            if R > 1:
                region_add(dx, a + H, a1, R)
            if R > 2:
                region_add(dx, a + 2 * H, a2, R)
            if R > 3:
                region_add(dx, a + 3 * H, a3, R)
            if R > 4:
                region_add(dx, a + 4 * H, a4, R)
            if R > 5:
                region_add(dx, a + 5 * H, a5, R)
            if R > 6:
                region_add(dx, a + 6 * H, a6, R)
            if R > 7:
                region_add(dx, a + 7 * H, a7, R)


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
