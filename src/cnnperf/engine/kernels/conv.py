"""Convolution by im2col (one row of F taps per output pixel) and a register-blocked GEMM.

Conventions: a layer's weights are W[w_off + m*F + f] (F = fan_in, f = c*K*K + ky*K + kx,
PyTorch's order) and biases W[b_off + m]. Activations of a layer with M maps of O x O are
act[a_off + m*O*O + oy*O + ox]. Backward kernels write the layer's gradient into a per-worker
buffer `grad` (weights, then biases at `gb`) and, when needed, the input delta; the update
into shared weights happens once per layer (`cnnperf.engine.kernels.update`).
"""

from __future__ import annotations

from cnnperf.engine.kernels.activations import derivative
from cnnperf.engine.kernels.base import ZERO, U, kernel


@kernel
def im2col(x, x_off, C, H, K, col, c_off):
    """col[p, f] = x[c, oy+ky, ox+kx] with p = oy*O + ox, f = c*K*K + ky*K + kx."""
    O = H - K + 1
    F = C * K * K
    for oy in range(O):
        for ox in range(O):
            base = c_off + (oy * O + ox) * F
            for c in range(C):
                for ky in range(K):
                    src = x_off + c * H * H + (oy + ky) * H + ox
                    dst = base + c * K * K + ky * K
                    if K <= 8:  # one fixed 8-wide copy (vectorised); its overhang is overwritten next
                        for kx in range(8):
                            col[U(dst + kx)] = x[U(src + kx)]
                    else:
                        for kx in range(K):
                            col[U(dst + kx)] = x[U(src + kx)]


@kernel
def gemm_bias_nt(W, w_off, b_off, M, F, col, c_off, P, out, o_off):
    """out[m, p] = b[m] + sum_f W[m, f] * col[p, f]; 4 x 4 register blocks, reductions over f."""
    M4, P4 = M - M % 4, P - P % 4
    for p0 in range(0, P4, 4):
        c0, c1, c2, c3 = c_off + p0 * F, c_off + (p0 + 1) * F, c_off + (p0 + 2) * F, c_off + (p0 + 3) * F
        for m0 in range(0, M4, 4):
            w0, w1, w2, w3 = w_off + m0 * F, w_off + (m0 + 1) * F, w_off + (m0 + 2) * F, w_off + (m0 + 3) * F
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = ZERO
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = ZERO
            for f in range(F):
                a0, a1, a2, a3 = W[U(w0 + f)], W[U(w1 + f)], W[U(w2 + f)], W[U(w3 + f)]
                b0, b1, b2, b3 = col[U(c0 + f)], col[U(c1 + f)], col[U(c2 + f)], col[U(c3 + f)]
                s00 += a0 * b0
                s01 += a0 * b1
                s02 += a0 * b2
                s03 += a0 * b3
                s10 += a1 * b0
                s11 += a1 * b1
                s12 += a1 * b2
                s13 += a1 * b3
                s20 += a2 * b0
                s21 += a2 * b1
                s22 += a2 * b2
                s23 += a2 * b3
                s30 += a3 * b0
                s31 += a3 * b1
                s32 += a3 * b2
                s33 += a3 * b3
            r0, r1 = o_off + m0 * P + p0, o_off + (m0 + 1) * P + p0
            r2, r3 = o_off + (m0 + 2) * P + p0, o_off + (m0 + 3) * P + p0
            bb0, bb1, bb2, bb3 = W[U(b_off + m0)], W[U(b_off + m0 + 1)], W[U(b_off + m0 + 2)], W[U(b_off + m0 + 3)]
            out[U(r0)], out[U(r0 + 1)], out[U(r0 + 2)], out[U(r0 + 3)] = bb0 + s00, bb0 + s01, bb0 + s02, bb0 + s03
            out[U(r1)], out[U(r1 + 1)], out[U(r1 + 2)], out[U(r1 + 3)] = bb1 + s10, bb1 + s11, bb1 + s12, bb1 + s13
            out[U(r2)], out[U(r2 + 1)], out[U(r2 + 2)], out[U(r2 + 3)] = bb2 + s20, bb2 + s21, bb2 + s22, bb2 + s23
            out[U(r3)], out[U(r3 + 1)], out[U(r3 + 2)], out[U(r3 + 3)] = bb3 + s30, bb3 + s31, bb3 + s32, bb3 + s33
        for m in range(M4, M):
            wm = w_off + m * F
            s0 = s1 = s2 = s3 = ZERO
            for f in range(F):
                a = W[U(wm + f)]
                s0 += a * col[U(c0 + f)]
                s1 += a * col[U(c1 + f)]
                s2 += a * col[U(c2 + f)]
                s3 += a * col[U(c3 + f)]
            r, bm = o_off + m * P + p0, W[U(b_off + m)]
            out[U(r)], out[U(r + 1)], out[U(r + 2)], out[U(r + 3)] = bm + s0, bm + s1, bm + s2, bm + s3
    for p in range(P4, P):
        cp = c_off + p * F
        for m in range(M):
            wm = w_off + m * F
            s = ZERO
            for f in range(F):
                s += W[U(wm + f)] * col[U(cp + f)]
            out[U(o_off + m * P + p)] = W[U(b_off + m)] + s


@kernel
def conv_backward_sparse(W, w_off, M, F, O, S, Q, y, y_off, dpool, p_off, arg, g_off, kind,
                         col, c_off, grad, gb, dcol, need_dx, bucket):
    """Convolution under S x S max pooling: only each window's arg-max pixel has a delta.

    grad[m, :] = sum_q d[m, q] col[arg[m, q], :], four rows per pass over grad[m, :];
    dcol[p, :] = sum of d[m, q] W[m, :] over the maps whose arg-max is p, written once per
    pixel (maps bucketed per window pixel in the int scratch `bucket`: M*S*S lists, S*S
    counts, then the count of every pixel, P long, for col2im).
    The pooled delta dpool is turned into d (times f') in place; it is not needed afterwards.
    """
    P = O * O
    for m in range(M):
        for q in range(Q):
            k = p_off + m * Q + q
            dpool[U(k)] *= derivative(y[U(y_off + m * P + arg[U(g_off + m * Q + q)])], kind)
    for m in range(M):
        g, base, ab = m * F, p_off + m * Q, g_off + m * Q
        s = ZERO
        for q in range(Q):
            s += dpool[U(base + q)]
        grad[U(gb + m)] = s
        for f in range(F):
            grad[U(g + f)] = ZERO
        q = 0
        while q + 4 <= Q:
            d0, d1, d2, d3 = dpool[U(base + q)], dpool[U(base + q + 1)], dpool[U(base + q + 2)], dpool[U(base + q + 3)]
            c0, c1 = c_off + arg[U(ab + q)] * F, c_off + arg[U(ab + q + 1)] * F
            c2, c3 = c_off + arg[U(ab + q + 2)] * F, c_off + arg[U(ab + q + 3)] * F
            for f in range(F):
                grad[U(g + f)] += d0 * col[U(c0 + f)] + d1 * col[U(c1 + f)] + d2 * col[U(c2 + f)] + d3 * col[U(c3 + f)]
            q += 4
        while q < Q:
            d0, c0 = dpool[U(base + q)], c_off + arg[U(ab + q)] * F
            for f in range(F):
                grad[U(g + f)] += d0 * col[U(c0 + f)]
            q += 1
    if not need_dx:
        return
    SS = S * S
    Qs = O // S
    for q in range(Q):
        qy, qx = q // Qs, q % Qs
        for k in range(SS):
            bucket[U(M * SS + k)] = 0
        for m in range(M):  # bucket the maps by their arg-max pixel inside window q
            pix = arg[U(g_off + m * Q + q)]
            k = ((pix // O) - qy * S) * S + (pix % O) - qx * S
            n = bucket[U(M * SS + k)]
            bucket[U(k * M + n)] = m
            bucket[U(M * SS + k)] = n + 1
        for k in range(SS):
            pix = (qy * S + k // S) * O + qx * S + k % S
            row = pix * F
            n = bucket[U(M * SS + k)]
            bucket[U(M * SS + SS + pix)] = n  # rows without a delta: col2im skips them
            for f in range(F):
                dcol[U(row + f)] = ZERO
            j = 0
            while j < n:  # up to four maps per pass over the row
                m0 = bucket[U(k * M + j)]
                m1 = bucket[U(k * M + j + 1)] if j + 1 < n else m0
                m2 = bucket[U(k * M + j + 2)] if j + 2 < n else m0
                m3 = bucket[U(k * M + j + 3)] if j + 3 < n else m0
                e0 = dpool[U(p_off + m0 * Q + q)]
                e1 = dpool[U(p_off + m1 * Q + q)] if j + 1 < n else ZERO
                e2 = dpool[U(p_off + m2 * Q + q)] if j + 2 < n else ZERO
                e3 = dpool[U(p_off + m3 * Q + q)] if j + 3 < n else ZERO
                w0, w1, w2, w3 = w_off + m0 * F, w_off + m1 * F, w_off + m2 * F, w_off + m3 * F
                for f in range(F):
                    dcol[U(row + f)] += e0 * W[U(w0 + f)] + e1 * W[U(w1 + f)] + e2 * W[U(w2 + f)] + e3 * W[U(w3 + f)]
                j += 4


@kernel
def conv_backward_dense(W, w_off, M, F, P, dz, z_off, col, c_off, grad, gb, dcol, need_dx):
    """Convolution with a dense delta dz (already through f'): grad = dz col, dcol = dz^T W."""
    for m in range(M):
        g = m * F
        for f in range(F):
            grad[U(g + f)] = ZERO
        s = ZERO
        for p in range(P):
            d = dz[U(z_off + m * P + p)]
            s += d
            if d != ZERO:
                c = c_off + p * F
                for f in range(F):
                    grad[U(g + f)] += d * col[U(c + f)]
        grad[U(gb + m)] = s
    if need_dx:
        for p in range(P):
            dc = p * F
            for f in range(F):
                dcol[U(dc + f)] = ZERO
            for m in range(M):
                d = dz[U(z_off + m * P + p)]
                if d != ZERO:
                    w = w_off + m * F
                    for f in range(F):
                        dcol[U(dc + f)] += d * W[U(w + f)]


@kernel
def col2im(dcol, C, H, K, dx, dx_off, count, c_off):
    """dx[c, oy+ky, ox+kx] = sum over patches of dcol[p, f] (adjoint of im2col). With c_off >= 0
    only the rows p with count[c_off + p] > 0 (under pooling most rows have no delta)."""
    O = H - K + 1
    F = C * K * K
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for oy in range(O):
        for ox in range(O):
            if c_off >= 0 and count[U(c_off + oy * O + ox)] == 0:
                continue
            base = (oy * O + ox) * F
            for c in range(C):
                for ky in range(K):
                    dst = dx_off + c * H * H + (oy + ky) * H + ox
                    src = base + c * K * K + ky * K
                    for kx in range(K):
                        dx[U(dst + kx)] += dcol[U(src + kx)]
