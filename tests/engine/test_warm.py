"""Compiling a run's kernels with two cores (engine.warm, issue 15 cold start): a helper process
compiles the convolutions' backward unit into the cache, and the run computes exactly what a compile in one
process gives."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.engine import warm
from cnnperf.engine.kernels import linkonly
from cnnperf.networks import resolve_network

# the smallest compile: convolutions under max pooling only (no kernel groups)
NET = "1x13x13-3C2-MP2-4C3-MP2-4N"

CHILD = """
import json, sys
import numpy as np
from cnnperf import engine
from cnnperf.engine import warm
from cnnperf.engine.kernels import network
from cnnperf.networks import resolve_network
mode, net, out = sys.argv[1:]
if mode == "failing-helper":
    warm._HELPER = "import sys; sys.exit(3)"
layout = engine.build_layout(resolve_network(net))
helper = engine.compile_kernels(layout) if mode != "plain" else None
w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
rng = np.random.default_rng(1)
x, y = rng.random((20, 13, 13), dtype=np.float32), rng.integers(0, 4, 20)
engine.train_images(layout, w, ws, x, y, 0, 20, 0.01)
engine.evaluate_images(layout, w, ws, x, y, 0, 20)
np.save(out, w)
kernels = {"forward": network.forward_layer, "backward": network.backward_conv, "other": network.backward_other,
           "loop": network.run_images}
ir = "" if network.run_images._cache_hits else next(iter(network.run_images.overloads.values())).library.get_llvm_str()
units = ("backward_conv", "backward_other", "forward_layer")
calls = sorted({u for line in ir.splitlines() if " call " in line for u in units if u in line})
print(json.dumps({"helper": helper, "overloads": {k: len(d.overloads) for k, d in kernels.items()},
                  "hits": {k: sum(d._cache_hits.values()) for k, d in kernels.items()}, "layer_calls": calls}))
"""

pytestmark = pytest.mark.skipif(not linkonly.SUPPORTED, reason="this Numba compiles kernels as it does by default")


def _run(mode, cache, out):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    res = subprocess.run([sys.executable, "-c", CHILD, mode, NET, str(out)], env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(warm._usable_cpus() < 2, reason="one usable core: no helper process")
def test_a_helper_compiles_the_backward_unit_and_the_run_is_the_same(tmp_path):
    plain = _run("plain", tmp_path / "plain", tmp_path / "plain.npy")
    expected = np.load(tmp_path / "plain.npy")
    two = _run("warm", tmp_path / "two", tmp_path / "two.npy")
    assert two["helper"] is True
    assert two["overloads"] == {"forward": 1, "backward": 1, "other": 1, "loop": 1}  # the helper's types: the loop's
    assert two["hits"]["backward"] == 1 and plain["hits"]["backward"] == 0  # loaded as the helper stored it
    assert np.array_equal(np.load(tmp_path / "two.npy"), expected)
    units = ["backward_conv", "backward_other", "forward_layer"]
    assert plain["layer_calls"] == two["layer_calls"] == units  # the loop calls the units' machine code
    again = _run("warm", tmp_path / "two", tmp_path / "again.npy")  # the loop is cached now: no helper
    assert again["helper"] is False and again["hits"] == {"forward": 1, "backward": 1, "other": 1, "loop": 1}
    assert np.array_equal(np.load(tmp_path / "again.npy"), expected)  # the cached loop loaded its units first
    failed = _run("failing-helper", tmp_path / "failed", tmp_path / "failed.npy")  # only costs time
    assert failed["helper"] is False and failed["hits"]["backward"] == 0 and failed["overloads"]["backward"] == 1
    assert np.array_equal(np.load(tmp_path / "failed.npy"), expected)


def test_one_core_compiles_without_a_helper(monkeypatch):
    from cnnperf.engine.kernels import network

    def no_helper(sig):
        raise AssertionError("a helper was started with one usable core")
    compiled = []
    monkeypatch.setattr(warm, "_usable_cpus", lambda: 1)
    monkeypatch.setattr(warm, "_in_cache", lambda dispatcher, sig: False)
    monkeypatch.setattr(warm, "_start_helper", no_helper)
    monkeypatch.setattr(network.run_images, "compile", compiled.append)  # the loop alone, here
    assert engine.compile_kernels(engine.build_layout(resolve_network(NET))) is False
    assert len(compiled) == 1


def test_the_helper_signature_follows_the_loop_by_name():
    from numba import types

    from cnnperf.engine.kernels import network
    names = warm._params(network.run_images)
    sig = warm._signature(network.backward_conv, names, [types.float32] * len(names))
    assert sig[0] == types.intp and len(sig) == network.backward_conv.py_func.__code__.co_argcount
