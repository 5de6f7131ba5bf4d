"""Memory layout of one network: weight offsets in the shared store, buffer offsets in a
worker's network instance, the per-layer descriptor table the kernels read, and the
connection blocks of table convolutions.

Pure NumPy (no Numba): shared weights are one flat array with every layer's weight and
bias block starting on a 64-byte boundary, so no two layers share a cache line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnperf.engine.cache import cache_bytes
from cnnperf.engine.kinds import ACTIVATION_IDS, KIND_IDS
from cnnperf.engine.paths import FLOAT_BYTES, conv_path, padded, row_stride, table_pad_floats, table_tail_pixels
from cnnperf.networks import NetworkSpec

ALIGN_FLOATS = 16  # 64 bytes of float32
SLACK = 16  # floats after buffers that fixed-width copies may overrun (values there are scratch)

# descriptor columns
(KIND, MAPS, SIZE, IN_MAPS, IN_SIZE, KERNEL, FAN_IN, W_OFF, B_OFF, A_OFF, A_IN, ARG_OFF, POOLED, DIRECT, COL_OFF,
 N_W, TABLE, CONN_OFF, N_CONN, CH_G, CH_D) = range(21)
N_FIELDS = 21


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
    dcol_size: int  # the largest conv layer's column gradient (or a table layer's scratch)
    grad_size: int  # the largest layer's weight + bias gradient
    bucket_size: int  # int scratch of the conv backward: rows and buckets (GEMM), window offsets (table)
    activation: int
    conn: np.ndarray  # int64 connection blocks of the table convolutions (`table_block`)
    groups: frozenset = frozenset()  # the optional kernel groups it runs (`kernel_groups`)

    def weight_slices(self, index: int) -> tuple[slice, slice]:
        d = self.desc[index]
        return slice(int(d[W_OFF]), int(d[W_OFF]) + int(d[N_W])), slice(int(d[B_OFF]), int(d[B_OFF]) + int(d[MAPS]))


def table_block(table: tuple[tuple[int, ...], ...], in_maps: int, kernel: int, in_size: int) -> np.ndarray:
    """The int64 block the table kernels read: in_start[C+1] (connections per input map,
    cumulative), pairs[2n] (output map, weight offset j*K*K of connection j; by input map, then
    output map), conn_in[n] (input map of connection j), map_start[M+1] (connections per output
    map, cumulative), pieces[n*K*nv] (the input offset c*H*H + ky*H + 8u of every 8-tap piece u of
    kernel row ky of connection j, nv = ceil(K/8) per row, in that order: the pooled backward's rows).
    Connection j is output map m's k-th input map, in table order."""
    kk, nv = kernel * kernel, (kernel + 7) // 8
    conn_in = [c for row in table for c in row]
    map_start = np.cumsum([0] + [len(row) for row in table])
    by_input: list[list[tuple[int, int]]] = [[] for _ in range(in_maps)]
    for m in range(len(table)):
        for j in range(map_start[m], map_start[m + 1]):
            by_input[conn_in[j]].append((m, j * kk))
    in_start = np.cumsum([0] + [len(entries) for entries in by_input])
    pairs = [v for entries in by_input for pair in entries for v in pair]
    pieces = [c * in_size * in_size + ky * in_size + 8 * u for c in conn_in for ky in range(kernel) for u in range(nv)]
    return np.concatenate([in_start, np.array(pairs, dtype=np.int64), np.array(conn_in, dtype=np.int64),
                           map_start, np.array(pieces, dtype=np.int64)]).astype(np.int64)


def conv_buffers(shapes, i: int, path) -> tuple[int, int, int]:
    """(floats kept in `col` from forward to backward, floats of `dcol` scratch, ints of `bucket`
    scratch) of conv layer i."""
    s, prev = shapes[i], shapes[i - 1]
    P, KK = s.size * s.size, s.kernel * s.kernel
    if path.direct:  # the delta in rows of padded(O) floats (the forward writes the outputs directly)
        return _align(s.maps * s.size * padded(s.size)) + SLACK, 0, 0
    if path.table:  # transposed im2col (then, under pooling, the padded kernels of the input delta, whose
        # zeros are the allocation's: `kernels.conv_table_pooled.pad_weights` writes only kernel rows);
        Pp = padded(P)  # scratch: the forward's padded output, then its tail pixels' taps (forward) or a
        Q = shapes[i + 1].size ** 2 if path.pooled else 0  # dense delta's dcolT (backward)
        dcolT = 0 if path.pooled else prev.maps * KK * Pp
        tail = table_tail_pixels(P) * prev.maps * padded(KK)
        pad = table_pad_floats(s.maps, s.kernel, shapes[i + 1].kernel) if path.pooled and i > 1 else 0
        return (_align(prev.maps * KK * Pp) + SLACK + _align(pad), s.maps * Pp + max(dcolT, tail) + SLACK,
                2 * s.maps * Q)
    Fs = row_stride(s.fan_in)  # im2col rows of Fs floats, kept from forward for backward; dcol rows, then the deltas
    if path.pooled:
        Q = shapes[i + 1].size ** 2
        return _align(P * Fs) + 2 * SLACK, P * Fs + s.maps * Q + 2 * SLACK, 2 * s.maps * Q + P + 1
    return _align(P * Fs) + 2 * SLACK, P * Fs + P * s.maps + 2 * SLACK, 2 * P * s.maps


def chunk_blocks(rows: int, l1_bytes: int) -> int:
    """16-float column blocks per chunk of the conv backward (1, 2, 4 or 8; the kernels take at
    most what their registers hold): the chunk of `rows` rows a pass reads fits in half the L1."""
    fit = l1_bytes // 2 // max(rows * 16 * FLOAT_BYTES, 1)
    return 8 if fit >= 8 else 4 if fit >= 4 else 2 if fit >= 2 else 1


def kernel_groups(desc: np.ndarray) -> frozenset:
    """The optional kernel groups a network runs (the rest are pruned from its compile): "table"
    (connection-table convolutions), "dense" (an im2col convolution without max pooling after it and
    more than one output pixel), "direct_dense" (such a first convolution, `paths.ConvPath.direct`),
    "extra" (average pooling, max pooling whose backward scatters into a non-convolution)."""
    out = set()
    for i in range(1, len(desc)):
        kind = int(desc[i, KIND])
        if kind == KIND_IDS["conv"]:
            d = desc[i]
            whole = d[SIZE] == 1 and not (d[DIRECT] or d[POOLED] or d[TABLE])  # backward as a full layer
            out.add("table" if d[TABLE] else "" if d[POOLED] or whole else "direct_dense" if d[DIRECT] else "dense")
        elif kind == KIND_IDS["avgpool"] or (
                kind == KIND_IDS["maxpool"] and i > 1 and desc[i - 1, KIND] != KIND_IDS["conv"]):
            out.add("extra")
    return frozenset(out - {""})


def build_layout(spec: NetworkSpec) -> Layout:
    """Descriptor table and buffer sizes for `spec` (shapes from paper Fig. 2 style specs)."""
    shapes = spec.shapes
    desc = np.zeros((len(shapes), N_FIELDS), dtype=np.int64)
    w_off = a_off = arg_off = 0
    col = dcol = grad = bucket = 0
    l1 = cache_bytes(1)
    blocks: list[np.ndarray] = []
    n_conn = 0
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
            n_w = s.weights - s.maps
            d[N_W], d[W_OFF] = n_w, w_off
            d[B_OFF] = w_off + _align(n_w)
            w_off = d[B_OFF] + _align(s.maps)
            grad = max(grad, _align(n_w) + _align(s.maps))
        if s.kind == "conv":
            path = conv_path(shapes, i)
            d[DIRECT], d[POOLED], d[TABLE] = path.direct, path.pooled, path.table
            d[COL_OFF] = col
            kept, scratch, ints = conv_buffers(shapes, i, path)
            col, dcol, bucket = col + kept, max(dcol, scratch), max(bucket, ints)
            d[CH_G], d[CH_D] = chunk_blocks(s.size * s.size, l1), chunk_blocks(s.maps, l1)
            if path.table:
                d[CONN_OFF], d[N_CONN] = n_conn, s.connected
                blocks.append(table_block(s.table, prev.maps, s.kernel, prev.size))
                n_conn += len(blocks[-1])
        if s.kind == "maxpool":
            d[ARG_OFF] = arg_off
            arg_off += _align(s.neurons)
    conn = np.concatenate(blocks) if blocks else np.zeros(1, dtype=np.int64)
    return Layout(spec, desc, int(w_off), int(a_off) + SLACK, int(max(arg_off, 1)), int(max(col, 1)), int(max(dcol, 1)),
                  int(max(grad, 1)), int(max(bucket, 1)), ACTIVATION_IDS[spec.activation], conn, kernel_groups(desc))
