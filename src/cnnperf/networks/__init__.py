"""Network specifications, shape inference, notation/TOML parsing and presets (paper Fig. 2)."""

from cnnperf.networks.parse import load_toml, parse_notation, spec_to_toml
from cnnperf.networks.presets import PRESETS, preset, resolve_network
from cnnperf.networks.spec import (
    ACTIVATIONS,
    CONNECTIONS,
    AvgPool,
    Conv,
    Full,
    Input,
    LayerShape,
    MaxPool,
    NetworkSpec,
    Output,
)

__all__ = [
    "ACTIVATIONS",
    "CONNECTIONS",
    "PRESETS",
    "AvgPool",
    "Conv",
    "Full",
    "Input",
    "LayerShape",
    "MaxPool",
    "NetworkSpec",
    "Output",
    "load_toml",
    "parse_notation",
    "preset",
    "resolve_network",
    "spec_to_toml",
]
