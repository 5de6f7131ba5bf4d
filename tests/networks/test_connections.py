"""Connection tables (full / random / table), the network seed, average pooling: shapes, weights,
notation, TOML, and every refusal of issue 11 as a one-line CnnperfError."""

from pathlib import Path

import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import (
    AvgPool,
    Conv,
    Full,
    Input,
    MaxPool,
    NetworkSpec,
    Output,
    load_toml,
    parse_notation,
    spec_to_toml,
)
from cnnperf.networks.tables import _splitmix64, random_table

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"
LENET_C3 = ((0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5), (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5),
            (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5), (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5))


def test_lenet5_example_weights_equal_the_hand_count():
    spec = load_toml(EXAMPLE)
    # C1 6*(16+1); C3 60 connections*16 + 16; C5 120*(16*25+1); F6 84*(120+1); output 10*(84+1)
    hand = 6 * 17 + (60 * 16 + 16) + 120 * (16 * 25 + 1) + 84 * 121 + 10 * 85
    assert hand == 60212
    assert spec.n_weights == hand
    c3 = spec.shapes[3]
    assert (c3.connections, c3.table, c3.connected, c3.fan_in) == ("table", LENET_C3, 60, 6 * 16)
    assert [s.kind for s in spec.shapes] == ["input", "conv", "avgpool", "conv", "avgpool", "conv", "full", "output"]
    assert [s.size for s in spec.shapes] == [29, 26, 13, 10, 5, 1, 1, 1]


def test_table_weights_are_connections_times_taps_plus_biases():
    spec = NetworkSpec("t", (Input(3, 6), Conv(4, 3, "table", table=[[2, 0], [1], [0, 1, 2], [1, 2]]), Output(2)))
    conv = spec.shapes[1]
    assert conv.table == ((0, 2), (1,), (0, 1, 2), (1, 2))  # rows sorted
    assert conv.weights == (2 + 1 + 3 + 2) * 9 + 4
    assert conv.fan_in == 3 * 9 and conv.connected == 8
    assert spec.shapes[2].fan_in == 4 * 4 * 4  # the output still sees every neuron


def test_random_fan_in_is_seeded_and_reproducible():
    a, b = parse_notation("2x10x10-6C3-8C3r4-10N", seed=7), parse_notation("2x10x10-6C3-8C3r4-10N", seed=7)
    c = parse_notation("2x10x10-6C3-8C3r4-10N", seed=8)
    table = a.shapes[2].table
    assert table == b.shapes[2].table and table != c.shapes[2].table
    assert len(table) == 8 and all(len(row) == 4 == len(set(row)) and row == tuple(sorted(row)) for row in table)
    assert all(0 <= m < 6 for row in table for m in row)
    assert a.shapes[2].weights == 8 * 4 * 9 + 8


def test_random_table_is_splitmix64_with_a_partial_fisher_yates_shuffle():
    """The documented draw, independent of NumPy's versions: SplitMix64 (Vigna's reference gives
    0xE220A8397B1DCDAF first from state 0) seeded with seed * 0xD1B54A32D192ED03 + layer."""
    assert next(_splitmix64(0)) == 0xE220A8397B1DCDAF
    mask = (1 << 64) - 1

    def reference(seed, layer, in_maps, maps, fan_in):
        state, rows = (seed * 0xD1B54A32D192ED03 + layer) & mask, []
        for _ in range(maps):
            pool = list(range(in_maps))
            for k in range(fan_in):
                state = (state + 0x9E3779B97F4A7C15) & mask
                z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
                j = k + (z ^ (z >> 31)) % (in_maps - k)
                pool[k], pool[j] = pool[j], pool[k]
            rows.append(tuple(sorted(pool[:fan_in])))
        return tuple(rows)

    for args in [(0, 3, 20, 40, 10), (7, 1, 6, 16, 3), (2**40, 9, 5, 3, 5)]:
        assert random_table(*args) == reference(*args)


def test_random_draws_are_roughly_uniform():
    counts = [0] * 10
    for row in random_table(1, 1, 10, 2000, 3):
        for m in row:
            counts[m] += 1
    assert all(abs(c / 6000 - 0.1) < 0.015 for c in counts), counts


def test_notation_round_trip_with_random_fan_in_and_average_pooling():
    spec = parse_notation("29x29-20C4-AP2-40C5r10-MP3-150N-10N")
    assert spec.notation() == "1x29x29-20C4-AP2-40C5r10-MP3-150N-10N"
    assert isinstance(spec.layers[2], AvgPool) and spec.layers[3] == Conv(40, 5, "random", 10)
    assert parse_notation(spec.notation()).layers == spec.layers


@pytest.mark.parametrize("spec", [
    NetworkSpec("lenet", load_toml(EXAMPLE).layers, "tanh"),
    parse_notation("2x10x10-6C3-AP2-8C3r4-MP2-10N", name="r.x", seed=12),
    NetworkSpec('q"uote', (Input(2, 5), Conv(3, 2, "table", table=((1,), (0, 1), (0,))), AvgPool(2), Output(2)),
                seed=3),
])
def test_toml_round_trip_keeps_tables_seed_and_pooling(tmp_path, spec):
    path = tmp_path / "net.toml"
    path.write_text(spec_to_toml(spec), encoding="utf-8")
    back = load_toml(path)
    assert back == spec and back.shapes == spec.shapes


def test_average_pooling_shapes():
    spec = NetworkSpec("a", (Input(1, 12), Conv(2, 3), AvgPool(5), Output(3)))
    pool = spec.shapes[2]
    assert (pool.kind, pool.size, pool.kernel, pool.fan_in, pool.weights) == ("avgpool", 2, 5, 25, 0)
    with pytest.raises(CnnperfError, match="pooling size 3 does not divide the 10x10 map"):
        NetworkSpec("a", (Input(1, 12), Conv(2, 3), AvgPool(3), Output(3)))
    with pytest.raises(CnnperfError, match="average pooling after a fully connected layer"):
        NetworkSpec("a", (Input(1, 12), Full(3), AvgPool(1), Output(3)))


def conv(**kw):
    return NetworkSpec("bad", (Input(4, 8), Conv(**{"maps": 3, "kernel": 3, **kw}), Output(2)))


@pytest.mark.parametrize("kw, message", [
    ({"connections": "table", "table": [[0], [1], [4]]}, "table row 2 names input map 4, but the input has 4 maps"),
    ({"connections": "table", "table": [[0], [-1], [1]]}, "table row 1 names input map -1"),
    ({"connections": "table", "table": [[0], ["a"], [1]]}, "table row 1 names input map 'a'"),
    ({"connections": "table", "table": [[0], [], [1]]}, "table row 1 is empty"),
    ({"connections": "table", "table": [[0], [1, 2, 1], [3]]}, "table row 1 names input map 1 twice"),
    ({"connections": "table", "table": [[0], [1]]}, "the table has 2 rows but the layer has 3 maps"),
    ({"connections": "table"}, 'connections = "table" needs a table'),
    ({"connections": "random", "fan_in": 5}, "fan_in 5 must lie in 1..4"),
    ({"connections": "random", "fan_in": 0}, "fan_in 0 must lie in 1..4"),
    ({"connections": "sparse"}, "unknown connection type 'sparse'; use full, random or table"),
    ({"table": [[0], [1], [2]]}, 'a table needs connections = "table"'),
    ({"fan_in": 2}, 'fan_in is only for connections = "random"'),
    ({"connections": "table", "table": [1, 2, 3]}, "a connection table is a list of lists"),
])
def test_bad_connections_are_refused_in_one_line(kw, message):
    with pytest.raises(CnnperfError, match=message) as info:
        conv(**kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed(seed):
    with pytest.raises(CnnperfError, match="seed must be a non-negative integer"):
        NetworkSpec("s", (Input(1, 5), Output(2)), seed=seed)


def toml(tmp_path, conv_lines: str, head: str = "") -> Path:
    path = tmp_path / "net.toml"
    path.write_text(f"{head}\n[[layers]]\ntype = 'input'\nmaps = 4\nsize = 8\n\n[[layers]]\ntype = 'conv'\nmaps = 3\n"
                    f"kernel = 3\n{conv_lines}\n\n[[layers]]\ntype = 'output'\nneurons = 2\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("lines, message", [
    ("connections = 'random'", 'connections = "random" needs fan_in'),
    ("connections = 'random'\nfan_in = 'two'", "fan_in must be an integer"),
    ("connections = 3", "connections must be a string"),
    ("connections = 'table'\ntable = [1, 2, 3]", "table must be a list of lists"),
    ("connections = 'table'\ntable = [[0], [1], [9]]", "table row 2 names input map 9"),
    ("table = [[0], [1], [2]]", 'a table needs connections = "table"'),
    ("fanin = 2", "unknown key 'fanin'"),
])
def test_bad_toml_connections(tmp_path, lines, message):
    with pytest.raises(CnnperfError, match=message):
        load_toml(toml(tmp_path, lines))


def test_toml_random_uses_the_network_seed(tmp_path):
    a = load_toml(toml(tmp_path, "connections = 'random'\nfan_in = 2", "seed = 5"))
    assert a.seed == 5 and a == parse_notation("4x8x8-3C3r2-2N", name="net", seed=5)
    with pytest.raises(CnnperfError, match="seed must be a non-negative integer"):
        load_toml(toml(tmp_path, "", "seed = -2"))


@pytest.mark.parametrize("text, message", [
    ("29x29-16C5t60-10N", "connection tables need a TOML file"),
    ("29x29-16C5r-10N", "unknown layer '16C5r'"),
    ("29x29-AP-10N", "unknown layer 'AP'"),
    ("4x8x8-3C3r5-2N", "fan_in 5 must lie in 1..4"),
])
def test_bad_notation_for_connections(text, message):
    with pytest.raises(CnnperfError, match=message):
        parse_notation(text)


def test_maxpool_and_avgpool_are_distinct_layers():
    assert MaxPool(2) != AvgPool(2)
    assert parse_notation("8x8-MP2-2N").layers[1] == MaxPool(2)
