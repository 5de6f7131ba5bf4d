"""The shared weight store and a worker's network instance (buffers); pure NumPy, no Numba."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnperf.engine.layout import FAN_IN, TABLE, Layout

GUARD_BYTES = 1088  # 17 cache lines: not a multiple of the 4 KiB page (no 4K aliasing between buffers)


def aligned_zeros(n: int, dtype=np.float32) -> np.ndarray:
    """Zeroed 1-D array of n items starting on a 64-byte boundary, followed by a guard of `GUARD_BYTES`.

    The guard keeps buffers of different workers off each other's cache lines, and it keeps any
    two buffers more than 1 KiB apart: LLVM's vectorised loops fall back to their scalar version
    (other rounding under fastmath) when a written array starts less than a few vectors after a
    read one, which made results depend on where malloc placed the buffers."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n + (64 + GUARD_BYTES) // itemsize, dtype=dtype)
    start = (-raw.ctypes.data % 64) // itemsize
    return raw[start:start + n]


@dataclass(frozen=True, eq=False)
class Workspace:
    """One worker's network instance: activations, deltas, pooling arg-max, im2col and gradient buffers."""

    act: np.ndarray
    delta: np.ndarray
    arg: np.ndarray
    col: np.ndarray
    dcol: np.ndarray
    grad: np.ndarray
    gout: np.ndarray  # empty: update the weights; else receives the gradient (check path)
    bucket: np.ndarray  # int scratch: maps bucketed by arg-max pixel (sparse conv backward)
    rotate: float = 0.0  # where this worker's weight-update sweeps start (k/P for worker k of P)
    prefetch: int = 0  # write schedule: prefetch weights for writing this many cache lines ahead (0: off)


# write orders of worker k of P (Workspace fields), measured side by side by benchmarks/write_traffic.py
# (README, "Write traffic on the shared weights"); new_workspace gives the default to P > 1 workers
def _order(rotate: bool, prefetch: int):
    """Write order of worker k of P: sweeps start k/P into each layer (else at its first weight), and
    weights are prefetched for writing `prefetch` lines ahead (0: no prefetch)."""
    return lambda k, p: {"rotate": k / max(p, 1) if rotate else 0.0, "prefetch": prefetch}


WRITE_ORDERS = {
    "rotate": _order(True, 0),
    "same-start": _order(False, 0),
    "rotate+prefetchw": _order(True, 8),  # lines arrive owned before they are read and written
    "same-start+prefetchw": _order(False, 8),
    "rotate+prefetchw2": _order(True, 2),  # a shorter prefetch distance
    "rotate+prefetchw24": _order(True, 24),  # a longer one
}
DEFAULT_ORDER = "rotate+prefetchw"  # one worker (P = 1) shares nothing: plain sweeps from the start


def new_workspace(layout: Layout, dtype=np.float32, worker: tuple[int, int] = (0, 1)) -> Workspace:
    """Network instance of worker k of P (`worker=(k, P)`: sets its write schedule, DEFAULT_ORDER if P > 1)."""
    def z(n: int) -> np.ndarray:
        return aligned_zeros(n, dtype)
    return Workspace(z(layout.act_size), z(layout.act_size), aligned_zeros(layout.arg_size, np.int64),
                     z(layout.col_size), z(layout.dcol_size), z(layout.grad_size), np.empty(0, dtype=dtype),
                     aligned_zeros(layout.bucket_size, np.int64),
                     **(WRITE_ORDERS[DEFAULT_ORDER](*worker) if worker[1] > 1 else {}))


def weighted_layers(layout: Layout) -> list[int]:
    """Indices of the layers with weights (convolution, fully connected, output)."""
    return [s.index for s in layout.spec.shapes if s.weights]


def init_weights(layout: Layout, seed: int, dtype=np.float32) -> np.ndarray:
    """Seeded uniform initialisation in +-1/sqrt(fan_in) (weights and biases; PyTorch's default
    range); with a connection table each output map uses its own fan-in."""
    rng = np.random.default_rng(seed)
    w = aligned_zeros(layout.n_weights_padded, dtype)
    for i in weighted_layers(layout):
        ws, bs = layout.weight_slices(i)
        if layout.desc[i, TABLE]:
            s = layout.spec.shapes[i]
            kk = s.kernel * s.kernel
            bounds = np.sqrt(3.0 / np.array([len(row) * kk for row in s.table], dtype=np.float64))
            w[ws] = rng.uniform(-1.0, 1.0, ws.stop - ws.start) * np.repeat(bounds, [len(row) * kk for row in s.table])
            w[bs] = rng.uniform(-1.0, 1.0, bs.stop - bs.start) * bounds
            continue
        bound = np.sqrt(3.0 / float(layout.desc[i, FAN_IN]))
        w[ws] = rng.uniform(-bound, bound, ws.stop - ws.start)
        w[bs] = rng.uniform(-bound, bound, bs.stop - bs.start)
    return w


def layer_params(layout: Layout, weights: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Views (W, b) of layer `index` in PyTorch's shapes: conv (M, C, K, K), full (N, F); a
    convolution with a connection table (n, K, K), one kernel per connection in table order."""
    s = layout.spec.shapes[index]
    ws, bs = layout.weight_slices(index)
    prev = layout.spec.shapes[index - 1]
    if s.kind == "conv":
        table = layout.desc[index, TABLE]
        shape = (s.connected, s.kernel, s.kernel) if table else (s.maps, prev.maps, s.kernel, s.kernel)
    else:
        shape = (s.maps, s.fan_in)
    return weights[ws].reshape(shape), weights[bs]


def dense_conv_weights(layout: Layout, weights: np.ndarray, index: int) -> np.ndarray:
    """A copy of convolution `index`'s weights as (M, C, K, K), zeros where the table leaves a
    map pair unconnected (the masked dense convolution the layer computes)."""
    s = layout.spec.shapes[index]
    W, _ = layer_params(layout, weights, index)
    if not layout.desc[index, TABLE]:
        return W.copy()
    out = np.zeros((s.maps, layout.spec.shapes[index - 1].maps, s.kernel, s.kernel), dtype=W.dtype)
    j = 0
    for m, row in enumerate(s.table):
        for c in row:
            out[m, c] = W[j]
            j += 1
    return out
