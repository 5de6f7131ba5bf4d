"""The same network in PyTorch (for benchmarks only; torch is never a runtime dependency)."""

from __future__ import annotations

import torch
from torch import nn

from cnnperf.networks import NetworkSpec


class ScaledTanh(nn.Module):
    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


ACT = {"scaled_tanh": ScaledTanh, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def build_torch_net(spec: NetworkSpec) -> nn.Sequential:
    """conv -> act, maxpool, [flatten] linear -> act, output linear (logits; softmax in the loss)."""
    layers: list[nn.Module] = []
    prev = spec.shapes[0]
    flat = False
    for s in spec.shapes[1:]:
        if s.kind == "conv":
            layers += [nn.Conv2d(prev.maps, s.maps, s.kernel), ACT[spec.activation]()]
        elif s.kind == "maxpool":
            layers.append(nn.MaxPool2d(s.kernel))
        else:
            if not flat:
                layers.append(nn.Flatten())
                flat = True
            layers.append(nn.Linear(s.fan_in, s.neurons))
            if s.kind == "full":
                layers.append(ACT[spec.activation]())
        prev = s
    return nn.Sequential(*layers)
