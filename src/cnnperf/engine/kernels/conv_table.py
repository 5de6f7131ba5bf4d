"""Convolution with a connection table (random or given), forward: a transposed im2col and a
tiled GEMM over the connected (output, input) map pairs only.

Layout: weights of connection j (output map m's j-th input map, maps in table order) are W[w_off +
j*K*K + ky*K + kx]; biases W[b_off + m]. The transposed im2col `colT` has one row per (input map
c, tap t) and Pp columns (the O*O output pixels rounded up to 16; the padding columns hold finite
values that meet zero deltas only), so every input map's K*K rows are contiguous. The forward
walks the input maps; for each, the output maps connected to it are taken MR at a time and share
every column load over NR native vectors (`VL` lanes) of pixels: 4 maps x 6 vectors = 24
accumulators with 32 vector registers (AVX-512), 2 x 5 = 10 with 16 (AVX2: with the 5 column
vectors and a broadcast, all 16; 3 x 4 needed 17 and spilled every tap, 2x slower). A lone pixel past
the last multiple of 16 (81 = 5 x 16 + 1 for a 9 x 9 map) is taken as dot products instead
of one more vector of padding (`tail_pixels`); the multiply-adds do not depend on
the width (`cnnperf.engine.paths.table_forward_lanes`). The connection block of a layer in `conn`
(see `cnnperf.engine.layout.table_block`): in_start[C+1], pairs (m, j*K*K) sorted by input map,
conn_in[n], map_start[M+1], pieces[n*K*ceil(K/8)].
"""

from __future__ import annotations

from cnnperf.engine.kernels.base import U, entry_kernel, inline_kernel
from cnnperf.engine.kernels.simd import (
    REGISTERS,
    VL,
    nload,
    nsplat,
    nstore,
    vadd,
    vfma,
    vkeep16,
    vload,
    vsplat,
    vstore,
    vsum,
)


@entry_kernel
def padded(P):
    """P rounded up to a multiple of the vector width (16)."""
    return (P + 15) // 16 * 16


@entry_kernel
def tail_pixels(P):
    """Pixels past the last multiple of 16 that the forward takes as dot products (0: none), as
    `cnnperf.engine.paths.table_tail_pixels`: one lone pixel (P = 16k + 1, e.g. 9 x 9), whose vector
    would be 15/16 padding; more pixels each cost a reduction per output map, measured slower
    than their vector for LeNet-5's C3 (10 x 10 = 6 x 16 + 4)."""
    return 1 if P % 16 == 1 and P > 1 else 0


@entry_kernel
def table_offsets(co, C, M, n):
    """Offsets of (in_start, pairs, conn_in, map_start) in `conn` for a block at co (M: maps)."""
    pairs = co + C + 1
    conn_in = pairs + 2 * n
    return co, pairs, conn_in, conn_in + n


@entry_kernel
def table_pieces(co, C, M, n):
    """Offset of the pieces (`cnnperf.engine.layout.table_block`) in `conn` for a block at co: after map_start."""
    return table_offsets(co, C, M, n)[3] + M + 1


@entry_kernel
def im2col_t(x, x_off, C, H, K, col, c_off):
    """colT[(c*K*K + ky*K + kx)*Pp + oy*O + ox] = x[c, oy+ky, ox+kx], one 16-lane copy per output
    row: the lanes past a row land on the next row or tap (written after it, in order), on the
    padding columns (finite values; they only meet zero deltas) or on the buffer's slack."""
    O = H - K + 1
    Pp = padded(O * O)
    for c in range(C):
        for ky in range(K):
            for kx in range(K):
                r = c_off + (c * K * K + ky * K + kx) * Pp
                src0 = x_off + c * H * H + ky * H + kx
                for oy in range(O):
                    dst, src = r + oy * O, src0 + oy * H
                    for ox in range(0, O, 16):
                        vstore(col, dst + ox, vload(x, src + ox))


@inline_kernel
def load_row(out, o, nr, z):
    """The first nr of six native vectors at out[o], out[o + VL], ... (z for the rest)."""
    v0 = nload(out, o)
    v1 = nload(out, o + VL) if nr > 1 else z
    v2 = nload(out, o + 2 * VL) if nr > 2 else z
    v3 = nload(out, o + 3 * VL) if nr > 3 else z
    v4 = nload(out, o + 4 * VL) if nr > 4 else z
    v5 = nload(out, o + 5 * VL) if nr > 5 else z
    return v0, v1, v2, v3, v4, v5


@inline_kernel
def store_row(out, o, nr, v0, v1, v2, v3, v4, v5):
    """out[o + k*VL : ...] = v_k for k < nr."""
    nstore(out, o, v0)
    if nr > 1:
        nstore(out, o + VL, v1)
    if nr > 2:
        nstore(out, o + 2 * VL, v2)
    if nr > 3:
        nstore(out, o + 3 * VL, v3)
    if nr > 4:
        nstore(out, o + 4 * VL, v4)
    if nr > 5:
        nstore(out, o + 5 * VL, v5)


@inline_kernel
def fma_row(nr, v, a0, a1, a2, a3, a4, a5, x0, x1, x2, x3, x4, x5):
    """a_k + v * x_k for k < nr (the rest unchanged)."""
    a0 = vfma(a0, v, x0)
    if nr > 1:
        a1 = vfma(a1, v, x1)
    if nr > 2:
        a2 = vfma(a2, v, x2)
    if nr > 3:
        a3 = vfma(a3, v, x3)
    if nr > 4:
        a4 = vfma(a4, v, x4)
    if nr > 5:
        a5 = vfma(a5, v, x5)
    return a0, a1, a2, a3, a4, a5


def _make_tile(mr, nr):
    """A kernel adding to mr (<= 4) output maps x nr (<= 6) native vectors of pixels the products of
    their weights (one connection each, all on the same input map) with the K*K colT rows from r."""

    @entry_kernel
    def tile(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3):
        z = nsplat(W, 0.0)
        a00, a01, a02, a03, a04, a05 = load_row(out, o0, nr, z)
        a10 = a11 = a12 = a13 = a14 = a15 = a20 = a21 = a22 = a23 = a24 = a25 = z
        a30 = a31 = a32 = a33 = a34 = a35 = z
        if mr > 1:
            a10, a11, a12, a13, a14, a15 = load_row(out, o1, nr, z)
        if mr > 2:
            a20, a21, a22, a23, a24, a25 = load_row(out, o2, nr, z)
        if mr > 3:
            a30, a31, a32, a33, a34, a35 = load_row(out, o3, nr, z)
        for t in range(KK):  # the nr colT vectors stay in registers, the mr weights are broadcast
            x0, x1, x2, x3, x4, x5 = load_row(col, r + t * Pp, nr, z)
            a00, a01, a02, a03, a04, a05 = fma_row(nr, nsplat(W, W[U(w0 + t)]), a00, a01, a02, a03, a04, a05,
                                                   x0, x1, x2, x3, x4, x5)
            if mr > 1:
                a10, a11, a12, a13, a14, a15 = fma_row(nr, nsplat(W, W[U(w1 + t)]), a10, a11, a12, a13, a14, a15,
                                                       x0, x1, x2, x3, x4, x5)
            if mr > 2:
                a20, a21, a22, a23, a24, a25 = fma_row(nr, nsplat(W, W[U(w2 + t)]), a20, a21, a22, a23, a24, a25,
                                                       x0, x1, x2, x3, x4, x5)
            if mr > 3:
                a30, a31, a32, a33, a34, a35 = fma_row(nr, nsplat(W, W[U(w3 + t)]), a30, a31, a32, a33, a34, a35,
                                                       x0, x1, x2, x3, x4, x5)
        store_row(out, o0, nr, a00, a01, a02, a03, a04, a05)
        if mr > 1:
            store_row(out, o1, nr, a10, a11, a12, a13, a14, a15)
        if mr > 2:
            store_row(out, o2, nr, a20, a21, a22, a23, a24, a25)
        if mr > 3:
            store_row(out, o3, nr, a30, a31, a32, a33, a34, a35)

    return tile


MR, NR = (4, 6) if REGISTERS >= 32 else (2, 5)  # 24 accumulators of 32 registers; 10 (+ 5 columns + 1) of 16
_GROUP = tuple(_make_tile(MR, nr) for nr in range(1, NR + 1))
_SINGLE = tuple(_make_tile(1, nr) for nr in range(1, NR + 1))
group_1, group_2, group_3, group_4 = _GROUP[0], _GROUP[1], _GROUP[2], _GROUP[3]
group_5 = _GROUP[4] if NR > 4 else group_4
group_6 = _GROUP[5] if NR > 5 else group_5
single_1, single_2, single_3, single_4 = _SINGLE[0], _SINGLE[1], _SINGLE[2], _SINGLE[3]
single_5 = _SINGLE[4] if NR > 4 else single_4
single_6 = _SINGLE[5] if NR > 5 else single_5


@inline_kernel
def run_tile(group, nr, W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3):
    """The tile of MR maps (group) or one map over nr (1 .. NR) native vectors of pixels."""
    if group:
        if nr == 6:
            group_6(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
        elif nr == 5:
            group_5(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
        elif nr == 4:
            group_4(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
        elif nr == 3:
            group_3(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
        elif nr == 2:
            group_2(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
        else:
            group_1(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    elif nr == 6:
        single_6(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    elif nr == 5:
        single_5(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    elif nr == 4:
        single_4(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    elif nr == 3:
        single_3(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    elif nr == 2:
        single_2(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)
    else:
        single_1(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3)


@entry_kernel
def table_tail(W, w_off, M, C, K, O, conn, co, n, x, x_off, Pp, out, o_off):
    """out[o_off + m*Pp + P-1] += sum over m's connections j of W_j . window of the last pixel (O-1,
    O-1) in input map conn_in(j): 16-lane dot products over a copy g of those windows, taken from the
    input (in L1; its colT column is 96 floats a tap apart), after out in the scratch: C rows of K*K
    taps padded to 16, the lanes past K*K zero; W's lanes past them masked off; two connections at a
    time (four dependency chains)."""
    KK, H, P = K * K, O + K - 1, O * O
    KKp = padded(KK)
    g = o_off + M * Pp
    for c in range(C):
        d, s = g + c * KKp, x_off + c * H * H + (O - 1) * (H + 1)
        for ky in range(K):
            for kx in range(K):
                out[U(d + ky * K + kx)] = x[U(s + ky * H + kx)]
        for t in range(KK, KKp):
            out[U(d + t)] = 0.0
    _, _, conn_in, map_start = table_offsets(co, C, M, n)
    z = vsplat(W, 0.0)
    for m in range(M):
        a0, a1, b0, b1 = z, z, z, z  # even and odd 16-tap blocks of two connections
        j, j1 = conn[U(map_start + m)], conn[U(map_start + m + 1)]
        while j < j1:
            two = j + 1 < j1
            w, d = w_off + j * KK, g + conn[U(conn_in + j)] * KKp
            wb, db = (w + KK, g + conn[U(conn_in + j + 1)] * KKp) if two else (w, d)
            for v in range(0, KKp, 32):
                a0 = vfma(a0, vkeep16(vload(W, w + v), KK - v), vload(out, d + v))
                if two:
                    b0 = vfma(b0, vkeep16(vload(W, wb + v), KK - v), vload(out, db + v))
                if v + 16 < KKp:
                    a1 = vfma(a1, vkeep16(vload(W, w + v + 16), KK - v - 16), vload(out, d + v + 16))
                    if two:
                        b1 = vfma(b1, vkeep16(vload(W, wb + v + 16), KK - v - 16), vload(out, db + v + 16))
            j += 2
        out[U(o_off + m * Pp + P - 1)] += vsum(vadd(vadd(a0, a1), vadd(b0, b1)))


@entry_kernel
def table_forward(W, w_off, b_off, M, C, K, O, conn, co, n, col, c_off, out, o_off, act, a_in, a_out):
    """act[a_out + m*P + p] = b[m] + sum over connections (m, c) of W[m, c] . colT[c, :, p];
    `out` (M x Pp, from o_off) is scratch. Per input map, its connections MR at a time (then one at
    a time) over chunks of NR native vectors of pixels (then the rest of them); a lone pixel past
    the last multiple of 16 (`tail_pixels`) by `table_tail`."""
    KK, P = K * K, O * O
    Pp = padded(P)
    r = tail_pixels(P)
    nv = (P - r if r > 0 else Pp) // VL  # vectors of pixels; a lone last pixel as dot products
    in_start, pairs, _, _ = table_offsets(co, C, M, n)
    for m in range(M):
        b = W[U(b_off + m)]
        for p in range(Pp):
            out[U(o_off + m * Pp + p)] = b
    for c in range(C):
        rc = c_off + c * KK * Pp
        e, e1 = conn[U(in_start + c)], conn[U(in_start + c + 1)]
        while e < e1:
            group = e + MR <= e1
            q = pairs + 2 * e
            o0, w0 = o_off + conn[U(q)] * Pp, w_off + conn[U(q + 1)]
            o1, o2, o3, w1, w2, w3 = o0, o0, o0, w0, w0, w0
            if group:
                o1, w1 = o_off + conn[U(q + 2)] * Pp, w_off + conn[U(q + 3)]
                if MR > 2:
                    o2, w2 = o_off + conn[U(q + 4)] * Pp, w_off + conn[U(q + 5)]
                if MR > 3:
                    o3, w3 = o_off + conn[U(q + 6)] * Pp, w_off + conn[U(q + 7)]
            for v0 in range(0, nv, NR):
                p0 = v0 * VL
                run_tile(group, min(NR, nv - v0), W, w0, w1, w2, w3, KK, col, rc + p0, Pp, out, o0 + p0, o1 + p0,
                         o2 + p0, o3 + p0)
            e += MR if group else 1
    if r > 0:
        table_tail(W, w_off, M, C, K, O, conn, co, n, act, a_in, Pp, out, o_off)
    for m in range(M):
        for p in range(P):
            act[U(a_out + m * P + p)] = out[U(o_off + m * Pp + p)]
