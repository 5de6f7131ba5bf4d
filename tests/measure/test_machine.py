"""The machine-model grid: the design spans the layer shapes of MNIST-scale CNNs, and a small
calibration on the real engine gives a model whose per-layer costs follow directly timed layers."""

import numpy as np
import pytest

from cnnperf.engine.paths import layer_paths
from cnnperf.fileio import ResumableState
from cnnperf.measure.machine import MAX_MACS, GridConfig, calibrate_machine_model, design, train_macs
from cnnperf.networks import preset
from cnnperf.networks.random import random_networks

pytestmark = pytest.mark.xdist_group("test_machine")  # one worker: its module-scoped fixtures run once

TYPICAL = [preset(n) for n in ("small", "medium", "large")] + list(random_networks(12345, 40))


def _conv_shapes(specs, path):
    return [(lp.C, lp.M, lp.K, lp.H) for s in specs for lp in layer_paths(s) if lp.forward == path]


def test_design_is_seeded_valid_and_cheap():
    a, b = design(60, seed=3), design(60, seed=3)
    assert [s.notation() for s in a] == [s.notation() for s in b]
    assert len({s.notation() for s in a}) == len(a) >= 60 and all(train_macs(s) <= MAX_MACS for s in a)
    from cnnperf.measure.machine import MIN_PER_PATH, PATHS, _paths
    for n in (12, 30, 60):  # even a small grid times every kernel path
        grid = design(n, seed=5)
        assert all(sum(p in _paths(s) for s in grid) >= MIN_PER_PATH for p in PATHS), n
    assert [s.notation() for s in design(60, seed=4)] != [s.notation() for s in a]


def test_the_default_grid_spans_the_shapes_of_typical_networks():
    """Every kernel path of the presets and of 40 random networks is in the grid, and their
    convolution shapes (input maps, maps, kernel, map size) lie inside the grid's ranges."""
    grid = design(GridConfig().probes, GridConfig().seed)
    paths = {(lp.forward, lp.backward) for s in grid for lp in layer_paths(s)}
    needed = {(lp.forward, lp.backward) for s in TYPICAL for lp in layer_paths(s)}
    assert needed <= paths, needed - paths
    for path in ("conv_gemm", "conv_direct"):
        g, t = np.array(_conv_shapes(grid, path)), np.array(_conv_shapes(TYPICAL, path))
        assert (t.min(axis=0) >= g.min(axis=0)).all() and (t.max(axis=0) <= g.max(axis=0)).all(), path
    for config in (GridConfig(), GridConfig.quick()):  # weights per layer (the update's cost) too
        grid = design(config.probes, config.seed)
        for path in ("conv_gemm_pooled", "conv_gemm_dense", "full"):
            g = max(lp.weights_written for s in grid for lp in layer_paths(s) if lp.backward == path)
            t = max(lp.weights_written for s in TYPICAL for lp in layer_paths(s) if lp.backward == path)
            assert t <= 2 * g, (config.probes, path, t, g)  # within the extrapolation warning's factor


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    state = ResumableState(tmp_path_factory.mktemp("mm") / "state.json", "test")
    config = GridConfig(probes=36, region_s=0.01, contention_nets=3, prep_nets=3, seed=1)
    return calibrate_machine_model((1, 2), 2, True, state, lambda m: None, None, config), state


def test_a_small_calibration_covers_the_kernels_and_resumes(small_model):
    model, state = small_model
    assert {"forward:conv_gemm", "backward:conv_gemm_pooled", "forward:conv_direct", "forward:full",
            "backward:output"} <= set(model.kernels)
    assert all(k.points >= 1 and all(c >= 0 for c in k.coefficients) for k in model.kernels.values())
    assert model.contention.threads == (1, 2) and model.contention.networks == 3
    assert isinstance(state.get("machine-protocol"), dict)  # the protocol's blocks: an interruption resumes
    layers = state.get("machine/layers")
    assert len(layers) >= 36 and all(len(blocks) >= 3 for blocks in layers)  # per-layer times of every block


def test_per_layer_costs_follow_directly_timed_layers(small_model):
    """A network outside the grid, timed layer by layer with the real kernels: the model's share of
    each big layer and its whole train step agree with the timing (loosely: the machine is shared)."""
    from cnnperf import engine
    from cnnperf.measure.quantities import synthetic_images
    model, _ = small_model
    spec = preset("medium")
    layout = engine.build_layout(spec)
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    x, y = synthetic_images(300, spec)
    engine.profile_layers(layout, w, ws, x, y, 0, 30, 1e-4)
    timed = [engine.profile_layers(layout, w, ws, x, y, 0, 300, 1e-4) for _ in range(3)]
    fwd = np.median([t.forward_s for t in timed], axis=0) / 300
    bwd = np.median([t.backward_s for t in timed], axis=0) / 300
    cost = model.network_cost(spec)
    predicted = sum(c.forward_s + c.backward_s for c in cost.layers)
    assert 0.5 < predicted / float(fwd.sum() + bwd.sum()) < 2.0
    for c in cost.layers:
        measured = fwd[c.index] + bwd[c.index]
        if measured > 0.2 * (fwd.sum() + bwd.sum()):  # the layers that matter
            assert 1 / 3 < (c.forward_s + c.backward_s) / measured < 3, c
