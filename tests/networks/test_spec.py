"""Shape inference against paper Fig. 2 and NOTES.md, and the bad-network cases."""

import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import Conv, Full, Input, MaxPool, NetworkSpec, Output, parse_notation, preset


def test_fig2_captions():
    small, medium, large = preset("small"), preset("medium"), preset("large")
    # (a) small: first conv 5 maps, 3,380 neurons, 4x4 kernel, 26x26, 85 weights
    s = small.shapes[1]
    assert (s.kind, s.maps, s.neurons, s.kernel, s.size, s.weights) == ("conv", 5, 3380, 4, 26, 85)
    # (b) medium: first conv 20 maps, 13,520 neurons, 340 weights
    s = medium.shapes[1]
    assert (s.maps, s.neurons, s.kernel, s.size, s.weights) == (20, 13520, 4, 26, 340)
    # (c) large: last conv 100 maps, 3,600 neurons, 6x6 kernel, 6x6 map, 216,100 weights
    s = large.shapes[4]
    assert (s.kind, s.maps, s.neurons, s.kernel, s.size, s.weights) == ("conv", 100, 3600, 6, 6, 216100)
    assert small.shapes[0].neurons == 841 and small.n_classes == 10


def test_weight_totals_match_notes():
    assert preset("small").n_weights == 6405
    assert preset("medium").n_weights == 76040
    assert preset("large").n_weights == 383160


def test_fully_connected_fan_in_and_weights():
    spec = parse_notation("29x29-5C4-MP2-10C5-MP3-50N-10N")
    full, out = spec.shapes[5], spec.shapes[6]
    assert full.fan_in == 90 and full.weights == 50 * 91
    assert out.kind == "output" and out.fan_in == 50 and out.weights == 10 * 51


def test_multi_map_input():
    spec = NetworkSpec("rgb", (Input(3, 8), Conv(4, 3), Output(2)))
    assert spec.shapes[1].weights == 4 * (3 * 9 + 1)
    assert spec.shapes[1].size == 6


@pytest.mark.parametrize(
    "layers, message",
    [
        ((Input(1, 29), Conv(5, 30), Output(10)), "kernel 30x30 is larger than its 29x29 input map"),
        ((Input(1, 29), Conv(5, 4), MaxPool(4), Output(10)), "pooling size 4 does not divide the 26x26 map"),
        ((Input(1, 29), Conv(0, 4), Output(10)), "maps must be a positive integer"),
        ((Input(1, -29), Output(10)), "input size must be a positive integer"),
        ((Input(1, 29), Conv(5, 4), Full(10)), "must end in an output layer"),
        ((Conv(5, 4), Output(10)), "first layer must be the input layer"),
        ((Input(1, 29), Output(10), Output(10)), "output layer must be the last layer"),
        ((Input(1, 29), Full(10), Conv(3, 1), Output(10)), "convolution after a fully connected layer"),
        ((Input(1, 29), Output(1)), "at least 2 neurons"),
        ((), "no layers"),
    ],
)
def test_bad_networks(layers, message):
    with pytest.raises(CnnperfError, match=message):
        NetworkSpec("bad", layers)


def test_unknown_activation():
    with pytest.raises(CnnperfError, match="unknown activation 'swish'"):
        NetworkSpec("x", (Input(1, 29), Output(10)), "swish")
