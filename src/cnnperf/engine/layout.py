"""Memory layout of one network: weight offsets in the shared store, buffer offsets in a
worker's network instance, and the per-layer descriptor table the kernels read.

Pure NumPy (no Numba): shared weights are one flat array with every layer's weight and
bias block starting on a 64-byte boundary, so no two layers share a cache line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnperf.engine.kinds import ACTIVATION_IDS, KIND_IDS
from cnnperf.engine.paths import conv_path
from cnnperf.networks import NetworkSpec

ALIGN_FLOATS = 16  # 64 bytes of float32
SLACK = 16  # floats after buffers that fixed-width copies may overrun (values there are scratch)

# descriptor columns
KIND, MAPS, SIZE, IN_MAPS, IN_SIZE, KERNEL, FAN_IN, W_OFF, B_OFF, A_OFF, A_IN, ARG_OFF, POOLED, DIRECT, COL_OFF = range(15)
N_FIELDS = 15


def _align(n: int) -> int:
    return (n + ALIGN_FLOATS - 1) // ALIGN_FLOATS * ALIGN_FLOATS


@dataclass(frozen=True, eq=False)
class Layout:
    """Offsets and buffer sizes of one network (float counts)."""

    spec: NetworkSpec
    desc: np.ndarray  # (n_layers, N_FIELDS) int64
    n_weights_padded: int
    act_size: int
    arg_size: int
    col_size: int  # im2col buffers of all conv layers (kept from forward for backward)
    dcol_size: int  # the largest conv layer's column gradient
    grad_size: int  # the largest layer's weight + bias gradient
    bucket_size: int  # int scratch of the sparse conv backward: M*S*S + S*S + P
    activation: int

    def weight_slices(self, index: int) -> tuple[slice, slice]:
        d = self.desc[index]
        n_w = int(d[MAPS]) * int(d[FAN_IN])
        return slice(int(d[W_OFF]), int(d[W_OFF]) + n_w), slice(int(d[B_OFF]), int(d[B_OFF]) + int(d[MAPS]))


def build_layout(spec: NetworkSpec) -> Layout:
    """Descriptor table and buffer sizes for `spec` (shapes from paper Fig. 2 style specs)."""
    shapes = spec.shapes
    desc = np.zeros((len(shapes), N_FIELDS), dtype=np.int64)
    w_off = a_off = arg_off = 0
    col = dcol = grad = bucket = 0
    for i, s in enumerate(shapes):
        d = desc[i]
        d[KIND], d[MAPS], d[SIZE], d[KERNEL], d[FAN_IN] = KIND_IDS[s.kind], s.maps, s.size, s.kernel, s.fan_in
        d[A_OFF] = a_off
        a_off += _align(s.neurons)
        if i == 0:
            continue
        prev = shapes[i - 1]
        d[IN_MAPS], d[IN_SIZE], d[A_IN] = prev.maps, prev.size, desc[i - 1][A_OFF]
        if s.weights:
            n_w = s.maps * s.fan_in
            d[W_OFF] = w_off
            d[B_OFF] = w_off + _align(n_w)
            w_off = d[B_OFF] + _align(s.maps)
            grad = max(grad, _align(n_w) + _align(s.maps))
        if s.kind == "conv":
            path = conv_path(shapes, i)
            d[DIRECT], d[POOLED] = path.direct, path.pooled
            d[COL_OFF] = col
            if d[DIRECT]:  # the "wide" output rows of the direct convolution
                col += _align(s.maps * ((s.size - 1) * prev.size + s.size)) + SLACK
            else:  # im2col rows, kept from forward for backward
                col += _align(s.size * s.size * s.fan_in) + SLACK
                dcol = max(dcol, s.size * s.size * s.fan_in)
            if path.pooled:
                S = shapes[i + 1].kernel
                bucket = max(bucket, (s.maps + 1) * S * S + s.size * s.size)
        if s.kind == "maxpool":
            d[ARG_OFF] = arg_off
            arg_off += _align(s.neurons)
    return Layout(spec, desc, int(w_off), int(a_off) + SLACK, int(max(arg_off, 1)), int(max(col, 1)), int(max(dcol, 1)), int(max(grad, 1)), int(max(bucket, 1)),
                  ACTIVATION_IDS[spec.activation])
