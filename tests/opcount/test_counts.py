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
