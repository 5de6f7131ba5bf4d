"""Convolution forward by im2col and a register-tiled GEMM (reduction form).

im2col writes one row of Fp = F rounded up to 16 floats per output pixel (f = c*K*K + ky*K + kx,
PyTorch's order; the padding columns are zero). `gemm_bias_nt` computes out[m, p] = b[m] +
W[m, :] . col[p, :] in tiles of MR weight rows x NR col rows whose MR*NR accumulators (native
vectors over f) stay in registers for the whole reduction: 4 x 6 with 32 vector registers
(AVX-512), 3 x 4 with 16 (AVX2). A weight row is read Fp wide, so it runs into the next row's
weights (or the bias block after the last row): those meet the zero padding of col. The edges
(M mod MR rows, P mod NR pixels) run tiles of one row or one pixel, so every output is one dot
product of Fp lanes whatever the ISA (`cnnperf.engine.paths`: M*P*Fp multiply-adds).
"""

from __future__ import annotations

from cnnperf.engine.kernels.base import entry_kernel, inline_kernel, inner_kernel
from cnnperf.engine.kernels.simd import (
    PAD,
    REGISTERS,
    VL,
    nload,
    nsplat,
    vfma,
    vload,
    vload4,
    vload8,
    vsplat,
    vstore,
    vstore4,
    vstore8,
    vsum,
)

MR, NR = (4, 6) if REGISTERS >= 32 else (3, 4)


@inner_kernel
def padded_f(F):
    """F rounded up to the padding of im2col rows (16 floats): the lanes every dot product runs."""
    return (F + PAD - 1) // PAD * PAD


@inner_kernel
def row_stride(F):
    """The stride of im2col (and column-gradient) rows: padded_f(F), plus 16 floats when that is an
    even number of cache lines, so that rows spread over all cache sets (a stride of 2^k lines
    would put a column chunk of all rows into a few sets of L1 and L2)."""
    Fp = padded_f(F)
    return Fp + PAD if (Fp // PAD) % 2 == 0 else Fp


@inner_kernel
def im2col(x, x_off, C, H, K, col, c_off):
    """col[p*Fs + f] = x[c, oy+ky, ox+kx] with p = oy*O + ox, f = c*K*K + ky*K + kx (Fs = row_stride(F));
    zeros in [F, padded_f(F)). One copy of 4, 8 or 16 floats per kernel row (the narrowest that holds K;
    16-float copies side by side when K > 16): the lanes past a row are overwritten by the next
    one, the last one's by the padding (written after it, in order)."""
    O = H - K + 1
    KK = K * K
    F = C * KK
    Fs = row_stride(F)
    zero = vsplat(col, 0.0)
    for oy in range(O):
        for ox in range(O):
            row = c_off + (oy * O + ox) * Fs
            for c in range(C):
                src0 = x_off + c * H * H + oy * H + ox
                dst0 = row + c * KK
                if K <= 4:
                    for ky in range(K):
                        vstore4(col, dst0 + ky * K, vload4(x, src0 + ky * H))
                elif K <= 8:
                    for ky in range(K):
                        vstore8(col, dst0 + ky * K, vload8(x, src0 + ky * H))
                else:
                    for ky in range(K):
                        for u in range(0, K, 16):
                            vstore(col, dst0 + ky * K + u, vload(x, src0 + ky * H + u))
            vstore(col, row + F, zero)  # the padding (< 16 floats) and the lanes of the last copy


@inline_kernel
def store_row(out, o, b, nr, s0, s1, s2, s3, s4, s5):
    """out[o + j] = b + the lane sum of s_j for j < nr."""
    out[o] = b + vsum(s0)
    if nr > 1:
        out[o + 1] = b + vsum(s1)
    if nr > 2:
        out[o + 2] = b + vsum(s2)
    if nr > 3:
        out[o + 3] = b + vsum(s3)
    if nr > 4:
        out[o + 4] = b + vsum(s4)
    if nr > 5:
        out[o + 5] = b + vsum(s5)


def _make_tile(mr, nr):
    """A kernel computing an mr x nr tile (mr <= 4 weight rows, nr <= 6 col rows) of out."""

    @inner_kernel
    def tile(W, w0_, F, col, c0, Fs, Fp, out, o, P, b_off):
        z = nsplat(W, 0.0)
        a00 = a01 = a02 = a03 = a04 = a05 = a10 = a11 = a12 = a13 = a14 = a15 = z
        a20 = a21 = a22 = a23 = a24 = a25 = a30 = a31 = a32 = a33 = a34 = a35 = z
        w1 = w2 = w3 = z
        for f in range(0, Fp, VL):  # the mr weight vectors stay in registers, the nr col vectors stream
            w0 = nload(W, w0_ + f)
            if mr > 1:
                w1 = nload(W, w0_ + F + f)
            if mr > 2:
                w2 = nload(W, w0_ + 2 * F + f)
            if mr > 3:
                w3 = nload(W, w0_ + 3 * F + f)
            x = nload(col, c0 + f)
            a00, a10, a20, a30 = vfma(a00, w0, x), vfma(a10, w1, x), vfma(a20, w2, x), vfma(a30, w3, x)
            if nr > 1:
                x = nload(col, c0 + Fs + f)
                a01, a11, a21, a31 = vfma(a01, w0, x), vfma(a11, w1, x), vfma(a21, w2, x), vfma(a31, w3, x)
            if nr > 2:
                x = nload(col, c0 + 2 * Fs + f)
                a02, a12, a22, a32 = vfma(a02, w0, x), vfma(a12, w1, x), vfma(a22, w2, x), vfma(a32, w3, x)
            if nr > 3:
                x = nload(col, c0 + 3 * Fs + f)
                a03, a13, a23, a33 = vfma(a03, w0, x), vfma(a13, w1, x), vfma(a23, w2, x), vfma(a33, w3, x)
            if nr > 4:
                x = nload(col, c0 + 4 * Fs + f)
                a04, a14, a24, a34 = vfma(a04, w0, x), vfma(a14, w1, x), vfma(a24, w2, x), vfma(a34, w3, x)
            if nr > 5:
                x = nload(col, c0 + 5 * Fs + f)
                a05, a15, a25, a35 = vfma(a05, w0, x), vfma(a15, w1, x), vfma(a25, w2, x), vfma(a35, w3, x)
        store_row(out, o, W[b_off], nr, a00, a01, a02, a03, a04, a05)
        if mr > 1:
            store_row(out, o + P, W[b_off + 1], nr, a10, a11, a12, a13, a14, a15)
        if mr > 2:
            store_row(out, o + 2 * P, W[b_off + 2], nr, a20, a21, a22, a23, a24, a25)
        if mr > 3:
            store_row(out, o + 3 * P, W[b_off + 3], nr, a30, a31, a32, a33, a34, a35)

    return tile


tile_main, tile_rows, tile_cols, tile_one = _make_tile(MR, NR), _make_tile(MR, 1), _make_tile(1, NR), _make_tile(1, 1)


@entry_kernel
def gemm_bias_nt(W, w_off, b_off, M, F, col, c_off, P, out, o_off):
    """out[o_off + m*P + p] = b[m] + sum_f W[w_off + m*F + f] * col[c_off + p*Fs + f] over f < Fp."""
    Fp, Fs = padded_f(F), row_stride(F)
    Mt, Pt = M - M % MR, P - P % NR
    for m0 in range(0, Mt, MR):
        w0, o = w_off + m0 * F, o_off + m0 * P
        for p0 in range(0, Pt, NR):
            tile_main(W, w0, F, col, c_off + p0 * Fs, Fs, Fp, out, o + p0, P, b_off + m0)
        for p in range(Pt, P):
            tile_rows(W, w0, F, col, c_off + p * Fs, Fs, Fp, out, o + p, P, b_off + m0)
    for m in range(Mt, M):
        w0, o = w_off + m * F, o_off + m * P
        for p0 in range(0, Pt, NR):
            tile_cols(W, w0, F, col, c_off + p0 * Fs, Fs, Fp, out, o + p0, P, b_off + m)
        for p in range(Pt, P):
            tile_one(W, w0, F, col, c_off + p * Fs, Fs, Fp, out, o + p, P, b_off + m)
