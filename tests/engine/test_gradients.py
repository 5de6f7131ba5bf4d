"""Every backward pass against central finite differences (float64 check path)."""

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import AvgPool, Conv, Input, MaxPool, NetworkSpec, Output, parse_notation, preset

# Tiny networks that together exercise every kernel path: direct first-layer conv under
# pooling (sparse) and without (dense), im2col conv under pooling and dense with input
# delta (col2im), pooling after pooling (dense scatter), fully connected and output layers.
TINY = {
    "direct-pooled": "1x8x8-3C3-MP2-4N-3N",
    "direct-dense": "1x7x7-2C3-3C2-MP2-5N-3N",
    "im2col-dense-dx": "1x10x10-2C2-3C3-2C2-MP2-3N",
    "pool-after-pool": "1x9x9-2C2-MP2-MP2-4N-3N",
    "multi-map-input": "2x6x6-3C2-MP5-3N",
    "full-only": "1x4x4-6N-5N-3N",
    # average pooling: after a direct conv and before a fully connected layer; on the image;
    # max pooling after average pooling (dense scatter) and average after max (fused conv backward)
    "avgpool-after-conv-before-full": "1x8x8-3C3-AP2-4N-3N",
    "avgpool-after-gemm-conv": "1x10x10-2C2-3C3-AP7-3N",
    "avgpool-on-image": "1x8x8-AP2-3C2-3N",
    "maxpool-after-avgpool": "1x12x12-2C3-AP2-MP5-3N",
    "avgpool-after-maxpool": "1x12x12-2C3-MP2-AP5-3N",
    # 2x2 average pooling over rows of 13 and 17 windows (vectors of 16 or 8 lanes, doubled into two
    # vectors per input row, and masked tails)
    "avgpool-rows-of-13": "1x28x28-1C3-AP2-3N",
    "avgpool-rows-of-17": "1x36x36-1C3-AP2-3N",
    # random connection tables: dense delta (under average pooling) and under max pooling
    "random-dense-dx": "1x9x9-3C2-AP2-4C3r2-4N-3N",
    # a dense delta into 20-wide output rows: two 16-lane adds per row in col2im_t, in two passes of rows
    "random-dense-dx-wide": "1x23x23-2C2-3C3r1-AP2-3N",
    "random-pooled-dx": "1x12x12-4C3-6C3r2-MP2-5N-3N",
    # a 9 x 9 output (81 = 5 x 16 + 1): the lone last pixel as dot products in the forward
    "random-lone-pixel": "1x13x13-2C3-3C3r1-MP3-3N",
    # under max pooling with 9-tap kernel rows: two 8-lane pieces per row, the second masked to one tap
    "random-pooled-dx-wide": "1x20x20-2C3-3C9r1-MP2-3N",
    # the input delta by regions of R = S + K - 1 rows: R = 7 (medium-r10's), R = 8; R = 9 row by row
    "random-pooled-regions-7": "1x17x17-2C2-4C5r2-MP3-3N",
    "random-pooled-regions-8": "1x18x18-2C3-4C5r1-MP4-3N",
    "random-pooled-rows-9": "1x20x20-2C2-3C5r1-MP5-3N",
    # a convolution whose kernel covers its input (1x1 output: backward as a fully connected layer),
    # with an input delta after average or max pooling, and as layer 1 on a two-map image
    "whole-map-conv-dx": "1x8x8-2C3-AP2-4C3-3N",
    "whole-map-conv-before-full": "1x10x10-3C3-MP2-5C4-4N-3N",
    "whole-map-conv-first": "2x5x5-4C5-3N",
    # a first layer of 6 and 5 maps: a tile of four maps, then one holding the last maps and clamped duplicates
    "direct-pooled-six-maps": "1x8x8-6C3-MP2-3N",
    "direct-dense-five-maps": "1x7x7-5C3-2C2-3N",
}

# Connection tables given explicitly: rows of different lengths, an input map no output map
# reads, at layer 1 (no input delta) and deeper, dense delta and under max pooling.
ROWS = ((0, 2), (1,), (0, 1, 3), (2, 3), (0,))  # 5 output maps reading 1-3 of 4 input maps


def table_net(pool, first: bool) -> NetworkSpec:
    """The table convolution (6x6 output) at layer 1 on a 4-map input, or at layer 2; then pooling."""
    layers = (Input(4, 8), Conv(5, 3, "table", table=ROWS)) if first else \
        (Input(1, 10), Conv(4, 3), Conv(5, 3, "table", table=ROWS))
    return NetworkSpec("table", (*layers, pool(3 if pool is MaxPool else 6), Output(3)))


TABLES = {
    "table-layer1-pooled": table_net(MaxPool, True),
    "table-layer1-dense": table_net(AvgPool, True),
    "table-deep-pooled": table_net(MaxPool, False),
    "table-deep-dense": table_net(AvgPool, False),
    "table-unread-input": NetworkSpec("unread", (
        Input(1, 9), Conv(3, 2), Conv(4, 3, "table", table=((0,), (0, 1), (1,), (0, 1))), MaxPool(2), Output(3))),
}


def fd_check(spec: NetworkSpec, indices=None, seed=0, h=1e-5):
    layout = engine.build_layout(spec)
    rng = np.random.default_rng(seed)
    w = engine.init_weights(layout, seed, np.float64)
    s0 = spec.shapes[0]
    x = rng.uniform(0, 1, (s0.maps, s0.size, s0.size)) if s0.maps > 1 else rng.uniform(0, 1, (s0.size, s0.size))
    label = int(rng.integers(spec.n_classes))
    loss, grad = engine.loss_and_gradient(layout, w, x, label)
    assert loss == pytest.approx(engine.loss_only(layout, w, x, label), rel=1e-12)
    if indices is None:
        slices = [sl for i in engine.weighted_layers(layout) for sl in layout.weight_slices(i)]
        indices = [j for sl in slices for j in range(sl.start, sl.stop)]
    worst = 0.0
    for j in indices:
        wp, wm = w.copy(), w.copy()
        wp[j] += h
        wm[j] -= h
        fd = (engine.loss_only(layout, wp, x, label) - engine.loss_only(layout, wm, x, label)) / (2 * h)
        err = abs(fd - grad[j]) / max(abs(fd), abs(grad[j]), 1e-4)  # floor: FD round-off ~1e-11
        worst = max(worst, err)
    return worst, grad


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("activation", ["scaled_tanh", "tanh", "sigmoid"])
def test_tiny_networks_every_weight(name, activation):
    spec = parse_notation(TINY[name], activation=activation)
    worst, grad = fd_check(spec)
    assert worst < 1e-5, f"{name}/{activation}: max relative FD error {worst:.2e}"
    assert np.abs(grad).max() > 0  # the check is not vacuous


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("activation", ["scaled_tanh", "relu"])
def test_connection_tables_every_weight(name, activation):
    spec = TABLES[name]
    spec = NetworkSpec(spec.name, spec.layers, activation)
    paths = {p.index: p for p in engine.layer_paths(spec)}
    assert any(p.forward == "conv_table" for p in paths.values())
    worst, grad = fd_check(spec, seed=2)
    assert worst < 1e-5, f"{name}/{activation}: max relative FD error {worst:.2e}"
    assert np.abs(grad).max() > 0


@pytest.mark.parametrize("notation", [
    "1x16x16-3C3-9C5r2-AP2-3N",  # K = 5 (odd taps), 9 maps (groups of four and single maps), 100 pixels -> 112
    "1x16x16-3C3-9C5r2-MP2-3N",  # the same under max pooling: 16-lane windows of 61 values
    "1x20x20-2C3-3C9r1-MP2-3N",  # K = 9: two 8-lane vectors per kernel row
    "1x12x12-3C3-7C3r2-MP2-4N-3N",  # K = 3, 64 pixels
])
def test_random_tables_sampled_weights(notation):
    spec = parse_notation(notation, activation="tanh", seed=3)
    layout = engine.build_layout(spec)
    rng = np.random.default_rng(5)
    indices = []
    for i in engine.weighted_layers(layout):
        ws, bs = layout.weight_slices(i)
        pool = np.arange(ws.start, ws.stop)
        indices += list(rng.choice(pool, min(60, pool.size), replace=False)) + [bs.start, bs.stop - 1]
    worst, _ = fd_check(spec, indices, seed=1)
    assert worst < 1e-5, f"{notation}: max relative FD error {worst:.2e}"


def test_relu_gradient():
    worst, _ = fd_check(parse_notation("1x8x8-3C3-MP2-4N-3N", activation="relu"), seed=3)
    assert worst < 1e-5


def test_padding_between_layers_gets_no_gradient():
    spec = preset("small")
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 1, np.float64)
    _, grad = engine.loss_and_gradient(layout, w, np.full((29, 29), 0.5), 4)
    used = np.zeros(grad.size, bool)
    for i in engine.weighted_layers(layout):
        for sl in layout.weight_slices(i):
            used[sl] = True
    assert not grad[~used].any() and np.count_nonzero(grad[used]) > 0.9 * used.sum()


@pytest.mark.parametrize("net,per_layer", [("small", None), ("medium", 40), ("large", 25)])
def test_presets_full_gradient(net, per_layer):
    """Small: every weight. Medium/large: a seeded sample of weights and all biases' first entries per layer."""
    spec = preset(net)
    layout = engine.build_layout(spec)
    indices = None
    if per_layer:
        rng = np.random.default_rng(7)
        indices = []
        for i in engine.weighted_layers(layout):
            ws, bs = layout.weight_slices(i)
            drawn = rng.choice(np.arange(ws.start, ws.stop), per_layer, replace=False)
            indices += list(drawn) + [bs.start, bs.stop - 1]
    worst, _ = fd_check(spec, indices)
    assert worst < 1e-5, f"{net}: max relative FD error {worst:.2e}"
