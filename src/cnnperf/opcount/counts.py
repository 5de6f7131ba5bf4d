"""Operation counts per image (paper Tables VII and VIII) and preparation work (Prep).

Counting convention (one operation = one scalar arithmetic step of the algorithm, as the
paper's fully connected columns count it):
- convolution / fully connected / output, FProp: one per multiply-add (weights x output
  positions), one per bias add, one per activation (softmax: one per output neuron);
- max pooling, FProp: one per comparison (S*S - 1 per pooled output); average pooling: S*S - 1
  additions and one scaling per pooled output;
- BProp: one per multiply-add of the weight gradient, one per multiply-add of the input
  delta (not for the first layer, whose input is the image), one per neuron for the
  activation derivative, one per weight (incl. biases) for the update w -= lr * g;
  max pooling: one per pooled output (routing the delta to the arg-max); average pooling: one
  per input neuron (its share of the window's delta);
- connection tables: a convolution counts only the connected (output, input) map pairs, so its
  multiply-adds per output position are its weights without biases;
- dense: the convolution backward is counted for every output position, as a plain
  implementation does (our engine skips the positions max pooling discards; the
  `executed` variant counts only the arg-max positions);
- Prep: initialising the shared weights (one per weight) plus creating one network
  instance (one per buffer float: activations, deltas, gradients) per worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnperf.networks import NetworkSpec

TYPE_ORDER = ("conv", "maxpool", "avgpool", "full", "output")
TYPE_LABEL = {"conv": "convolution", "maxpool": "max pooling", "avgpool": "average pooling", "full": "fully connected",
              "output": "output"}


@dataclass(frozen=True)
class LayerOps:
    index: int
    kind: str
    fprop: int
    bprop: int


@dataclass(frozen=True)
class OpCounts:
    """FProp / BProp operations per image, per layer and in total, and Prep operations."""

    net: str
    layers: tuple[LayerOps, ...]
    prep_shared: int  # weight initialisation, once
    prep_instance: int  # one network instance (per worker)
    executed: bool = False

    @property
    def fprop(self) -> int:
        return sum(layer.fprop for layer in self.layers)

    @property
    def bprop(self) -> int:
        return sum(layer.bprop for layer in self.layers)

    def prep(self, p: int = 1) -> int:
        """Prep operations with `p` workers (instances are created sequentially)."""
        return self.prep_shared + p * self.prep_instance

    def by_type(self) -> dict[str, tuple[int, int]]:
        """{kind: (FProp, BProp)} summed per layer type (paper Tables VII / VIII columns); average
        pooling appears only in networks that have it (the paper's tables have no such column)."""
        present = {layer.kind for layer in self.layers}
        out = {k: (0, 0) for k in TYPE_ORDER if k != "avgpool" or k in present}
        for layer in self.layers:
            f, b = out[layer.kind]
            out[layer.kind] = (f + layer.fprop, b + layer.bprop)
        return out


def count_ops(spec: NetworkSpec, executed: bool = False) -> OpCounts:
    """Operation counts of `spec` under the module's convention (dense by default)."""
    shapes = spec.shapes
    layers = []
    for i, s in enumerate(shapes[1:], start=1):
        if s.kind == "maxpool":
            layers.append(LayerOps(i, s.kind, s.neurons * (s.kernel * s.kernel - 1), s.neurons))
            continue
        if s.kind == "avgpool":
            layers.append(LayerOps(i, s.kind, s.neurons * s.kernel * s.kernel, s.neurons * s.kernel * s.kernel))
            continue
        positions = s.size * s.size if s.kind == "conv" else 1
        # multiply-adds per output position: connected maps x k x k (full: maps x fan_in)
        per_position = s.weights - s.maps
        macs = positions * per_position
        fprop = macs + s.neurons + s.neurons  # multiply-adds, bias adds, activations (softmax)
        back_positions = positions
        if executed and s.kind == "conv" and i + 1 < len(shapes) and shapes[i + 1].kind == "maxpool":
            back_positions = shapes[i + 1].size ** 2
        grad = back_positions * per_position
        delta_in = grad if i > 1 else 0
        bprop = grad + delta_in + s.neurons + s.weights
        layers.append(LayerOps(i, s.kind, fprop, bprop))
    instance = 2 * sum(s.neurons for s in shapes) + max((s.weights for s in shapes), default=0)
    return OpCounts(spec.name, tuple(layers), spec.n_weights, instance, executed)
