"""profile_layers: the same training as train_images, timed per layer with the cycle counter."""

import subprocess
import sys

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import parse_notation, preset


def data(spec, n, seed=0):
    rng = np.random.default_rng(seed)
    s0 = spec.shapes[0]
    return rng.uniform(0, 1, (n, s0.maps, s0.size, s0.size)).astype(np.float32), rng.integers(0, spec.n_classes, n)


@pytest.mark.parametrize("net, dtype", [("medium", np.float32), ("small", np.float64),
                                        ("1x9x9-2C2-MP2-MP2-4N-3N", np.float32),
                                        ("1x29x29-20C4-MP2-40C5r10-MP3-150N-10N", np.float32),
                                        ("1x29x29-6C4-AP2-16C4r3-AP2-120C5-84N-10N", np.float64)])
def test_profile_trains_bit_identically_to_train_images(net, dtype):
    spec = preset(net) if "x" not in net else parse_notation(net, seed=1)
    layout = engine.build_layout(spec)
    x, y = data(spec, 40)
    w_plain, w_prof = engine.init_weights(layout, 4, dtype), engine.init_weights(layout, 4, dtype)
    e, loss = engine.train_images(layout, w_plain, engine.new_workspace(layout, dtype, (1, 2)), x, y, 3, 40, 0.01)
    times = engine.profile_layers(layout, w_prof, engine.new_workspace(layout, dtype, (1, 2)), x, y, 3, 40, 0.01)
    assert np.array_equal(w_plain, w_prof)
    assert (times.errors, times.loss) == (e, loss) and times.images == 37


def test_layer_times_are_positive_and_add_up():
    spec = preset("medium")
    layout = engine.build_layout(spec)
    x, y = data(spec, 60)
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    engine.profile_layers(layout, w, ws, x, y, 0, 5, 0.01)  # compile / load outside the measured call
    runs = [engine.profile_layers(layout, w, ws, x, y, 0, 60, 0.01) for _ in range(3)]
    for t in runs:
        assert 1e8 < 1 / t.seconds_per_tick < 1e10 and 0 < t.counter_ticks < 1000
        assert len(t.forward_s) == len(t.backward_s) == len(spec.shapes) and t.forward_s[0] == t.backward_s[0] == 0
        assert t.layers_s + t.remainder_s == pytest.approx(t.total_s)
        assert t.remainder_s > -0.01 * t.total_s
    # interference (a preempted vCPU, an interrupt) only adds time: the bounds below hold for the
    # quietest of three runs, so one stalled region does not fail them
    for p in engine.layer_paths(spec):
        assert all(t.forward_s[p.index] > 0 for t in runs), p
        if p.backward == "fused":  # nothing runs: only what is left of the counter's cost
            assert min(abs(t.backward_s[p.index]) / t.total_s for t in runs) < 0.01, p
        else:
            assert all(t.backward_s[p.index] > 0 for t in runs), p
    # the layers cover the loop: copy-in, softmax and loop overhead are a small remainder
    assert min(t.remainder_s / t.total_s for t in runs) < 0.05


def test_the_profiled_loop_compiles_only_when_used():
    code = (
        "import numpy as np\n"
        "from cnnperf import engine\n"
        "from cnnperf.engine.kernels import profile\n"
        "from cnnperf.networks import preset\n"
        "layout = engine.build_layout(preset('small'))\n"
        "w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)\n"
        "x, y = np.zeros((2, 29, 29), np.float32), np.zeros(2, np.int64)\n"
        "engine.train_images(layout, w, ws, x, y, 0, 2, 0.01)\n"
        "assert not profile.train_images_profiled.signatures\n"
        "engine.profile_layers(layout, w, ws, x, y, 0, 2, 0.01)\n"
        "assert len(profile.train_images_profiled.signatures) == 1\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
