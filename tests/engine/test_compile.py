"""What a run compiles (issue 15, cold start): one specialisation per kernel, no Python entry for
the kernels only other kernels call."""

import os
import subprocess
import sys

import pytest

# a direct first convolution with a dense delta, an im2col convolution under max pooling, an
# im2col convolution with a dense delta and an input delta (col2im of every pixel)
NET = "1x13x13-3C2-4C3-MP2-3C2-4N"

CHILD = f"""
import sys
import numpy as np
from numba.core.registry import CPUDispatcher
from cnnperf import engine
from cnnperf.networks import resolve_network
layout = engine.build_layout(resolve_network({NET!r}))
assert layout.groups == {{"dense", "direct_dense"}}
w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
x = np.random.default_rng(0).random((2, 13, 13), dtype=np.float32)
y = np.array([1, 3])
engine.train_images(layout, w, ws, x, y, 0, 2, 0.01)
engine.evaluate_images(layout, w, ws, x, y, 0, 2)
seen = {{}}
for name, mod in list(sys.modules.items()):
    if name.startswith("cnnperf.engine.kernels"):
        for attr, d in vars(mod).items():
            if isinstance(d, CPUDispatcher) and d.overloads:
                seen[id(d)] = (f"{{name}}.{{attr}}", [str(s) for s in d.overloads])
print(len(seen))
for k, sigs in seen.values():
    if len(sigs) > 1:
        print(k, *sigs, sep="\\n  ")
"""


def test_a_run_compiles_one_specialisation_per_kernel(tmp_path):
    """On a cold cache every kernel is compiled for one set of argument types (literal arguments,
    or loop variables typed literal on inference's first pass, would compile it once more)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert res.returncode == 0, res.stderr
    count, *twice = res.stdout.strip().splitlines()
    assert int(count) > 10  # the kernels were compiled here (a cold cache), not loaded
    assert not twice, "\n".join(twice)


def test_inner_kernels_refuse_python_calls():
    from cnnperf.engine.kernels.gemm import padded_f
    from cnnperf.engine.layers import col2im
    with pytest.raises(TypeError, match="calls from Numba kernels only"):
        padded_f(5)
    with pytest.raises(TypeError, match="col2im is compiled for calls from Numba kernels only"):
        col2im(None, 1, 2, 2, None, 0, None, -1)
