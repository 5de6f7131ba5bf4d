"""Read networks from the compact notation (`29x29-20C4-MP2-150N-10N`) or a TOML file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomli_w

from cnnperf.errors import CnnperfError
from cnnperf.networks.spec import Conv, Full, Input, MaxPool, NetworkSpec, Output

_INPUT = re.compile(r"^(?:(\d+)x)?(\d+)x(\d+)$")
_CONV = re.compile(r"^(\d+)C(\d+)$")
_POOL = re.compile(r"^MP(\d+)$")
_FULL = re.compile(r"^(\d+)N$")

LAYER_TYPES = ("input", "conv", "maxpool", "full", "output")


def parse_notation(text: str, name: str | None = None, activation: str = "scaled_tanh") -> NetworkSpec:
    """Parse e.g. `1x29x29-20C4-MP2-40C5-MP3-150N-10N`; the last `N` layer is the output."""
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
            layers.append(Conv(int(m.group(1)), int(m.group(2))))
        elif (m := _POOL.match(tok)):
            layers.append(MaxPool(int(m.group(1))))
        elif (m := _FULL.match(tok)):
            n = int(m.group(1))
            layers.append(Output(n) if j == len(tokens) - 1 else Full(n))
        else:
            raise CnnperfError(
                f"unknown layer {tok!r} in {text!r}; use nCk (convolution), MPk (max pooling) or nN (fully connected / output)"
            )
    return NetworkSpec(name or text, tuple(layers), activation)


def _int_field(entry: dict, key: str, i: int) -> int:
    if key not in entry:
        raise CnnperfError(f"layer {i} ({entry.get('type')}): missing key {key!r}")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise CnnperfError(f"layer {i}: {key} must be an integer, got {value!r}")
    return value


def spec_from_dict(doc: dict, default_name: str) -> NetworkSpec:
    """Build a spec from a parsed TOML document: name, activation, [[layers]] with `type`."""
    entries = doc.get("layers")
    if not isinstance(entries, list) or not entries:
        raise CnnperfError("network TOML needs a non-empty [[layers]] array")
    layers = []
    for i, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind == "input":
            layers.append(Input(_int_field(entry, "maps", i) if "maps" in entry else 1, _int_field(entry, "size", i)))
        elif kind == "conv":
            layers.append(Conv(_int_field(entry, "maps", i), _int_field(entry, "kernel", i)))
        elif kind == "maxpool":
            layers.append(MaxPool(_int_field(entry, "size", i)))
        elif kind == "full":
            layers.append(Full(_int_field(entry, "neurons", i)))
        elif kind == "output":
            layers.append(Output(_int_field(entry, "neurons", i)))
        else:
            raise CnnperfError(f"layer {i}: unknown layer type {kind!r}; use one of {', '.join(LAYER_TYPES)}")
    activation = doc.get("activation", "scaled_tanh")
    if not isinstance(activation, str):
        raise CnnperfError(f"activation must be a string, got {activation!r}")
    return NetworkSpec(str(doc.get("name", default_name)), tuple(layers), activation)


def load_toml(path: str | Path) -> NetworkSpec:
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CnnperfError(f"malformed TOML in {p}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnperfError(f"cannot read network file {p}: {exc}") from None
    except ValueError as exc:  # what tomllib does not wrap, e.g. an integer of over 4,300 digits
        raise CnnperfError(f"malformed TOML in {p}: {str(exc).split(';')[0]}; fix the file") from None
    return spec_from_dict(doc, p.stem)


def spec_to_dict(spec: NetworkSpec) -> dict:
    """The TOML document of a spec (what `spec_from_dict` reads)."""
    layers = []
    for layer in spec.layers:
        entry = {"type": layer.kind}
        for key in ("maps", "size", "kernel", "neurons"):
            if hasattr(layer, key):
                entry[key] = getattr(layer, key)
        layers.append(entry)
    return {"name": spec.name, "activation": spec.activation, "layers": layers}


def spec_to_toml(spec: NetworkSpec) -> str:
    """Serialise a spec to the TOML format `load_toml` reads (tomli-w: any name round-trips)."""
    return tomli_w.dumps(spec_to_dict(spec))
