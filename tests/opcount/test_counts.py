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
