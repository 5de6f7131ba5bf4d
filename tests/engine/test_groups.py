"""Kernel groups (`layout.kernel_groups`, issue 15's cold start): a network compiles only the groups
of kernels its layers run."""

from pathlib import Path

import pytest

from cnnperf import engine
from cnnperf.networks import resolve_network


@pytest.mark.parametrize(("net", "groups"), [
    ("medium", set()),  # both convolutions under max pooling
    ("large", {"direct_dense"}),  # the first convolution without pooling after it
    ("1x13x13-3C2-4C3-MP2-3C2-4N", {"direct_dense", "dense"}),  # and a deeper one
    ("examples/lenet5-c3.toml", {"direct_dense", "table", "extra"}),  # C5 covers its input: a full layer's backward
])
def test_kernel_groups_by_hand(net, groups):
    path = Path(__file__).resolve().parents[2] / net
    assert engine.build_layout(resolve_network(str(path) if path.exists() else net)).groups == groups
