"""Network specifications (paper Fig. 2) and shape inference.

A network is a list of layers: input, convolution (valid, stride 1, every output map
connected to every input map, one bias per map), max pooling (non-overlapping),
fully connected, output (softmax). Layers are frozen dataclasses; `infer_shapes`
checks a spec and returns one `LayerShape` per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnperf.errors import CnnperfError

ACTIVATIONS = ("scaled_tanh", "tanh", "sigmoid", "relu")


@dataclass(frozen=True)
class Input:
    maps: int = 1
    size: int = 29
    kind: str = field(default="input", init=False)


@dataclass(frozen=True)
class Conv:
    maps: int
    kernel: int
    kind: str = field(default="conv", init=False)


@dataclass(frozen=True)
class MaxPool:
    size: int
    kind: str = field(default="maxpool", init=False)


@dataclass(frozen=True)
class Full:
    neurons: int
    kind: str = field(default="full", init=False)


@dataclass(frozen=True)
class Output:
    neurons: int
    kind: str = field(default="output", init=False)


Layer = Input | Conv | MaxPool | Full | Output


@dataclass(frozen=True)
class LayerShape:
    """One layer after shape inference: `maps` x `size` x `size` neurons (1x1 for N layers)."""

    index: int
    kind: str
    maps: int
    size: int
    neurons: int
    weights: int  # trainable parameters incl. biases
    kernel: int = 0  # conv kernel or pooling size; 0 otherwise
    fan_in: int = 0  # inputs per neuron (without bias)


@dataclass(frozen=True)
class NetworkSpec:
    """A validated network: name, layers and activation (paper Fig. 2)."""

    name: str
    layers: tuple[Layer, ...]
    activation: str = "scaled_tanh"

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise CnnperfError(
                f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}"
            )
        object.__setattr__(self, "_shapes", infer_shapes(self.layers))

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
        """Compact notation as in the literature, e.g. 1x29x29-20C4-MP2-150N-10N."""
        parts = []
        for layer in self.layers:
            if isinstance(layer, Input):
                parts.append(f"{layer.maps}x{layer.size}x{layer.size}")
            elif isinstance(layer, Conv):
                parts.append(f"{layer.maps}C{layer.kernel}")
            elif isinstance(layer, MaxPool):
                parts.append(f"MP{layer.size}")
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


def infer_shapes(layers: tuple[Layer, ...]) -> tuple[LayerShape, ...]:
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
            m, k = _positive(layer.maps, "maps", i), _positive(layer.kernel, "kernel", i)
            if flat:
                raise CnnperfError(f"layer {i}: convolution after a fully connected layer is not supported")
            if k > size:
                raise CnnperfError(f"layer {i}: kernel {k}x{k} is larger than its {size}x{size} input map; use a kernel <= {size}")
            fan_in = maps * k * k
            size, w = size - k + 1, m * (fan_in + 1)
            shapes.append(LayerShape(i, "conv", m, size, m * size * size, w, k, fan_in))
            maps = m
        elif isinstance(layer, MaxPool):
            s = _positive(layer.size, "pooling size", i)
            if flat:
                raise CnnperfError(f"layer {i}: max pooling after a fully connected layer is not supported")
            if size % s:
                raise CnnperfError(f"layer {i}: pooling size {s} does not divide the {size}x{size} map; use a divisor of {size}")
            size //= s
            shapes.append(LayerShape(i, "maxpool", maps, size, maps * size * size, 0, s, s * s))
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
