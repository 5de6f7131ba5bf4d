"""Which kernel path the engine takes for every layer, forward and backward, and the shape
numbers a per-layer cost model needs. Pure Python (no Numba, no NumPy arrays).

`conv_path` is the one place that decides a convolution's kernels; `build_layout` writes its
answer into the descriptor table (DIRECT, POOLED, TABLE), `layer_paths` describes it. Sizes are
counts per image; bytes are float32 (the training dtype).

Path names. Forward: "conv_direct" (first layer on a one-map image: register-tiled direct
convolution), "conv_gemm" (im2col + 4x4 register-blocked GEMM), "conv_table" (connection table:
transposed im2col + tiled GEMM over the connected map pairs), "maxpool2" (2x2, a vector of windows
at a time), "maxpool", "avgpool2" (2x2, a vector of windows at a time), "avgpool", "full",
"output". Backward: "conv_direct_pooled" / "conv_direct_dense" (delta rows + register-tiled dot
products for the gradient), "conv_gemm_pooled" (under max pooling: gradient and input delta from
the arg-max pixels only) / "conv_gemm_dense", "conv_table_pooled" (arg-max pixels, 8-lane
kernel-row pieces; the input delta by regions of the pooling windows when they fit 8 lanes) /
"conv_table_dense", "full" / "output" (input delta with the update fused row by row; also a
convolution whose kernel covers its input, `ConvPath.whole`), "maxpool" (dense scatter of the
delta, when its input is not a convolution), "avgpool2" / "avgpool" (the delta spread over each
window, 2x2 a vector at a time), "fused" (max pooling after a convolution: done inside the
convolution's backward), "none" (nothing runs: pooling on the image).
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnperf.networks import NetworkSpec
from cnnperf.networks.spec import LayerShape

FLOAT_BYTES = 4


@dataclass(frozen=True)
class ConvPath:
    """The kernel choice of one convolution layer (the descriptor flags DIRECT, POOLED, TABLE)."""

    direct: bool  # one input map at layer 1: direct convolution, no im2col
    pooled: bool  # followed by max pooling: the backward visits only the arg-max pixels
    table: bool  # a connection table that leaves some (output, input) map pairs unconnected
    whole: bool = False  # im2col, the kernel covering the input (1x1 output): backward as a full layer


def conv_path(shapes: tuple[LayerShape, ...], i: int) -> ConvPath:
    """Kernel choice of convolution layer i (the single source of truth for layout and paths)."""
    s, prev = shapes[i], shapes[i - 1]
    nxt = shapes[i + 1] if i + 1 < len(shapes) else None
    direct = i == 1 and prev.maps == 1  # one input map: every table is complete
    table = not direct and bool(s.table) and s.connected < s.maps * prev.maps
    pooled = nxt is not None and nxt.kind == "maxpool"
    return ConvPath(direct, pooled, table, s.size == 1 and not (direct or pooled or table))


def padded(n: int) -> int:
    """n rounded up to the kernels' padding (16 floats, whatever the CPU's vector width)."""
    return (n + 15) // 16 * 16


def table_tail_pixels(P: int) -> int:
    """Output pixels past the last multiple of 16 that the table forward takes as 16-lane dot
    products over K*K taps rounded up to 16 (0: none): one lone pixel, P = 16k + 1 (as
    `kernels.conv_table.tail_pixels`)."""
    return 1 if P % 16 == 1 and P > 1 else 0


def table_forward_lanes(n: int, KK: int, P: int) -> int:
    """Multiply-add lanes of the table forward over n connections: 16-pixel vectors, then the tail dots."""
    r = table_tail_pixels(P)
    return n * KK * (P - r) + n * r * padded(KK) if r else n * KK * padded(P)


def table_region_rows(K: int, S: int) -> int:
    """Rows (and columns) of the input region the arg-max windows of one S x S pooling window cover,
    S + K - 1, when the pooled table backward takes the input delta by regions (at most 8, one 8-lane
    vector a row; `kernels.conv_table_pooled.region_dx`), else 0 (kernel row by kernel row)."""
    R = S + K - 1
    return R if S > 0 and R <= 8 else 0


def table_pad_floats(M: int, K: int, S: int) -> int:
    """Floats of the zero-padded kernels the region input delta reads (0 without regions): the
    connections of one input map (at most M) at a time, each 2S + K - 1 rows of 8 floats rounded
    up to a multiple of K*K (`kernels.conv_table_pooled.pad_block`), and the 8 - R rows of 8 floats
    that the last one's unused rows read past it."""
    R = table_region_rows(K, S)
    if not R:
        return 0
    KK = K * K
    return M * KK * (((2 * S + K - 1) * 8 + KK - 1) // KK) + (8 - R) * 8 + 8


def row_stride(n: int) -> int:
    """The stride of im2col rows of n floats: padded(n), plus 16 when that is an even number of
    64-byte lines (rows then spread over all cache sets; `kernels.gemm.row_stride`)."""
    p = padded(n)
    return p + 16 if (p // 16) % 2 == 0 else p


@dataclass(frozen=True)
class LayerPath:
    """One layer's kernels and shape numbers (per image).

    C, H: input maps and input map size (fully connected: the previous layer's maps and size);
    K: convolution kernel or pooling size; M, O: output maps (neurons) and output map size;
    S, Q: the max pooling applied to a convolution's output (S x S windows, Q x Q pooled maps;
    0 without) or, for a pooling layer, its own window and output size; F: fan-in (inputs per
    neuron; the largest with a table); connections: connected (output, input) map pairs (M*C
    when full). macs_forward / macs_gradient / macs_input_delta: multiply-adds the kernels
    execute, vector lanes included (the direct convolution runs over output rows of
    padded(O) lanes, forward and gradient; the table kernels over Pp = O*O rounded up to 16 pixels,
    except a lone last pixel (P = 16k + 1) forward as dot products of padded(K*K) lanes,
    `table_forward_lanes`; and
    under pooling over K kernel rows of 8-lane pieces, ceil(K/8) per row, gradient and input delta);
    useful_macs_forward / _backward: the multiply-adds the layer needs (connected maps, O*O pixels;
    under max pooling Q*Q arg-max pixels per map; no input delta for layer 1). weights_written: floats of shared weights
    written (the update). col_bytes: the im2col matrix written forward (transposed for a table);
    dcol_bytes: the column gradient written backward and read by col2im (under pooling at most
    the rows that receive a delta); wide_bytes: the direct convolution's delta rows.
    """

    index: int
    kind: str
    forward: str
    backward: str
    input_delta: bool
    col2im: bool
    C: int
    H: int
    K: int
    M: int
    O: int
    S: int
    Q: int
    F: int
    connections: int
    weights: int
    neurons: int
    macs_forward: int
    macs_gradient: int
    macs_input_delta: int
    useful_macs_forward: int
    useful_macs_backward: int
    weights_written: int
    col_bytes: int
    dcol_bytes: int
    wide_bytes: int

    @property
    def macs_backward(self) -> int:
        """Weight gradient plus input delta."""
        return self.macs_gradient + self.macs_input_delta


def _conv(shapes: tuple[LayerShape, ...], i: int) -> LayerPath:
    s, prev = shapes[i], shapes[i - 1]
    path = conv_path(shapes, i)
    C, H, K, M, O, F = prev.maps, prev.size, s.kernel, s.maps, s.size, s.fan_in
    S = shapes[i + 1].kernel if path.pooled else 0
    Q = shapes[i + 1].size if path.pooled else 0
    P, KK, n = O * O, K * K, s.connected
    rows = Q * Q if path.pooled else P  # pixels whose delta is non-zero
    need_dx = i > 1
    useful_fwd = n * KK * P
    useful_bwd = n * KK * rows * (2 if need_dx else 1)
    suffix = "pooled" if path.pooled else "dense"
    shape = (C, H, K, M, O, S, Q, F, n, s.weights, s.neurons)
    if path.direct:  # output rows of padded(O) lanes, forward and gradient
        lanes = M * KK * O * padded(O)
        return LayerPath(i, "conv", "conv_direct", f"conv_direct_{suffix}", False, False, *shape,
                         lanes, lanes, 0, useful_fwd, useful_bwd, s.weights, 0, 0, FLOAT_BYTES * M * O * padded(O))
    if path.table:
        Pp = padded(P)
        if path.pooled:  # gradient: kernel rows in 8-lane pieces, ceil(K/8) per row; input delta: 8 region
            rows = K * ((K + 7) // 8) * 8  # rows of 8 lanes (`table_region_rows`), else as the gradient
            dx_rows = 64 if table_region_rows(K, S) else rows
            return LayerPath(i, "conv", "conv_table", "conv_table_pooled", need_dx, False, *shape,
                             table_forward_lanes(n, KK, P),
                             n * Q * Q * rows, n * Q * Q * dx_rows if need_dx else 0, useful_fwd, useful_bwd,
                             s.weights, FLOAT_BYTES * C * KK * Pp, 0, 0)
        lanes = n * KK * Pp
        return LayerPath(i, "conv", "conv_table", "conv_table_dense", need_dx, need_dx, *shape,
                         table_forward_lanes(n, KK, P), lanes,
                         lanes if need_dx else 0, useful_fwd, useful_bwd, s.weights, FLOAT_BYTES * C * KK * Pp,
                         FLOAT_BYTES * C * KK * Pp if need_dx else 0, 0)
    if path.whole:  # one output pixel: the gradient is an outer product, fused with the update row by row
        return LayerPath(i, "conv", "conv_gemm", "full", need_dx, False, *shape, M * F, M * F, M * F if need_dx else 0,
                         useful_fwd, useful_bwd, s.weights, FLOAT_BYTES * F, 0, 0)
    dcol_rows = min(P, M * rows) if need_dx else 0
    return LayerPath(i, "conv", "conv_gemm", f"conv_gemm_{suffix}", need_dx, need_dx, *shape, M * P * F, M * rows * F,
                     M * rows * F if need_dx else 0, useful_fwd, useful_bwd, s.weights, FLOAT_BYTES * P * F,
                     FLOAT_BYTES * dcol_rows * F, 0)


def _pool(shapes: tuple[LayerShape, ...], i: int) -> LayerPath:
    s, prev = shapes[i], shapes[i - 1]
    if s.kind == "avgpool":
        forward = "avgpool2" if s.kernel == 2 else "avgpool"  # the vector kernel and the scalar loop
        backward = forward if i > 1 else "none"
    else:
        forward = "maxpool2" if s.kernel == 2 else "maxpool"
        backward = "none" if i == 1 else "fused" if prev.kind == "conv" else "maxpool"
    return LayerPath(i, s.kind, forward, backward, backward != "none", False, prev.maps, prev.size, s.kernel, s.maps,
                     s.size, s.kernel, s.size, s.fan_in, 0, 0, s.neurons, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def _full(shapes: tuple[LayerShape, ...], i: int) -> LayerPath:
    s, prev = shapes[i], shapes[i - 1]
    macs = s.maps * s.fan_in
    need_dx = i > 1
    dx = macs if need_dx else 0
    return LayerPath(i, s.kind, s.kind, s.kind, need_dx, False, prev.maps, prev.size, 0, s.maps, 1, 0, 0, s.fan_in, 0,
                     s.weights, s.neurons, macs, macs, dx, macs, macs + dx, s.weights, 0, 0, 0)


def layer_paths(spec: NetworkSpec) -> tuple[LayerPath, ...]:
    """One LayerPath per layer after the input (index 1 ... L-1), in network order."""
    shapes = spec.shapes
    make = {"conv": _conv, "maxpool": _pool, "avgpool": _pool, "full": _full, "output": _full}
    return tuple(make[s.kind](shapes, s.index) for s in shapes[1:])
