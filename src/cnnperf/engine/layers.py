"""Compatibility names: the per-layer kernels now live in `cnnperf.engine.kernels` by layer kind.
Only `gemm_bias_nt` is callable from Python; the others are `inner_kernel`s (callable from kernels)."""

from cnnperf.engine.kernels.conv import col2im, conv_backward_dense, conv_backward_sparse
from cnnperf.engine.kernels.conv_direct import (
    conv_forward_direct,
    conv_grad_direct,
    row_delta_dense,
    row_delta_sparse,
)
from cnnperf.engine.kernels.full import full_backward, full_forward
from cnnperf.engine.kernels.gemm import gemm_bias_nt, im2col
from cnnperf.engine.kernels.pool import maxpool_backward, maxpool_forward
from cnnperf.engine.kernels.update import apply_update

__all__ = ["apply_update", "col2im", "conv_backward_dense", "conv_backward_sparse", "conv_forward_direct",
           "conv_grad_direct", "full_backward", "full_forward", "gemm_bias_nt", "im2col", "maxpool_backward",
           "maxpool_forward", "row_delta_dense", "row_delta_sparse"]
