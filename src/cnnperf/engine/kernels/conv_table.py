"""Convolution with a connection table (random or given), forward: a transposed im2col and a
tiled GEMM over the connected (output, input) map pairs only.

Layout: weights of connection j (output map m's j-th input map, maps in table order) are
W[w_off + j*K*K + ky*K + kx]; biases W[b_off + m]. The transposed im2col `colT` has one row per
(input map c, tap t) and Pp columns (the O*O output pixels rounded up to 16; the padding
columns stay zero), so every input map's K*K rows are contiguous. The forward walks the input
maps; for each, the output maps connected to it are taken four at a time and share every
column load (4 maps x 48 pixels = 12 independent accumulators, `Vec` registers), exactly as many
multiply-adds as connections x K*K x Pp. The connection block of a layer in `conn` (see
`cnnperf.engine.layout.table_block`): in_start[C+1], pairs (m, j*K*K) sorted by input map,
conn_in[n], map_start[M+1].
"""

from __future__ import annotations

from cnnperf.engine.kernels.base import U, kernel
from cnnperf.engine.kernels.simd import vadd, vfma, vload, vsplat, vstore


@kernel
def padded(P):
    """P rounded up to a multiple of the vector width (16)."""
    return (P + 15) // 16 * 16


@kernel
def table_offsets(co, C, M, n):
    """Offsets of (in_start, pairs, conn_in, map_start) in `conn` for a block at co (M: maps)."""
    pairs = co + C + 1
    conn_in = pairs + 2 * n
    return co, pairs, conn_in, conn_in + n


@kernel
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


@kernel
def fwd_tile_4x3(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3):
    """out[m_i, 48 pixels] += sum_t W[w_i + t] * colT[t, 48 pixels] for four maps sharing the rows."""
    a0, b0, c0 = vload(out, o0), vload(out, o0 + 16), vload(out, o0 + 32)
    a1, b1, c1 = vload(out, o1), vload(out, o1 + 16), vload(out, o1 + 32)
    a2, b2, c2 = vload(out, o2), vload(out, o2 + 16), vload(out, o2 + 32)
    a3, b3, c3 = vload(out, o3), vload(out, o3 + 16), vload(out, o3 + 32)
    for t in range(KK):
        x0, x1, x2 = vload(col, r + t * Pp), vload(col, r + t * Pp + 16), vload(col, r + t * Pp + 32)
        v = vsplat(W, W[U(w0 + t)])
        a0, b0, c0 = vfma(a0, v, x0), vfma(b0, v, x1), vfma(c0, v, x2)
        v = vsplat(W, W[U(w1 + t)])
        a1, b1, c1 = vfma(a1, v, x0), vfma(b1, v, x1), vfma(c1, v, x2)
        v = vsplat(W, W[U(w2 + t)])
        a2, b2, c2 = vfma(a2, v, x0), vfma(b2, v, x1), vfma(c2, v, x2)
        v = vsplat(W, W[U(w3 + t)])
        a3, b3, c3 = vfma(a3, v, x0), vfma(b3, v, x1), vfma(c3, v, x2)
    vstore(out, o0, a0)
    vstore(out, o0 + 16, b0)
    vstore(out, o0 + 32, c0)
    vstore(out, o1, a1)
    vstore(out, o1 + 16, b1)
    vstore(out, o1 + 32, c1)
    vstore(out, o2, a2)
    vstore(out, o2 + 16, b2)
    vstore(out, o2 + 32, c2)
    vstore(out, o3, a3)
    vstore(out, o3 + 16, b3)
    vstore(out, o3 + 32, c3)


@kernel
def fwd_tile_4x2(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3):
    """out[m_i, 32 pixels] += sum_t W[w_i + t] * colT[t, 32 pixels] for four maps sharing the rows."""
    a0, b0, a1, b1 = vload(out, o0), vload(out, o0 + 16), vload(out, o1), vload(out, o1 + 16)
    a2, b2, a3, b3 = vload(out, o2), vload(out, o2 + 16), vload(out, o3), vload(out, o3 + 16)
    for t in range(KK):
        x0, x1 = vload(col, r + t * Pp), vload(col, r + t * Pp + 16)
        v = vsplat(W, W[U(w0 + t)])
        a0, b0 = vfma(a0, v, x0), vfma(b0, v, x1)
        v = vsplat(W, W[U(w1 + t)])
        a1, b1 = vfma(a1, v, x0), vfma(b1, v, x1)
        v = vsplat(W, W[U(w2 + t)])
        a2, b2 = vfma(a2, v, x0), vfma(b2, v, x1)
        v = vsplat(W, W[U(w3 + t)])
        a3, b3 = vfma(a3, v, x0), vfma(b3, v, x1)
    vstore(out, o0, a0)
    vstore(out, o0 + 16, b0)
    vstore(out, o1, a1)
    vstore(out, o1 + 16, b1)
    vstore(out, o2, a2)
    vstore(out, o2 + 16, b2)
    vstore(out, o3, a3)
    vstore(out, o3 + 16, b3)


@kernel
def fwd_tile_4x1(W, w0, w1, w2, w3, KK, col, r, Pp, out, o0, o1, o2, o3):
    """As fwd_tile_4x2 for 16 pixels."""
    a0, a1, a2, a3 = vload(out, o0), vload(out, o1), vload(out, o2), vload(out, o3)
    for t in range(KK):
        x0 = vload(col, r + t * Pp)
        a0 = vfma(a0, vsplat(W, W[U(w0 + t)]), x0)
        a1 = vfma(a1, vsplat(W, W[U(w1 + t)]), x0)
        a2 = vfma(a2, vsplat(W, W[U(w2 + t)]), x0)
        a3 = vfma(a3, vsplat(W, W[U(w3 + t)]), x0)
    vstore(out, o0, a0)
    vstore(out, o1, a1)
    vstore(out, o2, a2)
    vstore(out, o3, a3)


@kernel
def fwd_tile_1(W, w0, KK, col, r, Pp, out, o0, chunks):
    """One map, `chunks` (1 or 2) x 16 pixels; even and odd taps in separate accumulators."""
    a0, b0 = vload(out, o0), vload(out, o0 + 16 * (chunks - 1))
    c0, d0 = vsplat(W, 0.0), vsplat(W, 0.0)
    t = 0
    while t + 2 <= KK:
        u, v = vsplat(W, W[U(w0 + t)]), vsplat(W, W[U(w0 + t + 1)])
        a0, c0 = vfma(a0, u, vload(col, r + t * Pp)), vfma(c0, v, vload(col, r + (t + 1) * Pp))
        if chunks == 2:
            b0 = vfma(b0, u, vload(col, r + t * Pp + 16))
            d0 = vfma(d0, v, vload(col, r + (t + 1) * Pp + 16))
        t += 2
    if t < KK:
        u = vsplat(W, W[U(w0 + t)])
        a0 = vfma(a0, u, vload(col, r + t * Pp))
        if chunks == 2:
            b0 = vfma(b0, u, vload(col, r + t * Pp + 16))
    vstore(out, o0, vadd(a0, c0))
    if chunks == 2:
        vstore(out, o0 + 16, vadd(b0, d0))


@kernel
def table_forward(W, w_off, b_off, M, C, K, O, conn, co, n, col, c_off, out, o_off, act, a_out):
    """act[a_out + m*P + p] = b[m] + sum over connections (m, c) of W[m, c] . colT[c, :, p];
    `out` (M x Pp, from o_off) is scratch."""
    KK, P = K * K, O * O
    Pp = padded(P)
    in_start, pairs, _, _ = table_offsets(co, C, M, n)
    for m in range(M):
        b = W[U(b_off + m)]
        for p in range(Pp):
            out[U(o_off + m * Pp + p)] = b
    for c in range(C):
        rc = c_off + c * KK * Pp
        e, e1 = conn[in_start + c], conn[in_start + c + 1]
        while e + 4 <= e1:
            q = pairs + 2 * e
            o0, o1 = o_off + conn[q] * Pp, o_off + conn[q + 2] * Pp
            o2, o3 = o_off + conn[q + 4] * Pp, o_off + conn[q + 6] * Pp
            w0, w1, w2, w3 = w_off + conn[q + 1], w_off + conn[q + 3], w_off + conn[q + 5], w_off + conn[q + 7]
            p0 = 0
            while p0 + 48 <= Pp:
                fwd_tile_4x3(W, w0, w1, w2, w3, KK, col, rc + p0, Pp, out, o0 + p0, o1 + p0, o2 + p0, o3 + p0)
                p0 += 48
            if p0 + 32 <= Pp:
                fwd_tile_4x2(W, w0, w1, w2, w3, KK, col, rc + p0, Pp, out, o0 + p0, o1 + p0, o2 + p0, o3 + p0)
                p0 += 32
            if p0 < Pp:
                fwd_tile_4x1(W, w0, w1, w2, w3, KK, col, rc + p0, Pp, out, o0 + p0, o1 + p0, o2 + p0, o3 + p0)
            e += 4
        while e < e1:
            q = pairs + 2 * e
            o0, w0 = o_off + conn[q] * Pp, w_off + conn[q + 1]
            p0 = 0
            while p0 < Pp:
                chunks = 2 if p0 + 32 <= Pp else 1
                fwd_tile_1(W, w0, KK, col, rc + p0, Pp, out, o0 + p0, chunks)
                p0 += 16 * chunks
            e += 1
    for m in range(M):
        for p in range(P):
            act[U(a_out + m * P + p)] = out[U(o_off + m * Pp + p)]
