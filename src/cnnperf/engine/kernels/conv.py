"""Convolution backward (im2col layers): weight gradient, bias gradient and input delta.

Conventions: a layer's weights are W[w_off + m*F + f] (F = fan_in, f = c*K*K + ky*K + kx,
PyTorch's order) and biases W[b_off + m]; im2col rows are Fp = F rounded up to 16 floats
(`cnnperf.engine.kernels.gemm`). Backward kernels write the layer's gradient into a per-worker
buffer `grad` (weights, then biases at `gb`) and, when needed, the input delta; the update into
the shared weights happens once per layer (`cnnperf.engine.kernels.update`).

Every product is a sum of broadcast scalars times row vectors (`segment_sums`): under max pooling
grad[m, :] = sum_q d[m, q] col[arg(m, q), :] (the arg-max pixels only) and dcol[p, :] = sum of
d[m, q] W[m, :] over the maps whose arg-max is pixel p (maps bucketed per pixel); with a dense
delta the same over every pixel / every map. Both run chunk by chunk of `ch` x 16 columns, so
the rows of the chunk a pass reads (col[:, chunk] for the gradient, W[:, chunk] for the input
delta) stay in L1 (`ch` from the L1 size, `cnnperf.engine.layout`); the accumulators of a chunk
(four partial sums over the rows, for the FMA latency) stay in registers. col2im adds the K
taps of every kernel row with one native-vector add (lanes past the K taps add zero).
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, I, U, inline_kernel, inner_kernel
from cnnperf.engine.kernels.gemm import padded_f, row_stride
from cnnperf.engine.kernels.simd import (
    PAD,
    VL,
    nload,
    nsplat,
    store_part,
    vadd,
    vfma,
    vkeep4,
    vkeep8,
    vkeep16,
    vload,
    vload4,
    vload8,
    vstore,
    vstore4,
    vstore8,
)


def _make_segment_sums(nvec):
    """A kernel over one chunk of nvec native vectors for every segment s < n_seg: with R > 0 the
    entries s*R .. s*R + R - 1, else start[s0 + s] .. start[s0 + s + 1] - 1 (an empty segment is not
    stored); out[o + s*stride + j] = sum over the entries e of d[d0 + e] * x[rows[r0 + e] + f0 + j]
    for j < min(n, nvec*VL). Four partial sums (nvec <= 2), two (4) or one (8): eight accumulators."""

    @inner_kernel
    def segment_sums(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n):
        z = nsplat(x, 0.0)
        for sg in range(n_seg):
            if R > 0:
                e, e1 = sg * R, sg * R + R
            else:
                e, e1 = start[U(s0 + sg)], start[U(s0 + sg + 1)]
                if e1 == e:
                    continue
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
            if nvec <= 2:  # entries four at a time into a0/a1, b0/b1, a2/a3, b2/b3
                while e + 4 <= e1:
                    i, j, k, l = (rows[U(r0 + e)] + f0, rows[U(r0 + e + 1)] + f0, rows[U(r0 + e + 2)] + f0,
                                  rows[U(r0 + e + 3)] + f0)
                    s, t = nsplat(x, d[U(d0 + e)]), nsplat(x, d[U(d0 + e + 1)])
                    u, v = nsplat(x, d[U(d0 + e + 2)]), nsplat(x, d[U(d0 + e + 3)])
                    a0, b0 = vfma(a0, s, nload(x, i)), vfma(b0, t, nload(x, j))
                    a2, b2 = vfma(a2, u, nload(x, k)), vfma(b2, v, nload(x, l))
                    if nvec > 1:
                        a1, b1 = vfma(a1, s, nload(x, i + VL)), vfma(b1, t, nload(x, j + VL))
                        a3, b3 = vfma(a3, u, nload(x, k + VL)), vfma(b3, v, nload(x, l + VL))
                    e += 4
                while e < e1:
                    i, s = rows[U(r0 + e)] + f0, nsplat(x, d[U(d0 + e)])
                    a0 = vfma(a0, s, nload(x, i))
                    if nvec > 1:
                        a1 = vfma(a1, s, nload(x, i + VL))
                    e += 1
                a0, a1 = vadd(vadd(a0, b0), vadd(a2, b2)), vadd(vadd(a1, b1), vadd(a3, b3))
            elif nvec == 4:  # entries two at a time into a0..a3, b0..b3
                while e + 2 <= e1:
                    i, j = rows[U(r0 + e)] + f0, rows[U(r0 + e + 1)] + f0
                    s, t = nsplat(x, d[U(d0 + e)]), nsplat(x, d[U(d0 + e + 1)])
                    a0, a1 = vfma(a0, s, nload(x, i)), vfma(a1, s, nload(x, i + VL))
                    a2, a3 = vfma(a2, s, nload(x, i + 2 * VL)), vfma(a3, s, nload(x, i + 3 * VL))
                    b0, b1 = vfma(b0, t, nload(x, j)), vfma(b1, t, nload(x, j + VL))
                    b2, b3 = vfma(b2, t, nload(x, j + 2 * VL)), vfma(b3, t, nload(x, j + 3 * VL))
                    e += 2
                if e < e1:
                    i, s = rows[U(r0 + e)] + f0, nsplat(x, d[U(d0 + e)])
                    a0, a1 = vfma(a0, s, nload(x, i)), vfma(a1, s, nload(x, i + VL))
                    a2, a3 = vfma(a2, s, nload(x, i + 2 * VL)), vfma(a3, s, nload(x, i + 3 * VL))
                a0, a1, a2, a3 = vadd(a0, b0), vadd(a1, b1), vadd(a2, b2), vadd(a3, b3)
            else:  # eight vectors, one entry at a time
                while e < e1:
                    i, s = rows[U(r0 + e)] + f0, nsplat(x, d[U(d0 + e)])
                    a0, a1 = vfma(a0, s, nload(x, i)), vfma(a1, s, nload(x, i + VL))
                    a2, a3 = vfma(a2, s, nload(x, i + 2 * VL)), vfma(a3, s, nload(x, i + 3 * VL))
                    b0, b1 = vfma(b0, s, nload(x, i + 4 * VL)), vfma(b1, s, nload(x, i + 5 * VL))
                    b2, b3 = vfma(b2, s, nload(x, i + 6 * VL)), vfma(b3, s, nload(x, i + 7 * VL))
                    e += 1
            q = o + sg * stride
            store_part(out, q, a0, n)
            if nvec > 1:
                store_part(out, q + VL, a1, n - VL)
            if nvec > 2:
                store_part(out, q + 2 * VL, a2, n - 2 * VL)
                store_part(out, q + 3 * VL, a3, n - 3 * VL)
            if nvec > 4:
                store_part(out, q + 4 * VL, b0, n - 4 * VL)
                store_part(out, q + 5 * VL, b1, n - 5 * VL)
                store_part(out, q + 6 * VL, b2, n - 6 * VL)
                store_part(out, q + 7 * VL, b3, n - 7 * VL)

    return segment_sums


BLOCK_VECTORS = PAD // VL  # native vectors per 16 columns
MAX_BLOCKS = max(1, 8 // BLOCK_VECTORS)  # the widest chunk (16-column blocks): 8 vectors, 8 accumulators
segment_sums_1 = _make_segment_sums(BLOCK_VECTORS)
segment_sums_2 = _make_segment_sums(2 * BLOCK_VECTORS) if MAX_BLOCKS >= 2 else segment_sums_1
segment_sums_4 = _make_segment_sums(4 * BLOCK_VECTORS) if MAX_BLOCKS >= 4 else segment_sums_1
segment_sums_8 = _make_segment_sums(8 * BLOCK_VECTORS) if MAX_BLOCKS >= 8 else segment_sums_1


@inline_kernel
def chunk_width(f0, Fp, ch):
    """Columns of the chunk at f0: ch x 16 (at most MAX_BLOCKS x 16) while it fits in Fp, then 16."""
    cf = min(ch, MAX_BLOCKS) * PAD
    return cf if f0 + cf <= Fp else PAD


@inline_kernel
def chunk_sums(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n, width):
    """segment_sums over one chunk of `width` (16, 32, 64 or 128) columns. The integers are cast to int64,
    so every call site shares one specialisation of each kernel (Numba compiles one per argument types)."""
    r0, d0, s0, R, n_seg, f0, o, stride, n = I(r0), I(d0), I(s0), I(R), I(n_seg), I(f0), I(o), I(stride), I(n)
    if MAX_BLOCKS >= 8 and width == 128:
        segment_sums_8(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n)
    elif MAX_BLOCKS >= 4 and width == 64:
        segment_sums_4(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n)
    elif MAX_BLOCKS >= 2 and width == 32:
        segment_sums_2(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n)
    else:
        segment_sums_1(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, o, stride, n)


@inline_kernel
def sums_by_chunks(x, rows, r0, d, d0, start, s0, R, n_seg, out, stride, cols, Fp, ch):
    """chunk_sums over the columns [0, Fp), chunk by chunk (chunk_width): segment sg's sums go to
    out[sg*stride + c] for the columns c < cols."""
    f0 = 0
    while f0 < Fp:
        width = chunk_width(f0, Fp, ch)
        chunk_sums(x, rows, r0, d, d0, start, s0, R, n_seg, f0, out, f0, stride, cols - f0, width)
        f0 += width


@inner_kernel
def conv_backward_sparse(W, w_off, M, F, O, S, Q, y, dpool, p_off, arg, g_off, kind, col, c_off, grad, gb, dcol,
                         need_dx, bucket, ch_g, ch_d):
    """Convolution under S x S max pooling (Q windows per map): only each window's arg-max pixel has
    a delta. The pooled delta dpool is turned into d (times f') in place.

    `bucket` (int scratch): rows[M*Q] the col row of every (m, q); then, with need_dx, start[P+1]
    (the maps of pixel p are entries start[p] .. start[p+1]), the weight row of every entry
    [M*Q]. `dcol` (float scratch): P rows of Fs (row_stride), then the delta of every entry [M*Q].
    Column chunks: ch_g x 16 for the gradient, ch_d x 16 for the input delta."""
    P = O * O
    Fp, Fs = padded_f(F), row_stride(F)
    for m in range(M):
        s = ZERO
        for q in range(Q):
            k, a = p_off + m * Q + q, arg[U(g_off + m * Q + q)]
            d = dpool[U(k)] * derivative(y[U(k)], kind)  # y at the arg-max is the pooled output
            dpool[U(k)] = d
            s += d
            bucket[U(m * Q + q)] = c_off + a * Fs
        grad[U(gb + m)] = s
    # the gradient, chunk by chunk: every map's rows of the chunk (col[:, chunk] stays in L1)
    sums_by_chunks(col, bucket, 0, dpool, p_off, bucket, 0, Q, M, grad, F, F, Fp, ch_g)
    if not need_dx:
        return
    # bucket the maps by arg-max pixel: start[p], then the entries (weight row, delta) in pixel order
    st, ent, dv = M * Q, M * Q + P + 1, P * Fs
    for p in range(P + 1):
        bucket[U(st + p)] = 0
    for m in range(M):
        for q in range(Q):
            bucket[U(st + 1 + arg[U(g_off + m * Q + q)])] += 1
    for p in range(P):
        bucket[U(st + p + 1)] += bucket[U(st + p)]
    for m in range(M):  # counting sort; start[p] is restored below
        for q in range(Q):
            a = arg[U(g_off + m * Q + q)]
            e = bucket[U(st + a)]
            bucket[U(ent + e)] = w_off + m * F
            dcol[U(dv + e)] = dpool[U(p_off + m * Q + q)]
            bucket[U(st + a)] = e + 1
    for p in range(P, 0, -1):
        bucket[U(st + p)] = bucket[U(st + p - 1)]
    bucket[U(st)] = 0
    sums_by_chunks(W, bucket, ent, dcol, dv, bucket, st, 0, P, dcol, Fs, Fp, Fp, ch_d)


@inner_kernel
def conv_backward_dense(W, w_off, M, F, P, dz, z_off, col, c_off, grad, gb, dcol, need_dx, bucket, ch_g, ch_d):
    """Convolution with a dense delta dz (already through f'): grad = dz col, dcol = dz^T W, as the
    sparse kernel over every pixel. `bucket`: the col row of every (m, p) [M*P], the weight row of
    every (p, m) [P*M]; `dcol`: P rows of Fs, then dz transposed [P*M]."""
    Fp, Fs = padded_f(F), row_stride(F)
    for m in range(M):
        s = ZERO
        for p in range(P):
            s += dz[U(z_off + m * P + p)]
            bucket[U(m * P + p)] = c_off + p * Fs
        grad[U(gb + m)] = s
    sums_by_chunks(col, bucket, 0, dz, z_off, bucket, 0, P, M, grad, F, F, Fp, ch_g)
    if not need_dx:
        return
    dt, wr = P * Fs, M * P
    for p in range(P):
        for m in range(M):
            bucket[U(wr + p * M + m)] = w_off + m * F
            dcol[U(dt + p * M + m)] = dz[U(z_off + m * P + p)]
    sums_by_chunks(W, bucket, wr, dcol, dt, bucket, 0, M, P, dcol, Fs, Fp, Fp, ch_d)


@inner_kernel
def col2im(dcol, C, H, K, dx, dx_off, start, s_off):
    """dx[c, oy+ky, ox+kx] = sum over patches of dcol[p*Fs + f] (adjoint of im2col). With s_off >= 0
    only the rows p with start[s_off + p + 1] > start[s_off + p] (under pooling, the pixels that
    are some map's arg-max). Each kernel row is one add of 4, 8 or 16 lanes (the narrowest that
    holds K; lanes past K add zero and write their values back unchanged); the input maps are
    the inner loop, so consecutive adds never overlap (an overlapping load would wait for the
    store before it)."""
    O = H - K + 1
    KK = K * K
    Fs = row_stride(C * KK)
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for oy in range(O):
        for ox in range(O):
            p = oy * O + ox
            if s_off >= 0 and start[U(s_off + p + 1)] == start[U(s_off + p)]:
                continue
            dst0, src0 = dx_off + oy * H + ox, p * Fs
            for ky in range(K):
                for c in range(C):
                    dst, src = dst0 + c * H * H + ky * H, src0 + c * KK + ky * K
                    if K <= 4:
                        vstore4(dx, dst, vadd(vload4(dx, dst), vkeep4(vload4(dcol, src), K)))
                    elif K <= 8:
                        vstore8(dx, dst, vadd(vload8(dx, dst), vkeep8(vload8(dcol, src), K)))
                    else:
                        for u in range(0, K, 16):
                            vstore(dx, dst + u, vadd(vload(dx, dst + u), vkeep16(vload(dcol, src + u), K - u)))
