"""In-situ per-layer timing with the real kernels: `profile_layers` trains exactly like
`train_images` and reports each layer's forward and backward (+ update) seconds."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass

import numpy as np

from cnnperf.engine.api import _check, _labels, _rows, options
from cnnperf.engine.kernels import profile as _prof
from cnnperf.engine.layout import Layout
from cnnperf.engine.store import Workspace

COUNTER_READS = 4096  # back-to-back reads that measure the counter's own cost


@dataclass(frozen=True)
class LayerTimes:
    """Seconds summed over `images` images, per layer index (index 0, the input, is 0).

    forward_s[i]: layer i's forward (with activation); backward_s[i]: its backward with the
    update (a max pooling fused into the convolution before it shows about 0). total_s: the
    whole loop; remainder_s = total_s - all layers: copying the image in, softmax and
    cross-entropy, loop overhead. The counter's own cost (counter_ticks per read) is
    subtracted from every interval and from the total.
    """

    forward_s: tuple[float, ...]
    backward_s: tuple[float, ...]
    total_s: float
    images: int
    errors: int
    loss: float
    seconds_per_tick: float
    counter_ticks: float

    @property
    def layers_s(self) -> float:
        return float(sum(self.forward_s) + sum(self.backward_s))

    @property
    def remainder_s(self) -> float:
        return self.total_s - self.layers_s

    @property
    def per_image_remainder_s(self) -> float:
        return self.remainder_s / max(self.images, 1)


def profile_layers(layout: Layout, weights: np.ndarray, ws: Workspace, images, labels, lo: int, hi: int,
                   lr: float) -> LayerTimes:
    """Per-image SGD over images[lo:hi] as `train_images` (bit-identical updates), timed per layer."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise RuntimeError(f"profile_layers reads the x86-64 time-stamp counter; this machine is {platform.machine()}")
    _check(layout, weights, ws)
    rows = _rows(layout, images, weights.dtype)
    lab = _labels(layout, labels, rows, lo, hi)
    n_layers = layout.desc.shape[0]
    ticks = np.zeros((n_layers, 2), dtype=np.int64)
    cost = float(_prof.counter_cost(COUNTER_READS))
    t0, c0 = time.perf_counter(), _prof.read_cycles()
    e, loss, span = _prof.train_images_profiled(
        layout.desc, weights, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, ws.bucket, rows, lab, lo, hi,
        weights.dtype.type(lr), layout.activation, ws.rotate, ws.prefetch, ticks, *options(layout, weights, ws.gout))
    c1, t1 = _prof.read_cycles(), time.perf_counter()
    per_tick = (t1 - t0) / max(int(c1 - c0), 1)
    n = hi - lo
    layer_s = (ticks - n * cost) * per_tick  # one counter read per interval
    layer_s[0] = 0.0
    reads = 2 * n * 2 * (n_layers - 1)  # two reads per interval, one forward and one backward interval per layer
    return LayerTimes(tuple(float(v) for v in layer_s[:, 0]), tuple(float(v) for v in layer_s[:, 1]),
                      float((int(span) - reads * cost) * per_tick), n, int(e), float(loss), per_tick, cost)
