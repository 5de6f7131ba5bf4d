"""Whole-network kernels: forward, softmax + cross-entropy, backward with per-layer update.

Numerics only (no threads, no timing). A worker's network instance is a set of flat
buffers (`act`, `delta`, `arg`, `col`, `dcol`, `grad`); the weights `W` are shared. Each
layer's update is written into `W` as soon as that layer is back-propagated (its input
delta is computed first, with the weights it used in the forward pass).
"""

from __future__ import annotations

import numpy as np

from cnnperf.engine.activations import U, ZERO, activate, kernel, scale_by_derivative
from cnnperf.engine.layers import (
    apply_update, col2im, conv_backward_dense, conv_backward_sparse, conv_forward_direct,
    conv_grad_direct, full_backward, full_forward, gemm_bias_nt,
    im2col, maxpool_backward, maxpool_forward, wide_delta_dense, wide_delta_sparse,
)
from cnnperf.engine.layout import (
    A_IN, A_OFF, ARG_OFF, B_OFF, COL_OFF, DIRECT, FAN_IN, IN_MAPS, IN_SIZE, KERNEL, KIND, MAPS,
    POOLED, SIZE, W_OFF,
)


@kernel
def forward(desc, W, act, arg, col, act_kind, exact):
    """Forward pass; act[0:n_in] holds the image, the output layer's logits end in act."""
    for i in range(1, desc.shape[0]):
        k, M, O, C, H, K, F = desc[i, KIND], desc[i, MAPS], desc[i, SIZE], desc[i, IN_MAPS], desc[i, IN_SIZE], desc[i, KERNEL], desc[i, FAN_IN]
        a_in, a_out = desc[i, A_IN], desc[i, A_OFF]
        if k == 1:
            if desc[i, DIRECT]:
                conv_forward_direct(W, desc[i, W_OFF], desc[i, B_OFF], act, a_in, H, M, K, col, desc[i, COL_OFF], act, a_out)
            else:
                im2col(act, a_in, C, H, K, col, desc[i, COL_OFF])
                gemm_bias_nt(W, desc[i, W_OFF], desc[i, B_OFF], M, F, col, desc[i, COL_OFF], O * O, act, a_out)
            activate(act, a_out, a_out + M * O * O, act_kind, exact)
        elif k == 2:
            maxpool_forward(act, a_in, M, H, K, act, a_out, arg, desc[i, ARG_OFF])
        else:
            full_forward(W, desc[i, W_OFF], desc[i, B_OFF], M, F, act, a_in, act, a_out)
            if k == 3:
                activate(act, a_out, a_out + M, act_kind, exact)


@kernel
def softmax_delta(act, o_off, N, label, delta):
    """Softmax + cross-entropy: delta = p - onehot(label). Returns (loss, predicted class)."""
    mx, pred = act[o_off], 0
    for n in range(1, N):
        if act[o_off + n] > mx:
            mx, pred = act[o_off + n], n
    s = ZERO
    for n in range(N):
        e = np.exp(act[o_off + n] - mx)
        delta[o_off + n] = e
        s += e
    for n in range(N):
        delta[o_off + n] = delta[o_off + n] / s
    delta[o_off + label] -= 1
    loss = np.log(np.float64(s)) - np.float64(act[o_off + label] - mx)
    return loss, pred


@kernel
def backward(desc, W, act, delta, arg, col, dcol, grad, gout, bucket, lr, act_kind, rotate):
    """Back-propagate from the output delta, updating each layer's weights right after it."""
    for i in range(desc.shape[0] - 1, 0, -1):
        k, M, O, C, H, K, F = desc[i, KIND], desc[i, MAPS], desc[i, SIZE], desc[i, IN_MAPS], desc[i, IN_SIZE], desc[i, KERNEL], desc[i, FAN_IN]
        a_in, a_out, w_off, b_off = desc[i, A_IN], desc[i, A_OFF], desc[i, W_OFF], desc[i, B_OFF]
        need_dx = i > 1
        gb = ((M * F + 15) // 16) * 16
        if k == 3 or k == 4:
            if k == 3:
                scale_by_derivative(delta, act, a_out, a_out + M, act_kind)
            full_backward(W, w_off, b_off, M, F, act, a_in, delta, a_out, delta, a_in, need_dx, lr, gout, rotate)
        elif k == 2:
            if need_dx and desc[i - 1, KIND] != 1:
                maxpool_backward(delta, a_out, M, O, arg, desc[i, ARG_OFF], H, delta, a_in)
        else:
            P = O * O
            if desc[i, POOLED]:
                nq = desc[i + 1, SIZE] * desc[i + 1, SIZE]
                p_off, g_off = desc[i + 1, A_OFF], desc[i + 1, ARG_OFF]
                if desc[i, DIRECT]:
                    wide_delta_sparse(M, O, H, nq, act, a_out, delta, p_off, arg, g_off, act_kind, col, desc[i, COL_OFF])
                    conv_grad_direct(M, K, H, O, act, a_in, col, desc[i, COL_OFF], grad, gb)
                else:
                    conv_backward_sparse(W, w_off, M, F, O, desc[i + 1, KERNEL], nq, act, a_out, delta, p_off, arg, g_off,
                                         act_kind, col, desc[i, COL_OFF], grad, gb, dcol, need_dx, bucket)
            else:
                scale_by_derivative(delta, act, a_out, a_out + M * P, act_kind)
                if desc[i, DIRECT]:
                    wide_delta_dense(M, O, H, delta, a_out, col, desc[i, COL_OFF])
                    conv_grad_direct(M, K, H, O, act, a_in, col, desc[i, COL_OFF], grad, gb)
                else:
                    conv_backward_dense(W, w_off, M, F, P, delta, a_out, col, desc[i, COL_OFF], grad, gb, dcol, need_dx)
            if need_dx and not desc[i, DIRECT]:
                ss = desc[i + 1, KERNEL] * desc[i + 1, KERNEL] if desc[i, POOLED] else 0
                col2im(dcol, C, H, K, delta, a_in, bucket, M * ss + ss if desc[i, POOLED] else -1)
            apply_update(W, w_off, b_off, M * F, M, grad, gb, lr, gout, rotate)


@kernel
def image_loss(desc, W, act, delta, arg, col, images, labels, n, act_kind, exact):
    """Forward image n (a row of `images`) and put the output delta in place. Returns (loss, class)."""
    for j in range(images.shape[1]):
        act[U(j)] = images[U(n), U(j)]
    forward(desc, W, act, arg, col, act_kind, exact)
    L = desc.shape[0] - 1
    return softmax_delta(act, desc[L, A_OFF], desc[L, MAPS], labels[n], delta)


@kernel
def train_images(desc, W, act, delta, arg, col, dcol, grad, gout, bucket, images, labels, lo, hi, lr, act_kind, exact,
                 rotate):
    """Per-image SGD over images[lo:hi] (rows are flattened images). Returns (errors, loss sum)."""
    errors, loss = 0, 0.0
    for n in range(lo, hi):
        lo_n, pred = image_loss(desc, W, act, delta, arg, col, images, labels, n, act_kind, exact)
        loss += lo_n
        errors += pred != labels[n]
        backward(desc, W, act, delta, arg, col, dcol, grad, gout, bucket, lr, act_kind, rotate)
    return errors, loss


@kernel
def evaluate_images(desc, W, act, delta, arg, col, images, labels, lo, hi, act_kind, exact):
    """Forward only over images[lo:hi]. Returns (errors, loss sum)."""
    errors, loss = 0, 0.0
    for n in range(lo, hi):
        lo_n, pred = image_loss(desc, W, act, delta, arg, col, images, labels, n, act_kind, exact)
        loss += lo_n
        errors += pred != labels[n]
    return errors, loss
