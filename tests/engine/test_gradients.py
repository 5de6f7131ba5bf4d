"""Every backward pass against central finite differences (float64 check path)."""

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import NetworkSpec, parse_notation, preset

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
        indices = [j for i in engine.weighted_layers(layout) for sl in layout.weight_slices(i) for j in range(sl.start, sl.stop)]
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
            indices += list(rng.choice(np.arange(ws.start, ws.stop), per_layer, replace=False)) + [bs.start, bs.stop - 1]
    worst, _ = fd_check(spec, indices)
    assert worst < 1e-5, f"{net}: max relative FD error {worst:.2e}"
