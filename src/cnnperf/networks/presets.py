"""The three networks of paper Fig. 2 as reconstructed in NOTES.md, and NET resolution."""

from __future__ import annotations

from pathlib import Path

from cnnperf.errors import CnnperfError
from cnnperf.networks.parse import load_toml, parse_notation
from cnnperf.networks.spec import NetworkSpec

PRESET_NOTATION = {
    "small": "1x29x29-5C4-MP2-10C5-MP3-50N-10N",
    "medium": "1x29x29-20C4-MP2-40C5-MP3-150N-10N",
    "large": "1x29x29-20C4-60C5-MP2-100C6-MP2-150N-10N",
}
PRESETS = tuple(PRESET_NOTATION)


def preset(name: str, activation: str = "scaled_tanh") -> NetworkSpec:
    if name not in PRESET_NOTATION:
        raise CnnperfError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    return parse_notation(PRESET_NOTATION[name], name=name, activation=activation)


def _path_kind(net: str) -> str | None:
    """"file", "dir" or None (no such path, or a text that cannot be a path, e.g. too long)."""
    try:
        p = Path(net)
        return "file" if p.is_file() else "dir" if p.is_dir() else None
    except (OSError, ValueError):
        return None


def resolve_network(net: str, activation: str | None = None) -> NetworkSpec:
    """NET is a preset name, a TOML file, or compact notation (in that order)."""
    kind = _path_kind(net)
    if net in PRESET_NOTATION:
        spec = preset(net)
    elif kind == "dir":
        raise CnnperfError(f"network {net} is a directory; give a preset ({', '.join(PRESETS)}), a TOML file or "
                           "notation")
    elif net.endswith(".toml") or kind == "file":
        if kind != "file":
            raise CnnperfError(f"network file {net} not found; give a preset ({', '.join(PRESETS)}), a TOML file or "
                               "notation")
        spec = load_toml(net)
    elif "-" in net:
        spec = parse_notation(net)
    else:
        raise CnnperfError(
            f"unknown network {net!r}; give a preset ({', '.join(PRESETS)}), a TOML file, or notation like "
            "29x29-20C4-MP2-150N-10N"
        )
    if activation is not None and activation != spec.activation:
        spec = NetworkSpec(spec.name, spec.layers, activation, spec.seed)
    return spec
