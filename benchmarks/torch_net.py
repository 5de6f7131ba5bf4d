"""The same network in PyTorch (for benchmarks and test oracles only; torch is never a runtime dependency)."""

from __future__ import annotations

import torch
from torch import nn

from cnnperf.networks import NetworkSpec


class ScaledTanh(nn.Module):
    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class MaskedConv2d(nn.Conv2d):
    """A convolution with a connection table: a dense Conv2d whose weight is multiplied by a
    0/1 mask (output map, input map) in every forward, so unconnected weights get no gradient."""

    def __init__(self, in_maps: int, table: tuple[tuple[int, ...], ...], kernel: int):
        super().__init__(in_maps, len(table), kernel)
        mask = torch.zeros(len(table), in_maps, 1, 1)
        for m, row in enumerate(table):
            mask[m, list(row)] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return self._conv_forward(x, self.weight * self.mask, self.bias)


ACT = {"scaled_tanh": ScaledTanh, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def build_torch_net(spec: NetworkSpec) -> nn.Sequential:
    """conv -> act, max/avg pool, [flatten] linear -> act, output linear (logits; softmax in the loss)."""
    layers: list[nn.Module] = []
    prev = spec.shapes[0]
    flat = False
    for s in spec.shapes[1:]:
        if s.kind == "conv":
            conv = MaskedConv2d(prev.maps, s.table, s.kernel) if s.table else nn.Conv2d(prev.maps, s.maps, s.kernel)
            layers += [conv, ACT[spec.activation]()]
        elif s.kind == "maxpool":
            layers.append(nn.MaxPool2d(s.kernel))
        elif s.kind == "avgpool":
            layers.append(nn.AvgPool2d(s.kernel))
        else:
            if not flat:
                layers.append(nn.Flatten())
                flat = True
            layers.append(nn.Linear(s.fan_in, s.neurons))
            if s.kind == "full":
                layers.append(ACT[spec.activation]())
        prev = s
    return nn.Sequential(*layers)
