"""Reliability of `cnnperf count` through the CLI (issue 12): bad networks and output paths are
refused with one line (exit 2), nothing written; absurd networks are counted exactly (Python
integers: no overflow, no rounding)."""

import json

import pytest

from .harness import (
    BAD_NETWORKS,
    BAD_OUTPUTS,
    check_refused,
    cli,
    survived,
    write_network_files,
    write_output_obstacles,
)


@pytest.mark.parametrize("case", sorted(BAD_NETWORKS))
def test_bad_network_is_refused(case, tmp_path):
    net, needles = BAD_NETWORKS[case]
    write_network_files(tmp_path)
    check_refused(tmp_path, ["count", "--net", net, "--json", "c.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_unwritable_json_is_refused(case, tmp_path):
    path, needles = BAD_OUTPUTS[case]
    write_output_obstacles(tmp_path)
    check_refused(tmp_path, ["count", "--json", path], needles)


def _counts(tmp_path, net: str) -> dict:
    assert survived(cli(tmp_path, "count", "--net", net, "--json", "c.json")) == ""
    return json.loads((tmp_path / "c.json").read_text())


@pytest.mark.parametrize("template", ["29x29-{m}C4-10N", "{m}x29x29-10N", "29x29-2C4-MP2-{m}N-10N"])
def test_absurd_sizes_are_counted_exactly(template, tmp_path):
    """Every count is affine in a layer's width m: f(3m) - f(2m) == f(2m) - f(m) holds exactly for
    m = 10^20 only with exact integers (float64 rounds at 2^53 ~ 9e15)."""
    m = 10**20
    f = [_counts(tmp_path, template.format(m=k * m)) for k in (1, 2, 3)]
    for key in ("fprop_ops", "bprop_ops", "prep_shared_ops", "prep_instance_ops"):
        v = [c[key] for c in f]
        assert all(isinstance(x, int) for x in v), key
        assert v[2] - v[1] == v[1] - v[0] > 0, key


def test_huge_input_map_is_counted(tmp_path):
    doc = _counts(tmp_path, "99999x99999-10N")
    assert doc["fprop_ops"] > 99999**2 * 10  # every input value times every output neuron
