"""Notation and TOML parsing: round trips and malformed input."""

import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import PRESETS, load_toml, parse_notation, preset, resolve_network, spec_to_toml


def test_notation_of_the_literature():
    spec = parse_notation("29x29-20C4-MP2-40C5-MP3-150N-10N")
    assert spec.layers == preset("medium").layers
    assert spec.notation() == "1x29x29-20C4-MP2-40C5-MP3-150N-10N"


@pytest.mark.parametrize("name", PRESETS)
def test_notation_round_trip(name):
    spec = preset(name)
    assert parse_notation(spec.notation()).layers == spec.layers


@pytest.mark.parametrize("name", PRESETS)
def test_toml_round_trip(tmp_path, name):
    spec = preset(name, activation="relu")
    path = tmp_path / f"{name}.toml"
    path.write_text(spec_to_toml(spec))
    back = load_toml(path)
    assert (back.name, back.layers, back.activation) == (spec.name, spec.layers, "relu")


@pytest.mark.parametrize(
    "text, message",
    [
        ("29x29", "malformed network notation"),
        ("29x29--10N", "malformed network notation"),
        ("29x28-10N", "not square"),
        ("ax29-10N", "malformed input layer"),
        ("29x29-5K4-10N", "unknown layer '5K4'"),
        ("29x29-5C4-MP2", "must end in an output layer"),
        ("29x29-0C4-10N", "maps must be a positive integer"),
    ],
)
def test_bad_notation(text, message):
    with pytest.raises(CnnperfError, match=message):
        parse_notation(text)


@pytest.mark.parametrize(
    "body, message",
    [
        ("layers = [", "malformed TOML"),
        ("name = 'x'", "non-empty \\[\\[layers\\]\\]"),
        ("[[layers]]\ntype='input'\nsize=29\n[[layers]]\ntype='dense'\nneurons=3", "unknown layer type 'dense'"),
        ("[[layers]]\ntype='input'\nsize=29\n[[layers]]\ntype='conv'\nmaps=3\n[[layers]]\ntype='output'\nneurons=10", "missing key 'kernel'"),
        ("[[layers]]\ntype='input'\nsize='29'\n[[layers]]\ntype='output'\nneurons=10", "size must be an integer"),
    ],
)
def test_bad_toml(tmp_path, body, message):
    path = tmp_path / "net.toml"
    path.write_text(body)
    with pytest.raises(CnnperfError, match=message):
        load_toml(path)


def test_resolve_network(tmp_path):
    assert resolve_network("small").name == "small"
    assert resolve_network("29x29-5C4-MP2-10N").n_weights == 85 + 10 * (5 * 13 * 13 + 1)
    path = tmp_path / "n.toml"
    path.write_text(spec_to_toml(preset("small")))
    assert resolve_network(str(path)).layers == preset("small").layers
    with pytest.raises(CnnperfError, match="unknown network 'tiny'"):
        resolve_network("tiny")
    with pytest.raises(CnnperfError, match="not found"):
        resolve_network(str(tmp_path / "missing.toml"))
