"""engine.paths: the kernel path and shape numbers per layer, hand-checked, and the same decision
as the descriptor table the kernels read."""

import pytest

from cnnperf.engine.layout import DIRECT, POOLED, TABLE, build_layout
from cnnperf.engine.paths import LayerPath, layer_paths
from cnnperf.networks import parse_notation, preset


def by_index(spec) -> dict[int, LayerPath]:
    return {p.index: p for p in layer_paths(spec)}


def test_medium_hand_checked():
    p = by_index(preset("medium"))  # 1x29x29-20C4-MP2-40C5-MP3-150N-10N
    c1, m2, c3, m4, f5, o6 = (p[i] for i in range(1, 7))
    assert (c1.forward, c1.backward, c1.input_delta, c1.col2im) == ("conv_direct", "conv_direct_pooled", False, False)
    assert (c1.C, c1.H, c1.K, c1.M, c1.O, c1.S, c1.Q, c1.F) == (1, 29, 4, 20, 26, 2, 13, 16)
    rows = 26 * 32  # 26 output rows of 26 pixels, each 32 lanes (padded to 16)
    assert c1.macs_forward == c1.macs_gradient == 20 * 16 * rows and c1.macs_input_delta == 0
    assert (c1.col_bytes, c1.wide_bytes, c1.weights_written) == (0, 4 * 20 * rows, 340)
    assert (m2.forward, m2.backward, m2.K, m2.O) == ("maxpool2", "fused", 2, 13)
    assert (c3.forward, c3.backward, c3.input_delta, c3.col2im) == ("conv_gemm", "conv_gemm_pooled", True, True)
    assert (c3.C, c3.H, c3.K, c3.M, c3.O, c3.S, c3.Q, c3.F) == (20, 13, 5, 40, 9, 3, 3, 500)
    assert c3.macs_forward == 40 * 81 * 500
    assert c3.macs_gradient == c3.macs_input_delta == 40 * 9 * 500  # 9 arg-max pixels per map
    assert c3.macs_backward == 2 * 40 * 9 * 500
    assert c3.col_bytes == c3.dcol_bytes == 4 * 81 * 500 and c3.weights_written == 40 * 501
    assert (m4.forward, m4.backward) == ("maxpool", "fused")
    assert (f5.forward, f5.backward, f5.F, f5.M) == ("full", "full", 360, 150)
    assert (f5.macs_forward, f5.macs_input_delta) == (54000, 54000)
    assert (o6.forward, o6.backward, o6.F, o6.M, o6.weights_written) == ("output", "output", 150, 10, 1510)


@pytest.mark.parametrize("notation, expected", [
    # pooling on the image: no backward; pooling after pooling: dense scatter
    ("1x8x8-MP2-2C3-MP2-3N", {1: ("maxpool2", "none"), 2: ("conv_gemm", "conv_gemm_pooled"), 3: ("maxpool2", "fused")}),
    ("1x9x9-2C2-MP2-MP2-4N-3N", {1: ("conv_direct", "conv_direct_pooled"), 3: ("maxpool2", "maxpool")}),
    ("1x7x7-2C3-3C2-MP2-5N-3N", {1: ("conv_direct", "conv_direct_dense"), 2: ("conv_gemm", "conv_gemm_pooled")}),
    ("2x6x6-3C2-MP5-3N", {1: ("conv_gemm", "conv_gemm_pooled"), 2: ("maxpool", "fused"), 3: ("output", "output")}),
    ("1x10x10-2C2-3C3-2C2-MP2-3N", {2: ("conv_gemm", "conv_gemm_dense")}),
])
def test_paths_of_small_networks(notation, expected):
    p = by_index(parse_notation(notation))
    for i, (fwd, bwd) in expected.items():
        assert (p[i].forward, p[i].backward) == (fwd, bwd)


def test_first_layer_needs_no_input_delta():
    p = by_index(parse_notation("2x6x6-3C2-MP5-3N"))
    assert not p[1].input_delta and not p[1].col2im and p[1].macs_input_delta == 0 and p[1].dcol_bytes == 0
    p = by_index(parse_notation("1x4x4-6N-5N-3N"))
    assert not p[1].input_delta and p[2].input_delta and p[3].input_delta


@pytest.mark.parametrize("net", ["small", "medium", "large", "1x8x8-MP2-2C3-MP2-3N", "1x7x7-2C3-3C2-MP2-5N-3N",
                                 "2x6x6-3C2-MP5-3N", "1x10x10-2C2-3C3-2C2-MP2-3N", "1x12x12-4C3-6C3r2-MP2-5N-3N",
                                 "1x9x9-3C2-AP2-4C3r2-4N-3N", "3x9x9-4C3r2-AP7-3N"])
def test_paths_agree_with_the_descriptor_table(net):
    spec = preset(net) if "x" not in net else parse_notation(net)
    desc = build_layout(spec).desc
    for p in layer_paths(spec):
        if p.kind == "conv":
            assert bool(desc[p.index, DIRECT]) == (p.forward == "conv_direct")
            assert bool(desc[p.index, POOLED]) == p.backward.endswith("_pooled")
            assert bool(desc[p.index, TABLE]) == (p.forward == "conv_table")


def test_weights_written_sum_to_the_network_weights():
    for net in ("small", "medium", "large"):
        assert sum(p.weights_written for p in layer_paths(preset(net))) == preset(net).n_weights


def test_random_fan_in_medium_hand_checked():
    p = by_index(parse_notation("1x29x29-20C4-MP2-40C5r10-MP3-150N-10N"))[3]
    assert (p.forward, p.backward, p.input_delta, p.col2im) == ("conv_table", "conv_table_pooled", True, False)
    assert (p.C, p.H, p.K, p.M, p.O, p.S, p.Q, p.F, p.connections) == (20, 13, 5, 40, 9, 3, 3, 250, 400)
    assert p.useful_macs_forward == 400 * 25 * 81 and p.useful_macs_backward == 2 * 400 * 25 * 9
    assert p.macs_forward == 400 * 25 * 80 + 400 * 32  # 80 pixels in vectors, the 81st as dots of 32 lanes
    assert p.macs_gradient == 400 * 9 * 5 * 8  # 5 kernel rows of 8 lanes
    assert p.macs_input_delta == 400 * 9 * 8 * 8  # by regions of 3 + 5 - 1 = 7 rows, always 8 rows of 8 lanes
    assert p.col_bytes == 4 * 20 * 25 * 96 and p.weights_written == 400 * 25 + 40


def test_table_tail_pixels_agree_with_the_kernel():
    from cnnperf.engine.kernels.conv_table import tail_pixels
    from cnnperf.engine.paths import table_forward_lanes, table_tail_pixels
    assert [P for P in range(1, 400) if table_tail_pixels(P)] == list(range(17, 400, 16))
    assert all(tail_pixels(P) == table_tail_pixels(P) for P in range(1, 400))
    assert table_forward_lanes(3, 9, 17) == 3 * 9 * 16 + 3 * 16 and table_forward_lanes(3, 9, 20) == 3 * 9 * 32


def test_lenet5_paths():
    from pathlib import Path

    from cnnperf.networks import load_toml
    spec = load_toml(Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml")
    p = by_index(spec)
    assert [(p[i].forward, p[i].backward) for i in range(1, 8)] == [
        ("conv_direct", "conv_direct_dense"), ("avgpool2", "avgpool2"), ("conv_table", "conv_table_dense"),
        ("avgpool2", "avgpool2"), ("conv_gemm", "full"), ("full", "full"), ("output", "output")]
    c5 = p[5]  # 120 maps of 16 x 5 x 5 inputs, 1x1 output: backward as a fully connected layer
    assert (c5.macs_gradient, c5.macs_input_delta, c5.col2im, c5.dcol_bytes) == (120 * 400, 120 * 400, False, 0)
    c3 = p[3]
    assert (c3.connections, c3.F, c3.col2im) == (60, 6 * 16, True)
    assert c3.useful_macs_forward == 60 * 16 * 100 and c3.macs_forward == 60 * 16 * 112
    assert c3.macs_gradient == c3.macs_input_delta == 60 * 16 * 112 and c3.dcol_bytes == 4 * 6 * 16 * 112
    assert by_index(parse_notation("1x8x8-AP2-3C2-3N"))[1].backward == "none"


def test_a_complete_table_takes_the_dense_path():
    spec = parse_notation("1x8x8-4C3-3C3r4-MP2-3N")  # 4 of 4 input maps: every pair connected
    desc = build_layout(spec).desc
    assert by_index(spec)[2].forward == "conv_gemm" and not desc[2, TABLE]


def test_table_block_by_hand():
    from cnnperf.engine.layout import table_block
    # 3 output maps of 2 input maps, 2x2 kernels: rows (0,), (0, 1), (1,)
    # -> connections 0: (0,0) 1: (1,0) 2: (1,1) 3: (2,1)
    block = table_block(((0,), (0, 1), (1,)), 2, 2, 5).tolist()
    in_start, pairs, conn_in, map_start, pieces = block[:3], block[3:11], block[11:15], block[15:19], block[19:]
    assert in_start == [0, 2, 4]  # input map 0 feeds maps 0 and 1, input map 1 feeds maps 1 and 2
    assert pairs == [0, 0, 1, 4, 1, 8, 2, 12]  # (map, weight offset j*4)
    assert conn_in == [0, 0, 1, 1] and map_start == [0, 1, 3, 4]
    assert pieces == [0, 5, 0, 5, 25, 30, 25, 30]  # per connection, kernel rows 0 and 1 of its input map (5x5)


def test_table_block_pieces_of_wide_kernels():
    from cnnperf.engine.layout import table_block
    block = table_block(((1,),), 2, 9, 12).tolist()  # one connection, 9x9 kernel: two 8-tap pieces per row
    assert block[-18:] == [144 + ky * 12 + u for ky in range(9) for u in (0, 8)]


def test_region_rule_and_pad_agree_with_the_kernels():
    from cnnperf.engine.kernels.conv_table_pooled import PAD_ROW, pad_block
    from cnnperf.engine.paths import table_pad_floats, table_region_rows
    assert PAD_ROW == 8
    assert [table_region_rows(5, S) for S in (1, 2, 3, 4, 5)] == [5, 6, 7, 8, 0]
    assert table_region_rows(9, 2) == 0 and table_region_rows(3, 0) == 0
    for K, S in ((3, 2), (5, 3), (5, 4), (2, 7)):
        R = S + K - 1
        block = pad_block(K, S) * K * K
        assert block >= (R + S) * PAD_ROW  # R + S rows: the lanes past row R + S - 2 read a zero row
        assert table_pad_floats(6, K, S) == 6 * block + (8 - R) * 8 + 8
    assert table_pad_floats(6, 5, 5) == 0
