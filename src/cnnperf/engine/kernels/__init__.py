"""Numba kernels by layer kind: activations, conv_direct (first layer), conv (im2col + GEMM),
pool, full, update, and network (the per-layer dispatch and the whole-network loops)."""
