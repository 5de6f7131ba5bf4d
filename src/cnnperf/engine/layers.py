"""Per-layer forward and backward kernels on flat buffers (numerics only).

Conventions: a layer's weights are W[U(w_off + m*F + f)] (F = fan_in, f = c*K*K + ky*K + kx
for convolutions, PyTorch's order) and biases W[U(b_off + m)]. Activations of a layer with
M maps of O x O are act[a_off + m*O*O + oy*O + ox]. Convolutions with more than one input
map are im2col (one row of F taps per output pixel) plus a register-blocked GEMM; the
first layer on a one-map image is a direct convolution. Backward kernels write the
layer's gradient into a per-worker buffer `grad` (weights, then biases at `gb`) and,
when needed, the input delta; the update into shared weights happens once per layer.
"""

from __future__ import annotations

from cnnperf.engine.activations import U, ZERO, derivative, kernel


@kernel
def conv_forward_direct(W, w_off, b_off, x, x_off, H, M, K, out, o_off):
    """One input map: out[U(m)] = b[m] + sum_ky,kx W[U(m,ky,kx)] * x[U(oy+ky, ox+kx)] (valid)."""
    O = H - K + 1
    for m in range(M):
        b = W[U(b_off + m)]
        for oy in range(O):
            row = o_off + m * O * O + oy * O
            for ox in range(O):
                out[U(row + ox)] = b
            for ky in range(K):
                xrow = x_off + (oy + ky) * H
                for kx in range(K):
                    w = W[U(w_off + m * K * K + ky * K + kx)]
                    for ox in range(O):
                        out[U(row + ox)] += w * x[U(xrow + kx + ox)]


@kernel
def im2col(x, x_off, C, H, K, col, c_off):
    """col[U(p, f)] = x[U(c, oy+ky, ox+kx)] with p = oy*O + ox, f = c*K*K + ky*K + kx."""
    O = H - K + 1
    F = C * K * K
    for oy in range(O):
        for ox in range(O):
            base = c_off + (oy * O + ox) * F
            for c in range(C):
                for ky in range(K):
                    src = x_off + c * H * H + (oy + ky) * H + ox
                    dst = base + c * K * K + ky * K
                    for kx in range(K):
                        col[U(dst + kx)] = x[U(src + kx)]


@kernel
def gemm_bias_nt(W, w_off, b_off, M, F, col, c_off, P, out, o_off):
    """out[U(m, p)] = b[m] + sum_f W[U(m, f)] * col[U(p, f)]; 4 x 4 register blocks, reductions over f."""
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
            r0, r1, r2, r3 = o_off + m0 * P + p0, o_off + (m0 + 1) * P + p0, o_off + (m0 + 2) * P + p0, o_off + (m0 + 3) * P + p0
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
def maxpool_forward(x, x_off, M, H, S, out, o_off, arg, g_off):
    """Non-overlapping S x S max pooling; arg keeps the in-map index of each maximum."""
    Q = H // S
    for m in range(M):
        base = x_off + m * H * H
        for qy in range(Q):
            for qx in range(Q):
                best_i = (qy * S) * H + qx * S
                best = x[U(base + best_i)]
                for dy in range(S):
                    for dx in range(S):
                        i = (qy * S + dy) * H + qx * S + dx
                        v = x[U(base + i)]
                        if v > best:
                            best, best_i = v, i
                out[U(o_off + m * Q * Q + qy * Q + qx)] = best
                arg[U(g_off + m * Q * Q + qy * Q + qx)] = best_i


@kernel
def full_forward(W, w_off, b_off, N, F, x, x_off, out, o_off):
    """out[U(n)] = b[n] + sum_f W[U(n, f)] * x[U(f)]."""
    N4 = N - N % 4
    for n0 in range(0, N4, 4):
        w0, w1, w2, w3 = w_off + n0 * F, w_off + (n0 + 1) * F, w_off + (n0 + 2) * F, w_off + (n0 + 3) * F
        s0 = s1 = s2 = s3 = ZERO
        for f in range(F):
            v = x[U(x_off + f)]
            s0 += W[U(w0 + f)] * v
            s1 += W[U(w1 + f)] * v
            s2 += W[U(w2 + f)] * v
            s3 += W[U(w3 + f)] * v
        out[U(o_off + n0)] = W[U(b_off + n0)] + s0
        out[U(o_off + n0 + 1)] = W[U(b_off + n0 + 1)] + s1
        out[U(o_off + n0 + 2)] = W[U(b_off + n0 + 2)] + s2
        out[U(o_off + n0 + 3)] = W[U(b_off + n0 + 3)] + s3
    for n in range(N4, N):
        s = ZERO
        for f in range(F):
            s += W[U(w_off + n * F + f)] * x[U(x_off + f)]
        out[U(o_off + n)] = W[U(b_off + n)] + s


@kernel
def full_backward(W, w_off, N, F, x, x_off, dz, d_off, grad, gb, dx, dx_off, need_dx):
    """dz (already through f') -> grad[U(n, f)] = dz[U(n)] x[U(f)], grad bias, dx[U(f)] = sum_n dz[U(n)] W[U(n, f)]."""
    if need_dx:
        for f in range(F):
            dx[U(dx_off + f)] = ZERO
    for n in range(N):
        d = dz[U(d_off + n)]
        grad[U(gb + n)] = d
        g = n * F
        for f in range(F):
            grad[U(g + f)] = d * x[U(x_off + f)]
        if need_dx:
            w = w_off + n * F
            for f in range(F):
                dx[U(dx_off + f)] += d * W[U(w + f)]


@kernel
def conv_backward_sparse(W, w_off, M, F, P, Q, y, y_off, dpool, p_off, arg, g_off, kind,
                         col, c_off, grad, gb, dcol, need_dx):
    """Convolution under max pooling: only each pooling window's arg-max pixel has a delta.

    grad[U(m, :)] += d * col[U(pix, :)]; dcol[U(pix, :)] += d * W[U(m, :)] (dcol zeroed here if needed).
    """
    for i in range(M * F):
        grad[U(i)] = ZERO
    for m in range(M):
        grad[U(gb + m)] = ZERO
    if need_dx:
        for i in range(P * F):
            dcol[U(i)] = ZERO
    for m in range(M):
        for q in range(Q):
            pix = arg[U(g_off + m * Q + q)]
            d = dpool[U(p_off + m * Q + q)] * derivative(y[U(y_off + m * P + pix)], kind)
            if d == ZERO:
                continue
            grad[U(gb + m)] += d
            g, c = m * F, c_off + pix * F
            for f in range(F):
                grad[U(g + f)] += d * col[U(c + f)]
            if need_dx:
                w, dc = w_off + m * F, pix * F
                for f in range(F):
                    dcol[U(dc + f)] += d * W[U(w + f)]


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
def col2im(dcol, C, H, K, dx, dx_off):
    """dx[U(c, oy+ky, ox+kx)] = sum over patches of dcol[U(p, f)] (adjoint of im2col)."""
    O = H - K + 1
    F = C * K * K
    for i in range(C * H * H):
        dx[U(dx_off + i)] = ZERO
    for oy in range(O):
        for ox in range(O):
            base = (oy * O + ox) * F
            for c in range(C):
                for ky in range(K):
                    dst = dx_off + c * H * H + (oy + ky) * H + ox
                    src = base + c * K * K + ky * K
                    for kx in range(K):
                        dx[U(dst + kx)] += dcol[U(src + kx)]


@kernel
def conv_grad_direct_sparse(M, K, H, O, Q, x, x_off, y, y_off, dpool, p_off, arg, g_off, kind, grad, gb):
    """First-layer convolution under pooling: weight gradient from the arg-max pixels only."""
    F = K * K
    for i in range(M * F):
        grad[U(i)] = ZERO
    for m in range(M):
        grad[U(gb + m)] = ZERO
        for q in range(Q):
            pix = arg[U(g_off + m * Q + q)]
            d = dpool[U(p_off + m * Q + q)] * derivative(y[U(y_off + m * O * O + pix)], kind)
            if d == ZERO:
                continue
            grad[U(gb + m)] += d
            oy, ox = pix // O, pix % O
            for ky in range(K):
                src = x_off + (oy + ky) * H + ox
                for kx in range(K):
                    grad[U(m * F + ky * K + kx)] += d * x[U(src + kx)]


@kernel
def conv_grad_direct_dense(M, K, H, O, x, x_off, dz, z_off, grad, gb):
    """First-layer convolution, dense delta: grad[U(m, ky, kx)] = sum_oy,ox dz[U(m, oy, ox)] x[U(oy+ky, ox+kx)]."""
    for m in range(M):
        s = ZERO
        for i in range(O * O):
            s += dz[U(z_off + m * O * O + i)]
        grad[U(gb + m)] = s
        for ky in range(K):
            for kx in range(K):
                t = ZERO
                for oy in range(O):
                    src = x_off + (oy + ky) * H + kx
                    row = z_off + m * O * O + oy * O
                    for ox in range(O):
                        t += dz[U(row + ox)] * x[U(src + ox)]
                grad[U(m * K * K + ky * K + kx)] = t


@kernel
def maxpool_backward(dout, o_off, M, Q, arg, g_off, H, dx, dx_off):
    """Route each pooled delta to its arg-max input (dense scatter, for non-conv inputs)."""
    for i in range(M * H * H):
        dx[U(dx_off + i)] = ZERO
    for m in range(M):
        for q in range(Q * Q):
            dx[U(dx_off + m * H * H + arg[U(g_off + m * Q * Q + q)])] += dout[o_off + m * Q * Q + q]


@kernel
def apply_update(W, w_off, b_off, n_w, n_b, grad, gb, lr, gout):
    """Write one layer's update into the (shared) weights: W -= lr * grad, once per weight.

    With a non-empty `gout` (float64 check path) the gradient is stored there instead.
    """
    if gout.size > 0:
        for i in range(n_w):
            gout[U(w_off + i)] = grad[U(i)]
        for i in range(n_b):
            gout[U(b_off + i)] = grad[U(gb + i)]
        return
    for i in range(n_w):
        W[U(w_off + i)] -= lr * grad[U(i)]
    for i in range(n_b):
        W[U(b_off + i)] -= lr * grad[U(gb + i)]
