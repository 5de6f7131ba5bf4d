"""First convolution on a one-map image: register-tiled direct convolution and its gradient.

An output row of O pixels is ceil(O/16)*16 lanes of native vectors ("slots"; the lanes past O
read the next input values and are not stored). Forward: a tile of MF maps x 4 slots keeps its
accumulators in registers over the K*K taps, each tap one broadcast weight per map and one load
per slot. Gradient: the delta goes into rows of Os = ceil(O/16)*16 floats with zero padding
(`row_delta_dense` / `row_delta_sparse`), and a tile of MG maps x 4 taps sums delta rows times
the shifted input rows (grad[m, t] = sum_oy,ox dz[m, oy, ox] x[oy + ky, ox + kx]). The lanes
executed do not depend on the vector width (`cnnperf.engine.paths`: M*K*K*O*Os per direction).
The layer needs no input delta (its input is the image). Conventions as in
`cnnperf.engine.kernels.conv`.
"""

from __future__ import annotations

from cnnperf.engine.kernels.base import ZERO, I, U, inline_kernel, inner_kernel
from cnnperf.engine.kernels.conv_table import padded
from cnnperf.engine.kernels.simd import (
    MASKED_STORES,
    REGISTERS,
    VL,
    nload,
    nsplat,
    nstore,
    store_part,
    store_sums,
    vadd,
    vfma,
    vsum,
)

MF = 4 if REGISTERS >= 32 else 2  # forward: maps per tile (x 4 slots of accumulators)
MG = 4 if REGISTERS >= 32 else 2  # gradient: maps per tile (x 4 taps)


@inner_kernel
def slot_offsets(s, n_slots, nv, H, O):
    """(input offset, output offset, lanes) of slot s (clamped to the last slot; 0 lanes past it)."""
    t = min(s, n_slots - 1)
    oy, v = t // nv, t % nv
    return oy * H + v * VL, oy * O + v * VL, min(VL, O - v * VL) if s < n_slots else 0


@inner_kernel
def forward_tile(W, w_off, b_off, M, K, H, O, m0, s0, nv, n_slots, x, x_off, out, o_off):
    """out[m, slot] for maps m0 .. m0+MF-1 and slots s0 .. s0+3 (bias, then the taps in order, FMA)."""
    KK, P = K * K, O * O
    ma, mb, mc, md = m0, min(m0 + 1, M - 1), min(m0 + 2, M - 1), min(m0 + 3, M - 1)
    xa, oa, na = slot_offsets(s0, n_slots, nv, H, O)
    xb, ob, nb = slot_offsets(s0 + 1, n_slots, nv, H, O)
    xc, oc, nc = slot_offsets(s0 + 2, n_slots, nv, H, O)
    xd, od, nd = slot_offsets(s0 + 3, n_slots, nv, H, O)
    a0 = a1 = a2 = a3 = nsplat(x, W[U(b_off + ma)])
    b0 = b1 = b2 = b3 = nsplat(x, W[U(b_off + mb)])
    c0 = c1 = c2 = c3 = nsplat(x, W[U(b_off + mc)])
    d0 = d1 = d2 = d3 = nsplat(x, W[U(b_off + md)])
    for ky in range(K):
        for kx in range(K):
            o, t = x_off + ky * H + kx, w_off + ky * K + kx
            v0, v1, v2, v3 = nload(x, xa + o), nload(x, xb + o), nload(x, xc + o), nload(x, xd + o)
            w = nsplat(x, W[U(t + ma * KK)])
            a0, a1, a2, a3 = vfma(a0, w, v0), vfma(a1, w, v1), vfma(a2, w, v2), vfma(a3, w, v3)
            w = nsplat(x, W[U(t + mb * KK)])
            b0, b1, b2, b3 = vfma(b0, w, v0), vfma(b1, w, v1), vfma(b2, w, v2), vfma(b3, w, v3)
            if MF > 2:
                w = nsplat(x, W[U(t + mc * KK)])
                c0, c1, c2, c3 = vfma(c0, w, v0), vfma(c1, w, v1), vfma(c2, w, v2), vfma(c3, w, v3)
                w = nsplat(x, W[U(t + md * KK)])
                d0, d1, d2, d3 = vfma(d0, w, v0), vfma(d1, w, v1), vfma(d2, w, v2), vfma(d3, w, v3)
    store_slots(out, o_off + ma * P, oa, ob, oc, od, na, nb, nc, nd, a0, a1, a2, a3, P)
    if m0 + 1 < M:
        store_slots(out, o_off + mb * P, oa, ob, oc, od, na, nb, nc, nd, b0, b1, b2, b3, P)
    if MF > 2 and m0 + 2 < M:
        store_slots(out, o_off + mc * P, oa, ob, oc, od, na, nb, nc, nd, c0, c1, c2, c3, P)
    if MF > 2 and m0 + 3 < M:
        store_slots(out, o_off + md * P, oa, ob, oc, od, na, nb, nc, nd, d0, d1, d2, d3, P)


@inline_kernel
def store_slot(out, r, o, v, n, P):
    """The first n lanes of v to out[r + o] (none when n = 0). AVX-512: a plain store when all VL
    lanes are the row's, else a masked one (`store_part`). AVX2, whose masked store (vmaskmovps) is
    slow (with one per slot the medium layer-1 forward measured 2.2x slower than the AVX-512 build):
    all VL lanes, those past the row landing on the map's next row, stored later (slots ascending);
    only the map's last slot (o + n = P) is masked, as the next map's first row is already stored."""
    if n > 0:
        if MASKED_STORES or o + n == P:
            store_part(out, r + o, v, n)
        else:
            nstore(out, r + o, v)


@inner_kernel
def store_slots(out, r, oa, ob, oc, od, na, nb, nc, nd, v0, v1, v2, v3, P):
    """The first n_i lanes of v_i to out[r + o_i] (`store_slot`)."""
    store_slot(out, r, oa, v0, na, P)
    store_slot(out, r, ob, v1, nb, P)
    store_slot(out, r, oc, v2, nc, P)
    store_slot(out, r, od, v3, nd, P)


@inner_kernel
def conv_forward_direct(W, w_off, b_off, x, x_off, H, M, K, out, o_off):
    """One input map: out[m, oy, ox] = b[m] + sum_ky,kx W[m, ky, kx] x[oy + ky, ox + kx], in
    tiles of MF maps x 4 row slots whose accumulators stay in registers."""
    O = H - K + 1
    nv = padded(O) // VL
    n_slots = O * nv
    for m0 in range(0, M, MF):
        for s0 in range(0, n_slots, 4):
            forward_tile(W, w_off, b_off, M, K, H, O, m0, s0, nv, n_slots, x, x_off, out, o_off)


@inner_kernel
def row_delta_sparse(M, O, S, Q, d, p_off, arg, g_off, dzp, d_off):
    """First layer under S x S max pooling (Q x Q windows): the arg-max deltas `d` (already times
    f') into zeroed rows of padded(O) floats. An arg-max's row within its window comes from
    branch-free compares: an integer division per pixel cost more than the layer's gradient."""
    Os = padded(O)
    z = nsplat(dzp, 0.0)
    for i in range(0, M * O * Os, VL):
        nstore(dzp, d_off + i, z)
    for m in range(M):
        for qy in range(Q):
            row = d_off + (m * O + qy * S) * Os
            q0 = (m * Q + qy) * Q
            if S == 2:
                for q in range(q0, q0 + Q):
                    r = arg[U(g_off + q)] - qy * S * O  # dy * O + ox, dy < S
                    dzp[U(row + r + I(r >= O) * (Os - O))] = d[U(p_off + q)]
            else:
                for q in range(q0, q0 + Q):
                    r = arg[U(g_off + q)] - qy * S * O
                    dy = I(0)
                    for k in range(1, S):
                        dy += I(r >= k * O)
                    dzp[U(row + r + dy * (Os - O))] = d[U(p_off + q)]


@inner_kernel
def row_delta_dense(M, O, dz, z_off, dzp, d_off):
    """First layer, dense delta (through f'): rows of padded(O) floats, zeros past O."""
    Os = padded(O)
    for r in range(M * O):
        dst, src = d_off + r * Os, z_off + r * O
        for ox in range(O):
            dzp[U(dst + ox)] = dz[U(src + ox)]
        for ox in range(O, Os):
            dzp[U(dst + ox)] = ZERO


@inner_kernel
def grad_tile(dzp, d_off, M, K, H, O, m0, t0, x, x_off, grad):
    """grad[m, t] for maps m0 .. m0+MG-1 and taps t0 .. t0+3 (clamped; only valid ones stored)."""
    KK, Os = K * K, padded(O)
    ra, rb = d_off + m0 * O * Os, d_off + min(m0 + 1, M - 1) * O * Os
    rc, rd = d_off + min(m0 + 2, M - 1) * O * Os, d_off + min(m0 + 3, M - 1) * O * Os
    ta, tb, tc, td = t0, min(t0 + 1, KK - 1), min(t0 + 2, KK - 1), min(t0 + 3, KK - 1)
    oa, ob = x_off + (ta // K) * H + ta % K, x_off + (tb // K) * H + tb % K
    oc, od = x_off + (tc // K) * H + tc % K, x_off + (td // K) * H + td % K
    z = nsplat(x, 0.0)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = z
    for oy in range(O):
        for u in range(0, Os, VL):
            r, s = oy * Os + u, oy * H + u
            v0, v1, v2, v3 = nload(x, oa + s), nload(x, ob + s), nload(x, oc + s), nload(x, od + s)
            e = nload(dzp, ra + r)
            a0, a1, a2, a3 = vfma(a0, e, v0), vfma(a1, e, v1), vfma(a2, e, v2), vfma(a3, e, v3)
            e = nload(dzp, rb + r)
            b0, b1, b2, b3 = vfma(b0, e, v0), vfma(b1, e, v1), vfma(b2, e, v2), vfma(b3, e, v3)
            if MG > 2:
                e = nload(dzp, rc + r)
                c0, c1, c2, c3 = vfma(c0, e, v0), vfma(c1, e, v1), vfma(c2, e, v2), vfma(c3, e, v3)
                e = nload(dzp, rd + r)
                d0, d1, d2, d3 = vfma(d0, e, v0), vfma(d1, e, v1), vfma(d2, e, v2), vfma(d3, e, v3)
    n = min(4, KK - t0)
    store_sums(grad, m0 * KK + t0, n, a0, a1, a2, a3)
    if m0 + 1 < M:
        store_sums(grad, (m0 + 1) * KK + t0, n, b0, b1, b2, b3)
    if MG > 2 and m0 + 2 < M:
        store_sums(grad, (m0 + 2) * KK + t0, n, c0, c1, c2, c3)
    if MG > 2 and m0 + 3 < M:
        store_sums(grad, (m0 + 3) * KK + t0, n, d0, d1, d2, d3)


@inner_kernel
def conv_grad_direct(M, K, H, O, x, x_off, dzp, d_off, grad, gb):
    """One-map first layer: grad[m, ky, kx] = sum_oy,ox dz[m, oy, ox] x[oy + ky, ox + kx] from the
    delta rows (`row_delta_*`), in tiles of MG maps x 4 taps; the bias gradient sums the rows."""
    KK, Os = K * K, padded(O)
    for m in range(M):
        s = nsplat(x, 0.0)
        for i in range(0, O * Os, VL):
            s = vadd(s, nload(dzp, d_off + m * O * Os + i))
        grad[U(gb + m)] = vsum(s)
    for m0 in range(0, M, MG):
        for t0 in range(0, KK, 4):
            grad_tile(dzp, d_off, M, K, H, O, m0, t0, x, x_off, grad)
