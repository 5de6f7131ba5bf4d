"""Read networks from the compact notation (`29x29-20C4-MP2-150N-10N`) or a TOML file."""

from __future__ import annotations

import re
from pathlib import Path

import tomli_w

from cnnperf.errors import CnnperfError
from cnnperf.fileio import read_toml
from cnnperf.networks.spec import AvgPool, Conv, Full, Input, MaxPool, NetworkSpec, Output

_INPUT = re.compile(r"^(?:(\d+)x)?(\d+)x(\d+)$")
_CONV = re.compile(r"^(\d+)C(\d+)(?:r(\d+))?$")
_TABLE = re.compile(r"^(\d+)C(\d+)t\d*$")
_POOL = re.compile(r"^(MP|AP)(\d+)$")
_FULL = re.compile(r"^(\d+)N$")

LAYER_TYPES = ("input", "conv", "maxpool", "avgpool", "full", "output")
LAYER_KEYS = {
    "input": ("maps", "size"), "conv": ("maps", "kernel", "connections", "fan_in", "table"),
    "maxpool": ("size",), "avgpool": ("size",), "full": ("neurons",), "output": ("neurons",),
}


def parse_notation(text: str, name: str | None = None, activation: str = "scaled_tanh", seed: int = 0) -> NetworkSpec:
    """Parse e.g. `1x29x29-20C4-MP2-40C5r10-AP3-150N-10N`; the last `N` layer is the output.
    `r10`: each output map connects to 10 random input maps (drawn with `seed`)."""
    if (m := re.search(r"\d{32,}", text)):  # int() refuses beyond 4,300 digits; the spec beyond 1e30
        raise CnnperfError(f"number {m.group()[:12]}... ({len(m.group())} digits) in the network is too large; "
                           "give at most 1e30")
    tokens = [t.strip() for t in text.strip().split("-")]
    if len(tokens) < 2 or any(not t for t in tokens):
        raise CnnperfError(f"malformed network notation {text!r}; expected e.g. 29x29-20C4-MP2-40C5-MP3-150N-10N")
    m = _INPUT.match(tokens[0])
    if not m:
        raise CnnperfError(f"malformed input layer {tokens[0]!r} in {text!r}; expected e.g. 29x29 or 1x29x29")
    maps, h, w = int(m.group(1) or 1), int(m.group(2)), int(m.group(3))
    if h != w:
        raise CnnperfError(f"input {tokens[0]!r} is not square; only square maps are supported")
    layers: list = [Input(maps, h)]
    for j, tok in enumerate(tokens[1:], start=1):
        if (m := _CONV.match(tok)):
            fan = m.group(3)
            layers.append(Conv(int(m.group(1)), int(m.group(2))) if fan is None
                          else Conv(int(m.group(1)), int(m.group(2)), "random", int(fan)))
        elif _TABLE.match(tok):
            raise CnnperfError(f'layer {tok!r} in {text!r}: connection tables need a TOML file (connections = "table")')
        elif (m := _POOL.match(tok)):
            layers.append((MaxPool if m.group(1) == "MP" else AvgPool)(int(m.group(2))))
        elif (m := _FULL.match(tok)):
            n = int(m.group(1))
            layers.append(Output(n) if j == len(tokens) - 1 else Full(n))
        else:
            raise CnnperfError(
                f"unknown layer {tok!r} in {text!r}; use nCk or nCkrF (convolution, F random input maps per map), "
                "MPk / APk (max / average pooling) or nN (fully connected / output)"
            )
    return NetworkSpec(name or text, tuple(layers), activation, seed)


def _int_field(entry: dict, key: str, i: int) -> int:
    if key not in entry:
        raise CnnperfError(f"layer {i} ({entry.get('type')}): missing key {key!r}")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise CnnperfError(f"layer {i}: {key} must be an integer, got {value!r}")
    return value


def _conv(entry: dict, i: int) -> Conv:
    connections = entry.get("connections", "full")
    if not isinstance(connections, str):
        raise CnnperfError(f"layer {i}: connections must be a string (full, random or table), got {connections!r}")
    table = entry.get("table", [])
    if not isinstance(table, list) or not all(isinstance(row, list) for row in table):
        raise CnnperfError(f"layer {i}: table must be a list of lists of input-map indices, one list per output map")
    if connections == "random" and "fan_in" not in entry:
        raise CnnperfError(f'layer {i}: connections = "random" needs fan_in (input maps per output map)')
    fan_in = _int_field(entry, "fan_in", i) if "fan_in" in entry else 0
    return Conv(_int_field(entry, "maps", i), _int_field(entry, "kernel", i), connections, fan_in, table)


def _layer(entry, i: int):
    kind = entry.get("type") if isinstance(entry, dict) else None
    if kind not in LAYER_TYPES:
        raise CnnperfError(f"layer {i}: unknown layer type {kind!r}; use one of {', '.join(LAYER_TYPES)}")
    unknown = sorted(set(entry) - {"type", *LAYER_KEYS[kind]})
    if unknown:
        raise CnnperfError(f"layer {i} ({kind}): unknown key {unknown[0]!r}; use {', '.join(LAYER_KEYS[kind])}")
    if kind == "input":
        return Input(_int_field(entry, "maps", i) if "maps" in entry else 1, _int_field(entry, "size", i))
    if kind == "conv":
        return _conv(entry, i)
    if kind in ("maxpool", "avgpool"):
        return (MaxPool if kind == "maxpool" else AvgPool)(_int_field(entry, "size", i))
    return (Full if kind == "full" else Output)(_int_field(entry, "neurons", i))


def spec_from_dict(doc: dict, default_name: str) -> NetworkSpec:
    """Build a spec from a parsed TOML document: name, activation, seed, [[layers]] with `type`."""
    entries = doc.get("layers")
    if not isinstance(entries, list) or not entries:
        raise CnnperfError("network TOML needs a non-empty [[layers]] array")
    layers = tuple(_layer(entry, i) for i, entry in enumerate(entries))
    activation = doc.get("activation", "scaled_tanh")
    if not isinstance(activation, str):
        raise CnnperfError(f"activation must be a string, got {activation!r}")
    return NetworkSpec(str(doc.get("name", default_name)), layers, activation, doc.get("seed", 0))


def load_toml(path: str | Path) -> NetworkSpec:
    p = Path(path)
    return spec_from_dict(read_toml(p, "network file"), p.stem)


def _layer_dict(layer) -> dict:
    entry: dict = {"type": layer.kind}
    for key in LAYER_KEYS[layer.kind]:
        value = getattr(layer, key)
        if key == "connections" and value == "full" or key == "fan_in" and not value or key == "table" and not value:
            continue
        entry[key] = [list(row) for row in value] if key == "table" else value
    return entry


def spec_to_dict(spec: NetworkSpec) -> dict:
    """The TOML document of a spec (what `spec_from_dict` reads)."""
    doc: dict = {"name": spec.name, "activation": spec.activation}
    if spec.seed:
        doc["seed"] = spec.seed
    doc["layers"] = [_layer_dict(layer) for layer in spec.layers]
    return doc


def spec_to_toml(spec: NetworkSpec) -> str:
    """Serialise a spec to the TOML format `load_toml` reads (tomli-w: any name round-trips)."""
    return tomli_w.dumps(spec_to_dict(spec))
