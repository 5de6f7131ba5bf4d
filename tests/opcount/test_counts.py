"""Operation counts of small hand-checkable layers and the presets' structure."""

from cnnperf.networks import parse_notation, preset
from cnnperf.opcount import count_ops


def test_hand_checked_tiny_network():
    # 1x4x4 -> 2C3 (2 maps 2x2, fan_in 9) -> MP2 (2 maps 1x1) -> 3N (fan_in 2)
    c = count_ops(parse_notation("1x4x4-2C3-MP2-3N"))
    conv, pool, out = c.layers
    # conv FProp: 2 maps * 4 positions * 9 taps MACs + 8 bias adds + 8 activations
    assert conv.fprop == 2 * 4 * 9 + 8 + 8
    # conv BProp (first layer: no input delta): 72 gradient MACs + 8 derivatives + 20 weight updates
    assert conv.bprop == 72 + 8 + 20
    # pooling: 2 outputs x 3 comparisons; backward routes 2 deltas
    assert (pool.fprop, pool.bprop) == (6, 2)
    # output: 3 x 2 MACs + 3 bias + 3 softmax; back: 6 grad + 6 input delta + 3 + 9 updates
    assert out.fprop == 6 + 3 + 3 and out.bprop == 6 + 6 + 3 + 9
    assert c.fprop == conv.fprop + pool.fprop + out.fprop
    assert c.prep(1) == 29 + c.prep_instance and c.prep(4) == 29 + 4 * c.prep_instance


def test_executed_counts_only_argmax_positions_under_pooling():
    dense, executed = count_ops(preset("medium")), count_ops(preset("medium"), executed=True)
    assert executed.fprop == dense.fprop
    conv2_dense, conv2_exec = dense.layers[2], executed.layers[2]
    # 40C5 under MP3: 81 positions -> 9 arg-max positions; gradient and input delta both shrink 9x
    macs = 40 * 81 * 500
    assert conv2_dense.bprop - conv2_exec.bprop == 2 * (macs - macs // 9)


def test_fully_connected_matches_paper_forward_counts():
    """The paper's 'fully connected' FProp (incl. output) is 5k / 56k / 137k: ours within 5 %."""
    for net, paper in (("small", 5e3), ("medium", 56e3), ("large", 137e3)):
        t = count_ops(preset(net)).by_type()
        ours = t["full"][0] + t["output"][0]
        assert abs(ours / paper - 1) < 0.05, (net, ours)


def test_hand_checked_single_conv_layer():
    # 1x3x3 -> 1C2: one 2x2 map, fan_in 1*2*2 = 4, weights 4 + 1 bias = 5
    # -> 2N output: fan_in 4, weights 2*4 + 2 = 10
    c = count_ops(parse_notation("1x3x3-1C2-2N"))
    conv, out = c.layers
    assert (conv.kind, out.kind) == ("conv", "output")
    # FProp: 4 positions x 4 multiply-adds = 16, + 4 bias adds + 4 activations
    assert conv.fprop == 24
    # BProp of the first layer: 16 weight-gradient multiply-adds + 4 derivatives + 5 updates (no input delta)
    assert conv.bprop == 25
    # output: 8 multiply-adds + 2 bias + 2 softmax; back: 8 gradient + 8 input delta + 2 derivatives + 10 updates
    assert (out.fprop, out.bprop) == (12, 28)
    assert (c.fprop, c.bprop) == (36, 53)
    assert c.prep_shared == 15  # one per weight
    assert c.by_type() == {"conv": (24, 25), "maxpool": (0, 0), "full": (0, 0), "output": (12, 28)}


def test_two_input_maps_double_the_conv_multiply_adds():
    one, two = count_ops(parse_notation("1x3x3-1C2-2N")), count_ops(parse_notation("2x3x3-1C2-2N"))
    # fan_in 4 -> 8: 16 -> 32 multiply-adds forward and for the gradient; weights 5 -> 9
    assert two.layers[0].fprop - one.layers[0].fprop == 16
    assert two.layers[0].bprop - one.layers[0].bprop == 16 + 4


def test_connection_table_counts_only_connected_maps():
    # 2x4x4 -> 3 maps, 3x3 kernel, table [[0], [0, 1], [1]] (4 connections) -> 2x2 maps -> 2N
    from cnnperf.networks import Conv, Input, NetworkSpec, Output
    spec = NetworkSpec("t", (Input(2, 4), Conv(3, 3, "table", table=((0,), (0, 1), (1,))), Output(2)))
    conv, out = count_ops(spec).layers
    # FProp: 4 positions x 4 connections x 9 taps = 144 multiply-adds, + 12 bias adds + 12 activations
    assert conv.fprop == 144 + 12 + 12
    # BProp (layer 1): 144 gradient multiply-adds + 12 derivatives + 39 weight updates (36 + 3 biases)
    assert conv.bprop == 144 + 12 + 39
    dense = count_ops(NetworkSpec("d", (Input(2, 4), Conv(3, 3), Output(2)))).layers[0]
    assert dense.fprop - conv.fprop == 4 * 2 * 9  # two unconnected pairs
    assert out.fprop == 2 * 12 + 2 + 2


def test_random_fan_in_halves_the_executed_multiply_adds_of_medium():
    dense = count_ops(preset("medium"), executed=True).layers[2]
    half = count_ops(parse_notation("1x29x29-20C4-MP2-40C5r10-MP3-150N-10N"), executed=True).layers[2]
    # forward 40 x 81 x 500 -> 40 x 81 x 250; backward at 9 arg-max positions: 2 x 40 x 9 x (500 -> 250)
    assert dense.fprop - half.fprop == 40 * 81 * 250
    assert dense.bprop - half.bprop == 2 * 40 * 9 * 250 + 40 * 250  # and 10,000 fewer weight updates


def test_average_pooling_counts():
    # 1x6x6 -> 2C3 (4x4) -> AP2 (2x2): 8 pooled outputs, 3 adds + 1 scaling each; backward one per input
    c = count_ops(parse_notation("1x6x6-2C3-AP2-3N"))
    pool = c.layers[1]
    assert (pool.kind, pool.fprop, pool.bprop) == ("avgpool", 8 * 4, 32)
    assert set(c.by_type()) == {"conv", "maxpool", "avgpool", "full", "output"}
    assert "avgpool" not in count_ops(preset("small")).by_type()  # the paper's columns stay as they were
