"""Non-overlapping max and average pooling (the backward of max pooling after a convolution is
fused into the convolution's backward: `conv_backward_sparse`, `row_delta_sparse`,
`table_backward_pooled`)."""

from __future__ import annotations

from cnnperf.engine.kernels.base import ONE, ZERO, U, inline_kernel, inner_kernel
from cnnperf.engine.kernels.simd import (
    VL,
    ndup_hi,
    ndup_lo,
    niota,
    nload,
    nload_even,
    nload_odd,
    nsplat,
    nstore,
    store_part,
    vadd,
    vmul,
    vselect_gt,
)


@inner_kernel
def maxpool_forward(x, x_off, M, H, S, out, o_off, arg, g_off):
    """Non-overlapping S x S max pooling; arg keeps the in-map index of each maximum (the
    first one on ties). Branch-free selects: data-dependent branches would mispredict. 2 x 2
    windows go VL at a time; a row's last vector also writes up to VL - 1 outputs past the
    row, which the next row (or the next layer's forward, or the buffers' slack) overwrites."""
    Q = H // S
    for m in range(M):
        base = x_off + m * H * H
        for qy in range(Q):
            o = o_off + m * Q * Q + qy * Q
            g = g_off + m * Q * Q + qy * Q
            r0 = qy * S * H
            if S == 2:
                for qx in range(0, Q, VL):
                    maxpool2_vector(x, base, r0 + 2 * qx, H, out, o + qx, arg, g + qx)
                continue
            if S == 3:  # rows first, then across rows: 4 dependent selects instead of 8
                for qx in range(Q):
                    i0 = r0 + 3 * qx
                    best, bi = first_max3(x, base, i0)
                    v, i = first_max3(x, base, i0 + H)
                    t = v > best
                    best, bi = (v if t else best), (i if t else bi)
                    v, i = first_max3(x, base, i0 + 2 * H)
                    t = v > best
                    out[U(o + qx)], arg[U(g + qx)] = (v if t else best), (i if t else bi)
                continue
            for qx in range(Q):
                i0 = r0 + qx * S
                best, bi = x[U(base + i0)], i0
                for dy in range(S):
                    for dx in range(S):
                        i = i0 + dy * H + dx
                        v = x[U(base + i)]
                        t = v > best
                        best, bi = (v if t else best), (i if t else bi)
                out[U(o + qx)] = best
                arg[U(g + qx)] = bi


@inline_kernel
def first_max3(x, base, i):
    """The first maximum of x[base + i : base + i + 3] and its index i + k."""
    a, b, c = x[U(base + i)], x[U(base + i + 1)], x[U(base + i + 2)]
    t = b > a
    best, bi = (b if t else a), (i + 1 if t else i)
    t = c > best
    return (c if t else best), (i + 2 if t else bi)


@inner_kernel
def maxpool2_vector(x, base, i0, H, out, o, arg, g):
    """VL adjacent 2 x 2 windows whose first input is x[base + i0]: maxima to out[o:], their
    in-map indices to arg[g:] (the first maximum on ties, as the scalar loop)."""
    a, b = nload_even(x, base + i0), nload_odd(x, base + i0)
    c, d = nload_even(x, base + i0 + H), nload_odd(x, base + i0 + H)
    best, bi = a, niota(arg, i0, 2)
    best, bi = vselect_gt(b, best, b, best), vselect_gt(b, best, niota(arg, i0 + 1, 2), bi)
    best, bi = vselect_gt(c, best, c, best), vselect_gt(c, best, niota(arg, i0 + H, 2), bi)
    best, bi = vselect_gt(d, best, d, best), vselect_gt(d, best, niota(arg, i0 + H + 1, 2), bi)
    nstore(out, o, best)
    nstore(arg, g, bi)


@inner_kernel
def maxpool_backward(dout, o_off, M, Q, arg, g_off, H, dx, dx_off):
    """Route each pooled delta to its arg-max input (dense scatter, for non-conv inputs)."""
    for i in range(M * H * H):
        dx[U(dx_off + i)] = ZERO
    for m in range(M):
        for q in range(Q * Q):
            dx[U(dx_off + m * H * H + arg[U(g_off + m * Q * Q + q)])] += dout[o_off + m * Q * Q + q]


@inline_kernel
def reciprocal_area(out, i, S):
    """1 / (S*S) in the dtype of `out`, whose item i (written later) it zeroes to get that dtype: a
    division per pooled pixel (in float64, from the integer S*S) cost more than the sums."""
    out[U(i)] = ZERO
    zero = out[U(i)]
    n = zero
    for _ in range(S * S):
        n += ONE
    return (zero + ONE) / n


@inner_kernel
def avgpool_forward(x, x_off, M, H, S, out, o_off):
    """Non-overlapping S x S average pooling; 2 x 2 windows VL at a time (even/odd loads), each row's
    last vector stored masked."""
    Q = H // S
    inv = reciprocal_area(out, o_off, S)
    if S == 2:
        vinv = nsplat(x, inv)
        for m in range(M):
            for qy in range(Q):
                r, o = x_off + m * H * H + 2 * qy * H, o_off + m * Q * Q + qy * Q
                for qx in range(0, Q, VL):
                    i = r + 2 * qx
                    s = vadd(vadd(nload_even(x, i), nload_odd(x, i)), vadd(nload_even(x, i + H), nload_odd(x, i + H)))
                    store_part(out, o + qx, vmul(s, vinv), Q - qx)
        return
    for m in range(M):
        base = x_off + m * H * H
        for qy in range(Q):
            for qx in range(Q):
                i0 = base + qy * S * H + qx * S
                s = x[U(i0)] - x[U(i0)]
                for dy in range(S):
                    for dx in range(S):
                        s += x[U(i0 + dy * H + dx)]
                out[U(o_off + m * Q * Q + qy * Q + qx)] = s * inv


@inner_kernel
def avgpool_backward(dout, o_off, M, Q, S, dx, dx_off):
    """dx[m, y, x] = dout[m, y // S, x // S] / (S*S) (every input pixel written once); S = 2: VL pooled
    deltas at a time, each doubled along the row (`ndup_lo`, `ndup_hi`) and stored masked on both rows."""
    H = Q * S
    inv = reciprocal_area(dx, dx_off, S)
    if S == 2:
        vinv = nsplat(dx, inv)
        for m in range(M):
            for qy in range(Q):
                r, o = dx_off + m * H * H + 2 * qy * H, o_off + m * Q * Q + qy * Q
                for qx in range(0, Q, VL):
                    g = vmul(nload(dout, o + qx), vinv)
                    lo, hi, n = ndup_lo(g), ndup_hi(g), 2 * (Q - qx)
                    i = r + 2 * qx
                    store_part(dx, i, lo, n)
                    store_part(dx, i + VL, hi, n - VL)
                    store_part(dx, i + H, lo, n)
                    store_part(dx, i + H + VL, hi, n - VL)
        return
    for m in range(M):
        for qy in range(Q):
            for qx in range(Q):
                g = dout[U(o_off + m * Q * Q + qy * Q + qx)] * inv
                i0 = dx_off + m * H * H + qy * S * H + qx * S
                for dy in range(S):
                    for ddx in range(S):
                        dx[U(i0 + dy * H + ddx)] = g
