"""Whole-network kernels: per-layer forward/backward dispatch, softmax + cross-entropy, and
the per-image loops (training and evaluation).

Numerics only (no threads, no timing). A worker's network instance is a set of flat
buffers (`act`, `delta`, `arg`, `col`, `dcol`, `grad`); the weights `W` are shared. Each
layer's update is written into `W` as soon as that layer is back-propagated (its input
delta is computed first, with the weights it used in the forward pass). `forward_layer`,
`backward_conv` and `backward_other` are the units (`base.unit_kernel`: machine code of their own)
that the loops here and the profiled loop call.
"""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.activations import activate, scale_by_derivative
from cnnperf.engine.kernels.base import ZERO, I, U, inline_kernel, kernel, unit_kernel
from cnnperf.engine.kernels.conv import col2im, conv_backward_dense, conv_backward_sparse
from cnnperf.engine.kernels.conv_direct import (
    conv_forward_direct,
    conv_grad_direct,
    row_delta_dense,
    row_delta_sparse,
)
from cnnperf.engine.kernels.conv_table import im2col_t, table_forward
from cnnperf.engine.kernels.conv_table_back import table_backward_dense
from cnnperf.engine.kernels.conv_table_pooled import pad_offset, table_backward_pooled
from cnnperf.engine.kernels.full import full_backward, full_forward
from cnnperf.engine.kernels.gemm import gemm_bias_nt, im2col
from cnnperf.engine.kernels.pool import avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward
from cnnperf.engine.kernels.update import apply_update
from cnnperf.engine.kinds import KIND_AVGPOOL, KIND_CONV, KIND_FULL, KIND_MAXPOOL, KIND_OUTPUT
from cnnperf.engine.layout import (
    A_IN,
    A_OFF,
    ARG_OFF,
    B_OFF,
    CH_D,
    CH_G,
    COL_OFF,
    CONN_OFF,
    DIRECT,
    FAN_IN,
    IN_MAPS,
    IN_SIZE,
    KERNEL,
    KIND,
    MAPS,
    N_CONN,
    N_W,
    POOLED,
    SIZE,
    TABLE,
    W_OFF,
)


@inline_kernel
def conv_forward_layer(i, desc, W, act, col, dcol, conn):
    """Convolution i before its activation: direct (first layer), table, or im2col + GEMM."""
    M, O, C = desc[i, MAPS], desc[i, SIZE], desc[i, IN_MAPS]
    H, K, F = desc[i, IN_SIZE], desc[i, KERNEL], desc[i, FAN_IN]
    a_in, a_out, c_off = desc[i, A_IN], desc[i, A_OFF], desc[i, COL_OFF]
    if desc[i, DIRECT]:
        conv_forward_direct(W, desc[i, W_OFF], desc[i, B_OFF], act, a_in, H, M, K, act, a_out)
    elif desc[i, TABLE]:
        if conn is not None:
            im2col_t(act, a_in, C, H, K, col, c_off)
            table_forward(W, desc[i, W_OFF], desc[i, B_OFF], M, C, K, O, conn, desc[i, CONN_OFF], desc[i, N_CONN], col,
                          c_off, dcol, 0, act, a_in, a_out)
    else:
        im2col(act, a_in, C, H, K, col, c_off)
        gemm_bias_nt(W, desc[i, W_OFF], desc[i, B_OFF], M, F, col, c_off, O * O, act, a_out)


@unit_kernel
def forward_layer(i, desc, W, act, arg, col, dcol, act_kind, conn, extra, exact):
    """Forward of layer i (> 0): reads its input activations, writes its outputs. A convolution
    followed by max pooling (POOLED) leaves its outputs before the activation, and the pooling
    activates its maxima: f is non-decreasing, so max f(z) = f(max z) on 1/S^2 of the values (every
    pooled backward reads y at the arg-max from the pooled outputs)."""
    k, M, O, H, K = desc[i, KIND], desc[i, MAPS], desc[i, SIZE], desc[i, IN_SIZE], desc[i, KERNEL]
    a_in, a_out = desc[i, A_IN], desc[i, A_OFF]
    if k == KIND_CONV:
        conv_forward_layer(i, desc, W, act, col, dcol, conn)
        if not desc[i, POOLED]:
            activate(act, a_out, a_out + M * O * O, act_kind, exact)
    elif k == KIND_MAXPOOL:
        maxpool_forward(act, a_in, M, H, K, act, a_out, arg, desc[i, ARG_OFF])
        if desc[i - 1, KIND] == KIND_CONV and desc[i - 1, POOLED]:
            activate(act, a_out, a_out + M * O * O, act_kind, exact)
    elif k == KIND_AVGPOOL:
        if extra is not None:
            avgpool_forward(act, a_in, M, H, K, act, a_out)
    elif k == KIND_FULL or k == KIND_OUTPUT:  # noqa: SIM109 (Numba kernels compare scalars)
        full_forward(W, desc[i, W_OFF], desc[i, B_OFF], M, desc[i, FAN_IN], act, a_in, act, a_out)
        if k == KIND_FULL:
            activate(act, a_out, a_out + M, act_kind, exact)


@inline_kernel
def conv_backward_layer(i, desc, W, act, delta, arg, col, dcol, grad, bucket, act_kind, gb, conn, dense,
                        direct_dense):
    """Gradient of convolution i into `grad` and, except for layer 1, its input delta."""
    M, O, C = desc[i, MAPS], desc[i, SIZE], desc[i, IN_MAPS]
    H, K, F = desc[i, IN_SIZE], desc[i, KERNEL], desc[i, FAN_IN]
    a_in, a_out, w_off, c_off = desc[i, A_IN], desc[i, A_OFF], desc[i, W_OFF], desc[i, COL_OFF]
    need_dx = i > 1
    P = O * O
    if desc[i, POOLED]:
        nq = desc[i + 1, SIZE] * desc[i + 1, SIZE]
        p_off, g_off = desc[i + 1, A_OFF], desc[i + 1, ARG_OFF]
        if desc[i, DIRECT]:
            scale_by_derivative(delta, act, p_off, p_off + M * nq, act_kind)  # the pooled outputs are y at the arg-max
            row_delta_sparse(M, O, desc[i + 1, KERNEL], desc[i + 1, SIZE], delta, p_off, arg, g_off, col, c_off)
            conv_grad_direct(M, K, H, O, act, a_in, col, c_off, grad, gb)
        elif desc[i, TABLE]:
            if conn is not None:
                table_backward_pooled(W, w_off, M, C, H, K, desc[i + 1, KERNEL], nq, conn, desc[i, CONN_OFF],
                                      desc[i, N_CONN], act, delta, p_off, arg, g_off, act_kind, act, a_in, grad, gb,
                                      bucket, col, pad_offset(c_off, C, K, O), delta, a_in, need_dx)
        else:
            conv_backward_sparse(W, w_off, M, F, O, desc[i + 1, KERNEL], nq, act, delta, p_off, arg, g_off,
                                 act_kind, col, c_off, grad, gb, dcol, need_dx, bucket, desc[i, CH_G], desc[i, CH_D])
            if need_dx:
                col2im(dcol, C, H, K, delta, a_in, bucket, M * nq)
    elif desc[i, TABLE]:
        if conn is not None:
            scale_by_derivative(delta, act, a_out, a_out + M * P, act_kind)
            table_backward_dense(W, w_off, M, C, H, K, conn, desc[i, CONN_OFF], desc[i, N_CONN], delta, a_out, col,
                                 c_off, grad, gb, dcol, delta, a_in, need_dx)
    elif desc[i, DIRECT]:
        if direct_dense is not None:  # noqa: SIM102 (`direct_dense is None` alone is pruned by Numba)
            scale_by_derivative(delta, act, a_out, a_out + M * P, act_kind)
            row_delta_dense(M, O, delta, a_out, col, c_off)
            conv_grad_direct(M, K, H, O, act, a_in, col, c_off, grad, gb)
    elif dense is not None:
        scale_by_derivative(delta, act, a_out, a_out + M * P, act_kind)
        conv_backward_dense(W, w_off, M, F, P, delta, a_out, col, c_off, grad, gb, dcol, need_dx, bucket, desc[i, CH_G],
                            desc[i, CH_D])
        if need_dx:
            col2im(dcol, C, H, K, delta, a_in, bucket, I(-1))


@unit_kernel
def backward_conv(i, desc, W, act, delta, arg, col, dcol, grad, bucket, lr, act_kind, rotate, prefetch, conn, dense,
                  direct_dense, gout):
    """Backward of convolution i (one with more than one output pixel, or direct, pooled or a
    table): its gradient, its input delta (not for layer 1), then its update."""
    gb = ((desc[i, N_W] + 15) // 16) * 16
    conv_backward_layer(i, desc, W, act, delta, arg, col, dcol, grad, bucket, act_kind, gb, conn, dense, direct_dense)
    apply_update(W, desc[i, W_OFF], desc[i, B_OFF], desc[i, N_W], desc[i, MAPS], grad, gb, lr, gout, rotate, prefetch)


@unit_kernel
def backward_other(i, desc, W, act, delta, arg, lr, act_kind, rotate, prefetch, extra, gout):
    """Backward of layer i that is not a `backward_conv` one: fully connected (or a convolution with
    one output pixel, the same product), or pooling. Max pooling after a convolution is fused into
    the convolution's backward (nothing to do here)."""
    k, M, O, H, K = desc[i, KIND], desc[i, MAPS], desc[i, SIZE], desc[i, IN_SIZE], desc[i, KERNEL]
    a_in, a_out, w_off, b_off = desc[i, A_IN], desc[i, A_OFF], desc[i, W_OFF], desc[i, B_OFF]
    need_dx = i > 1
    if k == KIND_MAXPOOL:
        if need_dx and desc[i - 1, KIND] != KIND_CONV:  # noqa: SIM102 (`extra is None` alone is pruned by Numba)
            if extra is not None:
                maxpool_backward(delta, a_out, M, O, arg, desc[i, ARG_OFF], H, delta, a_in)
    elif k == KIND_AVGPOOL:
        if need_dx:  # noqa: SIM102 (`extra is None` alone is pruned by Numba)
            if extra is not None:
                avgpool_backward(delta, a_out, M, O, K, delta, a_in)
    else:  # KIND_FULL, KIND_OUTPUT, or a convolution with one output pixel (paths.ConvPath.whole)
        if k != KIND_OUTPUT:
            scale_by_derivative(delta, act, a_out, a_out + M, act_kind)
        full_backward(W, w_off, b_off, M, desc[i, FAN_IN], act, a_in, delta, a_out, delta, a_in, need_dx, lr,
                      gout, rotate, prefetch)


@inline_kernel
def backward_layer(i, desc, W, act, delta, arg, col, dcol, grad, bucket, lr, act_kind, rotate, prefetch, conn, dense,
                   direct_dense, extra, gout):
    """Backward of layer i from its output delta: input delta (not for layer 1), then its update."""
    if desc[i, KIND] == KIND_CONV and (desc[i, SIZE] > 1 or desc[i, DIRECT] or desc[i, POOLED] or desc[i, TABLE]):
        backward_conv(i, desc, W, act, delta, arg, col, dcol, grad, bucket, lr, act_kind, rotate, prefetch, conn,
                      dense, direct_dense, gout)
    else:
        backward_other(i, desc, W, act, delta, arg, lr, act_kind, rotate, prefetch, extra, gout)


@inline_kernel
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


@inline_kernel
def load_image(act, images, n):
    """Copy image n (a row of `images`) into the input layer's activations."""
    for j in range(images.shape[1]):
        act[U(j)] = images[U(n), U(j)]


@inline_kernel
def output_loss(desc, act, delta, labels, n):
    """Softmax + cross-entropy of the output layer for image n. Returns (loss, class)."""
    L = desc.shape[0] - 1
    return softmax_delta(act, desc[L, A_OFF], desc[L, MAPS], labels[n], delta)


@kernel
def run_images(desc, W, act, delta, arg, col, dcol, grad, bucket, images, labels, lo, hi, lr, act_kind, rotate,
               prefetch, train, conn, dense, direct_dense, extra, exact, gout):
    """Per-image SGD over images[lo:hi] (rows are flattened images), or with `train` False the
    forward only. Returns (errors, loss sum). One entry for both, so a run compiles one function.

    The last six arguments choose what is compiled (None: that code is pruned before typing, so a
    run compiles only the kernels its network uses): `conn` the connection blocks (table
    convolutions), `dense` im2col convolutions without max pooling after them, `direct_dense` such a
    first convolution (`conv_direct`), `extra` average pooling
    and max pooling of a non-convolution, `exact` the float64 activations, `gout` the gradient
    output of the check path (None: update the weights)."""
    L = desc.shape[0]
    errors, loss = 0, 0.0
    for n in range(lo, hi):
        load_image(act, images, n)
        for i in range(1, L):
            forward_layer(i, desc, W, act, arg, col, dcol, act_kind, conn, extra, exact)
        lo_n, pred = output_loss(desc, act, delta, labels, n)
        loss += lo_n
        errors += pred != labels[n]
        if train:
            for i in range(L - 1, 0, -1):
                backward_layer(i, desc, W, act, delta, arg, col, dcol, grad, bucket, lr, act_kind, rotate, prefetch,
                               conn, dense, direct_dense, extra, gout)
    return errors, loss
