"""Network specifications (paper Fig. 2) and shape inference.

A network is a list of layers: input, convolution (valid, stride 1, one bias per map; every
output map connected to every input map, or to a random or tabled subset of them, as in
LeNet-5's C3 and Cireşan's configurations), max or average pooling (non-overlapping), fully
connected, output (softmax). Layers are frozen dataclasses; `infer_shapes` checks a spec and
returns one `LayerShape` per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnperf.errors import CnnperfError
from cnnperf.networks.tables import check_table, random_table

ACTIVATIONS = ("scaled_tanh", "tanh", "sigmoid", "relu")
CONNECTIONS = ("full", "random", "table")


@dataclass(frozen=True)
class Input:
    maps: int = 1
    size: int = 29
    kind: str = field(default="input", init=False)


@dataclass(frozen=True)
class Conv:
    """`connections`: "full" (default), "random" (`fan_in` input maps per output map, drawn with
    the network's seed) or "table" (`table[m]`: the input maps of output map m)."""

    maps: int
    kernel: int
    connections: str = "full"
    fan_in: int = 0
    table: tuple[tuple[int, ...], ...] = ()
    kind: str = field(default="conv", init=False)

    def __post_init__(self):
        if not isinstance(self.table, tuple) or not all(isinstance(r, tuple) for r in self.table):
            try:
                object.__setattr__(self, "table", tuple(tuple(r) for r in self.table))
            except TypeError:
                raise CnnperfError("a connection table is a list of lists of input-map indices, one list per "
                                   "output map") from None


@dataclass(frozen=True)
class MaxPool:
    size: int
    kind: str = field(default="maxpool", init=False)


@dataclass(frozen=True)
class AvgPool:
    size: int
    kind: str = field(default="avgpool", init=False)


@dataclass(frozen=True)
class Full:
    neurons: int
    kind: str = field(default="full", init=False)


@dataclass(frozen=True)
class Output:
    neurons: int
    kind: str = field(default="output", init=False)


Layer = Input | Conv | MaxPool | AvgPool | Full | Output
POOLING = (MaxPool, AvgPool)


@dataclass(frozen=True)
class LayerShape:
    """One layer after shape inference: `maps` x `size` x `size` neurons (1x1 for N layers).

    A convolution with connections "random" or "table" has `table[m]`, the sorted input maps of
    output map m; its weights are sum over m of len(table[m]) x kernel x kernel, plus one bias
    per map, and `fan_in` is the largest number of inputs of one neuron.
    """

    index: int
    kind: str
    maps: int
    size: int
    neurons: int
    weights: int  # trainable parameters incl. biases
    kernel: int = 0  # conv kernel or pooling size; 0 otherwise
    fan_in: int = 0  # inputs per neuron (without bias); the largest over the maps with a table
    connections: str = "full"
    table: tuple[tuple[int, ...], ...] = ()

    @property
    def connected(self) -> int:
        """Connected (output map, input map) pairs of a convolution (all pairs when full)."""
        if self.kind != "conv":
            return 0
        if self.table:
            return sum(len(r) for r in self.table)
        return self.maps * (self.fan_in // (self.kernel * self.kernel))


@dataclass(frozen=True)
class NetworkSpec:
    """A validated network: name, layers, activation (paper Fig. 2) and the seed of its random
    connection tables."""

    name: str
    layers: tuple[Layer, ...]
    activation: str = "scaled_tanh"
    seed: int = 0

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise CnnperfError(
                f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise CnnperfError(f"seed must be a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "_shapes", infer_shapes(self.layers, self.seed))

    @property
    def shapes(self) -> tuple[LayerShape, ...]:
        return self._shapes  # type: ignore[attr-defined]

    @property
    def n_weights(self) -> int:
        return sum(s.weights for s in self.shapes)

    @property
    def n_neurons(self) -> int:
        return sum(s.neurons for s in self.shapes)

    @property
    def n_classes(self) -> int:
        return self.shapes[-1].neurons

    @property
    def input_size(self) -> int:
        return self.shapes[0].size

    def notation(self) -> str:
        """Compact notation as in the literature, e.g. 1x29x29-20C4-MP2-150N-10N; random fan-in
        `40C5r10`; a connection table `16C4t60` (60 connections; tables themselves need TOML)."""
        parts = []
        for layer, shape in zip(self.layers, self.shapes):
            if isinstance(layer, Input):
                parts.append(f"{layer.maps}x{layer.size}x{layer.size}")
            elif isinstance(layer, Conv):
                suffix = {"full": "", "random": f"r{layer.fan_in}", "table": f"t{shape.connected}"}[layer.connections]
                parts.append(f"{layer.maps}C{layer.kernel}{suffix}")
            elif isinstance(layer, MaxPool):
                parts.append(f"MP{layer.size}")
            elif isinstance(layer, AvgPool):
                parts.append(f"AP{layer.size}")
            else:
                parts.append(f"{layer.neurons}N")
        return "-".join(parts)


MAX_NUMBER = 10**30  # maps, sizes, kernels, neurons: beyond, operation counts overflow the models' float64


def _positive(value, what: str, index: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CnnperfError(f"layer {index}: {what} must be a positive integer, got {value!r}")
    if value > MAX_NUMBER:
        raise CnnperfError(f"layer {index}: {what} {value:.3g} is too large; give at most 1e30")
    return value


def _conv_table(layer: Conv, i: int, in_maps: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """The resolved (sorted) input maps per output map of a random or table convolution; () if full."""
    kind = layer.connections
    if kind not in CONNECTIONS:
        raise CnnperfError(f"layer {i}: unknown connection type {kind!r}; use full, random or table")
    if layer.table and kind != "table":
        raise CnnperfError(f'layer {i}: a table needs connections = "table" (got {kind!r}); set it or remove the table')
    if layer.fan_in and kind != "random":
        raise CnnperfError(f'layer {i}: fan_in is only for connections = "random" (got {kind!r}); '
                           "set it or remove fan_in")
    if kind == "full":
        return ()
    if kind == "random":
        f = layer.fan_in
        if isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= in_maps:
            raise CnnperfError(f"layer {i}: fan_in {f!r} must lie in 1..{in_maps} (input maps per output map)")
        return random_table(seed, i, in_maps, layer.maps, f)
    return check_table(layer.table, i, in_maps, layer.maps)


def _conv_shape(layer: Conv, i: int, maps: int, size: int, seed: int) -> LayerShape:
    m, k = _positive(layer.maps, "maps", i), _positive(layer.kernel, "kernel", i)
    if k > size:
        raise CnnperfError(f"layer {i}: kernel {k}x{k} is larger than its {size}x{size} input map; "
                           f"use a kernel <= {size}")
    table = _conv_table(layer, i, maps, seed)
    out = size - k + 1
    if table:
        fan_in, n_w = max(len(r) for r in table) * k * k, sum(len(r) for r in table) * k * k
    else:
        fan_in = maps * k * k
        n_w = m * fan_in
    return LayerShape(i, "conv", m, out, m * out * out, n_w + m, k, fan_in, layer.connections, table)


def infer_shapes(layers: tuple[Layer, ...], seed: int = 0) -> tuple[LayerShape, ...]:
    """Check the layer sequence and compute maps, map size, neurons and weights per layer."""
    if not layers:
        raise CnnperfError("network has no layers; start with an input layer and end with an output layer")
    if not isinstance(layers[0], Input):
        raise CnnperfError("the first layer must be the input layer (e.g. 1x29x29)")
    if not isinstance(layers[-1], Output):
        raise CnnperfError("the network must end in an output layer (e.g. 10N as the last layer)")
    if len(layers) < 2:
        raise CnnperfError("network needs at least an input and an output layer")
    shapes: list[LayerShape] = []
    first = layers[0]
    maps = _positive(first.maps, "input maps", 0)
    size = _positive(first.size, "input size", 0)
    shapes.append(LayerShape(0, "input", maps, size, maps * size * size, 0))
    flat = False  # after a fully connected layer, maps are 1x1
    for i, layer in enumerate(layers[1:], start=1):
        if isinstance(layer, Input):
            raise CnnperfError(f"layer {i}: only the first layer may be an input layer")
        if isinstance(layer, Conv):
            if flat:
                raise CnnperfError(f"layer {i}: convolution after a fully connected layer is not supported")
            shape = _conv_shape(layer, i, maps, size, seed)
            maps, size = shape.maps, shape.size
            shapes.append(shape)
        elif isinstance(layer, POOLING):
            what = "max" if layer.kind == "maxpool" else "average"
            s = _positive(layer.size, "pooling size", i)
            if flat:
                raise CnnperfError(f"layer {i}: {what} pooling after a fully connected layer is not supported")
            if size % s:
                raise CnnperfError(f"layer {i}: pooling size {s} does not divide the {size}x{size} map; "
                                   f"use a divisor of {size}")
            size //= s
            shapes.append(LayerShape(i, layer.kind, maps, size, maps * size * size, 0, s, s * s))
        elif isinstance(layer, (Full, Output)):
            n = _positive(layer.neurons, "neurons", i)
            if isinstance(layer, Output) and i != len(layers) - 1:
                raise CnnperfError(f"layer {i}: the output layer must be the last layer")
            fan_in = maps * size * size
            shapes.append(LayerShape(i, layer.kind, n, 1, n, n * (fan_in + 1), 0, fan_in))
            maps, size, flat = n, 1, True
        else:
            raise CnnperfError(f"layer {i}: unknown layer type {type(layer).__name__}")
    if shapes[-1].neurons < 2:
        raise CnnperfError("the output layer needs at least 2 neurons (classes)")
    return tuple(shapes)
