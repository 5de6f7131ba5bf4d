"""Notation and TOML parsing: round trips and malformed input."""

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnperf.errors import CnnperfError
from cnnperf.networks import (
    ACTIVATIONS,
    PRESETS,
    NetworkSpec,
    load_toml,
    parse_notation,
    preset,
    resolve_network,
    spec_to_toml,
)
from cnnperf.networks.parse import spec_from_dict


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
    path.write_text(spec_to_toml(spec), encoding="utf-8")
    back = load_toml(path)
    assert (back.name, back.layers, back.activation) == (spec.name, spec.layers, "relu")
    assert back == spec


@pytest.mark.parametrize("name", [
    "my.net", "a.b.c", 'say "hi"', "it's", "back\\slash", "Cireşan–LeNet ✓ 日本", "two\nlines", "cr\rlf\r\n",
    "tab\there", "", " ", "[[layers]]", "name = 'x'", "#comment", "\u0000\u001f\u007f",
])
def test_toml_round_trip_of_awkward_names(tmp_path, name):
    spec = NetworkSpec(name, preset("small").layers, "tanh")
    path = tmp_path / "net.toml"
    path.write_text(spec_to_toml(spec), encoding="utf-8")
    assert load_toml(path) == spec


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=40), preset_name=st.sampled_from(PRESETS), activation=st.sampled_from(ACTIVATIONS))
def test_toml_round_trip_of_any_name(name, preset_name, activation):
    spec = NetworkSpec(name, preset(preset_name).layers, activation)
    assert spec_from_dict(tomllib.loads(spec_to_toml(spec)), "unused") == spec


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
        ("[[layers]]\ntype='input'\nsize=29\n[[layers]]\ntype='conv'\nmaps=3\n[[layers]]\ntype='output'\n"
         "neurons=10", "missing key 'kernel'"),
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
    path.write_text(spec_to_toml(preset("small")), encoding="utf-8")
    assert resolve_network(str(path)).layers == preset("small").layers
    with pytest.raises(CnnperfError, match="unknown network 'tiny'"):
        resolve_network("tiny")
    with pytest.raises(CnnperfError, match="not found"):
        resolve_network(str(tmp_path / "missing.toml"))
