"""A stand-in for cnnperf.engine that counts which images each kernel call processes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    spec: object
    offsets: dict


class FakeEngine:
    """Weights: one float per weighted layer; training adds lr * sum(labels) to each (order-free)."""

    def __init__(self, nan_at_call: int | None = None):
        self.calls: list[tuple[str, int, int, int, str]] = []  # (kind, n_images, lo, hi, thread)
        self.counts: dict[tuple[str, int], np.ndarray] = {}
        self.lock = threading.Lock()
        self.nan_at_call = nan_at_call
        self.train_calls = 0

    def build_layout(self, spec):
        weighted = [s.index for s in spec.shapes if s.weights]
        return Layout(spec, {i: k for k, i in enumerate(weighted)})

    def compile_kernels(self, layout):
        self.compiled = getattr(self, "compiled", 0) + 1
        return False

    def init_weights(self, layout, seed, dtype=np.float32):
        return np.full(len(layout.offsets), float(seed), dtype=dtype)

    def new_workspace(self, layout, dtype=np.float32, worker=(0, 1)):
        return {"id": object()}

    def _count(self, kind, images, lo, hi):
        with self.lock:
            key = (kind, len(images))
            self.counts.setdefault(key, np.zeros(len(images), dtype=np.int64))[lo:hi] += 1
            self.calls.append((kind, len(images), lo, hi, threading.current_thread().name))

    def train_images(self, layout, weights, ws, images, labels, lo, hi, lr):
        self._count("train", images, lo, hi)
        with self.lock:
            self.train_calls += 1
            if self.nan_at_call is not None and self.train_calls >= self.nan_at_call:
                weights[-1] = np.nan
        weights += np.float32(lr * labels[lo:hi].sum())
        return int((labels[lo:hi] % 2).sum()), float(hi - lo)

    def evaluate_images(self, layout, weights, ws, images, labels, lo, hi):
        self._count("eval", images, lo, hi)
        return int((labels[lo:hi] % 3 == 0).sum()), float(weights.sum()) * 0 + (hi - lo)

    def layer_params(self, layout, weights, index):
        k = layout.offsets[index]
        return weights[k:k + 1], weights[k:k + 1]
