"""Engine units: layout alignment, activations, float32 vs float64, determinism, layer_params."""

from pathlib import Path

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.engine.kernels.activations import tanh_approx
from cnnperf.networks import load_toml, parse_notation, preset, resolve_network


def test_tanh_approximation_error():
    x = np.linspace(-12, 12, 200_001).astype(np.float32)
    approx = np.array([tanh_approx(v) for v in x[::50]], dtype=np.float64)
    assert np.abs(approx - np.tanh(x[::50].astype(np.float64))).max() < 1e-6


@pytest.mark.parametrize("net", ["small", "medium", "large"])
def test_layout_blocks_are_64_byte_aligned_and_disjoint(net):
    layout = engine.build_layout(preset(net))
    w = engine.init_weights(layout, 0)
    assert w.ctypes.data % 64 == 0
    seen = np.zeros(w.size, bool)
    for i in engine.weighted_layers(layout):
        for sl in layout.weight_slices(i):
            assert sl.start % 16 == 0
            assert not seen[sl].any()
            seen[sl] = True
    assert seen.sum() == preset(net).n_weights


def test_table_layer_params_and_dense_weights():
    spec = load_toml(EXAMPLE)
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 0)
    W, b = engine.layer_params(layout, w, 3)
    assert W.shape == (60, 4, 4) and b.shape == (16,) and np.shares_memory(W, w)
    dense = engine.dense_conv_weights(layout, w, 3)
    assert dense.shape == (16, 6, 4, 4)
    assert np.array_equal(dense[0, 1], W[1]) and np.array_equal(dense[15, 5], W[59])  # row 0 is (0, 1, 2)
    assert not dense[0, 3:].any() and np.count_nonzero(dense.reshape(96, 16).any(axis=1)) == 60
    # each output map's weights in +-1/sqrt(its fan-in): three inputs (48) vs six (96)
    assert np.abs(W[:3]).max() <= np.sqrt(3 / 48) and np.abs(W[54:]).max() <= np.sqrt(3 / 96)
    assert np.abs(W[:3]).max() > np.sqrt(3 / 96)


def test_layer_params_torch_shapes_are_views():
    spec = preset("medium")
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 0)
    W, b = engine.layer_params(layout, w, 3)
    assert W.shape == (40, 20, 5, 5) and b.shape == (40,)
    W[0, 0, 0, 0] = 123.0
    assert 123.0 in w
    W, b = engine.layer_params(layout, w, 5)
    assert W.shape == (150, 360)


def test_seeded_init_is_reproducible_and_in_range():
    layout = engine.build_layout(preset("small"))
    a, b, c = (engine.init_weights(layout, s) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    W, _ = engine.layer_params(layout, a, 5)
    assert np.abs(W).max() <= np.sqrt(3 / 90) + 1e-7


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 29, 29)).astype(np.float32), rng.integers(0, 10, n)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"


@pytest.mark.parametrize("net", ["small", "medium", "large", "lenet5-c3", "1x29x29-20C4-MP2-40C5r10-MP3-150N-10N"])
def test_float32_matches_float64_path(net):
    """Training steps in float32 (tanh approximation) track the float64 check path."""
    spec = load_toml(EXAMPLE) if net == "lenet5-c3" else resolve_network(net)
    layout = engine.build_layout(spec)
    x, y = _data(5)
    w32 = engine.init_weights(layout, 0)
    w64 = w32.astype(np.float64)
    e32, l32 = engine.train_images(layout, w32, engine.new_workspace(layout), x, y, 0, 5, 0.01)
    e64, l64 = engine.train_images(layout, w64, engine.new_workspace(layout, np.float64), x, y, 0, 5, 0.01)
    assert e32 == e64
    assert l32 == pytest.approx(l64, rel=1e-4)
    moved = np.abs(w64 - w32.astype(np.float64)).max()
    step = np.abs(w64 - engine.init_weights(layout, 0).astype(np.float64)).max()
    assert step > 0 and moved < 1e-3 * step + 1e-6


def test_training_is_bit_reproducible_and_evaluation_does_not_write_weights():
    layout = engine.build_layout(preset("small"))
    x, y = _data(64)
    runs = []
    for _ in range(2):
        w = engine.init_weights(layout, 3)
        ws = engine.new_workspace(layout)
        r = engine.train_images(layout, w, ws, x, y, 0, 64, 0.005)
        before = w.copy()
        ev = engine.evaluate_images(layout, w, ws, x, y, 0, 64)
        assert np.array_equal(before, w)
        runs.append((w, r, ev))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1:] == runs[1][1:]


def test_subrange_and_errors_counted():
    layout = engine.build_layout(preset("small"))
    w = engine.init_weights(layout, 0)
    ws = engine.new_workspace(layout)
    x, y = _data(20)
    e_all, l_all = engine.evaluate_images(layout, w, ws, x, y, 0, 20)
    e1, l1 = engine.evaluate_images(layout, w, ws, x, y, 0, 7)
    e2, l2 = engine.evaluate_images(layout, w, ws, x, y, 7, 20)
    assert e_all == e1 + e2 and l_all == pytest.approx(l1 + l2)
    probs = np.array([engine.forward_image(layout, w, ws, x[k]) for k in range(20)])
    assert np.allclose(probs.sum(axis=1), 1)
    assert e_all == int((probs.argmax(axis=1) != y).sum())
    assert l_all == pytest.approx(-np.log(probs[np.arange(20), y]).sum(), rel=1e-5)


def test_dtype_mismatch_is_refused():
    layout = engine.build_layout(preset("small"))
    with pytest.raises(TypeError):
        engine.train_images(layout, engine.init_weights(layout, 0, np.float64), engine.new_workspace(layout),
                            *_data(2), 0, 2, 0.1)


@pytest.mark.parametrize("bad, message", [
    ({"images": np.zeros((2, 28, 28), np.float32)}, "784 values each, the input layer 841"),
    ({"hi": 3}, "outside the 2 images"),
    ({"lo": -1}, "outside the 2 images"),
    ({"labels": np.array([0, 10])}, "labels must lie in \\[0, 10\\)"),
    ({"labels": np.array([-1, 0])}, "labels must lie in \\[0, 10\\)"),
])
def test_bad_images_labels_or_range_are_refused(bad, message):
    """The kernels index without bounds checks: the wrappers refuse what would write out of bounds."""
    layout = engine.build_layout(preset("small"))
    x, y = _data(2)
    args = {"images": x, "labels": y, "lo": 0, "hi": 2, **bad}
    for call in (lambda: engine.train_images(layout, engine.init_weights(layout, 0), engine.new_workspace(layout),
                                             args["images"], args["labels"], args["lo"], args["hi"], 0.1),
                 lambda: engine.evaluate_images(layout, engine.init_weights(layout, 0), engine.new_workspace(layout),
                                                args["images"], args["labels"], args["lo"], args["hi"])):
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("net", ["1x29x29-5C4-MP2-10N", "1x40x40-3C3-MP2-10N", "1x36x36-2C5-MP2-MP2-10N",
                                 "1x29x29-3C3-MP3-10N", "1x29x29-3C5-MP5-10N"])
def test_max_pooling_keeps_the_first_maximum_of_every_window(net):
    """2x2 windows go a vector at a time (rows of 13, 19 and 16 windows: a partial vector, two
    vectors, a whole one), 3x3 unrolled, others by the general loop; blank image regions (equal
    convolution outputs) and ReLU zeros tie often, where the first maximum must win. A convolution's
    outputs stay before the activation and the pooling activates its maxima (ReLU here)."""
    from cnnperf.engine.kinds import KIND_CONV, KIND_MAXPOOL
    from cnnperf.engine.layout import A_OFF, ARG_OFF, KERNEL, KIND, MAPS, SIZE
    spec = parse_notation(net, activation="relu")
    layout = engine.build_layout(spec)
    w, ws = engine.init_weights(layout, 3), engine.new_workspace(layout)
    rng = np.random.default_rng(5)
    size = spec.shapes[0].size
    cells = np.kron(rng.random((4, 4)) < 0.5, np.ones((10, 10)))[:size, :size]  # blank regions: equal outputs
    image = (rng.random((size, size)) * cells).astype(np.float32)
    engine.forward_image(layout, w, ws, image)
    d, ties = layout.desc, 0
    for i in range(1, len(spec.shapes)):
        if d[i, KIND] != KIND_MAXPOOL:
            continue
        M, Q, H, S = d[i, MAPS], d[i, SIZE], d[i - 1, SIZE], d[i, KERNEL]
        x = ws.act[d[i - 1, A_OFF]:d[i - 1, A_OFF] + M * H * H].reshape(M, Q, S, Q, S)
        windows = x.transpose(0, 1, 3, 2, 4).reshape(M, Q, Q, S * S)  # in-window order: row by row
        first = windows.argmax(axis=3)  # NumPy: the first maximum
        oy, ox = np.meshgrid(np.arange(Q), np.arange(Q), indexing="ij")
        want = (S * oy + first // S) * H + S * ox + first % S
        got_max = ws.act[d[i, A_OFF]:d[i, A_OFF] + M * Q * Q].reshape(M, Q, Q)
        got_arg = ws.arg[d[i, ARG_OFF]:d[i, ARG_OFF] + M * Q * Q].reshape(M, Q, Q)
        want_max = windows.max(axis=3)
        if d[i - 1, KIND] == KIND_CONV:
            want_max = np.maximum(want_max, np.float32(0))
        assert np.array_equal(got_max, want_max) and np.array_equal(got_arg, want)
        ties += int(((windows == windows.max(axis=3, keepdims=True)).sum(axis=3) > 1).sum())
    assert ties > 10  # the case the test is about did occur


@pytest.mark.parametrize("net", ["1x29x29-3C4-AP2-10N", "1x36x36-2C3-AP2-10N", "1x34x34-2C3-AP2-10N",
                                 "1x70x70-1C3-AP2-10N", "1x29x29-2C4-AP2-AP13-10N"])
def test_average_pooling_2x2_sums_each_window_in_one_order(net):
    """2x2 average pooling goes a vector at a time (rows of 13, 17, 16 and 34 windows: a partial
    vector, a whole one and more, a second pooling on the first), each row's last vector stored
    masked: every output is ((a + b) + (c + d)) / 4 of its window."""
    from cnnperf.engine.kinds import KIND_AVGPOOL
    from cnnperf.engine.layout import A_OFF, KERNEL, KIND, MAPS, SIZE
    spec = parse_notation(net, activation="tanh")
    layout = engine.build_layout(spec)
    w, ws = engine.init_weights(layout, 3), engine.new_workspace(layout)
    image = np.random.default_rng(6).random((spec.shapes[0].size,) * 2).astype(np.float32)
    engine.forward_image(layout, w, ws, image)
    d, checked = layout.desc, 0
    for i in range(1, len(spec.shapes)):
        if d[i, KIND] != KIND_AVGPOOL or d[i, KERNEL] != 2:
            continue
        M, Q, H = d[i, MAPS], d[i, SIZE], d[i - 1, SIZE]
        x = ws.act[d[i - 1, A_OFF]:d[i - 1, A_OFF] + M * H * H].reshape(M, Q, 2, Q, 2)
        want = ((x[:, :, 0, :, 0] + x[:, :, 0, :, 1]) + (x[:, :, 1, :, 0] + x[:, :, 1, :, 1])) * np.float32(0.25)
        assert np.array_equal(ws.act[d[i, A_OFF]:d[i, A_OFF] + M * Q * Q].reshape(M, Q, Q), want)
        checked += 1
    assert checked
