"""Link-only inner kernels (issue 15, cold start): their code is optimised and turned into machine
code in their callers only, and a caller compiled against inner kernels from the cache (LLVM
bitcode) trains as one compiled on an empty cache."""

import os
import subprocess
import sys

import numpy as np
import pytest

from cnnperf.engine.kernels import linkonly

pytestmark = pytest.mark.skipif(not linkonly.SUPPORTED, reason="this Numba compiles inner kernels as any kernel")

CHILD = """
import sys
import numpy as np
from numba.core.registry import CPUDispatcher
from cnnperf import engine
from cnnperf.engine.kernels.base import KernelOnly
from cnnperf.networks import resolve_network
net, out = sys.argv[1:3]
layout = engine.build_layout(resolve_network(net))
w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
rng = np.random.default_rng(1)
x, y = rng.random((20, 13, 13), dtype=np.float32), rng.integers(0, 4, 20)
engine.train_images(layout, w, ws, x, y, 0, 20, 0.01)
np.save(out, w)
kinds = set()
for name, mod in list(sys.modules.items()):
    if name.startswith("cnnperf.engine.kernels"):
        for d in vars(mod).values():
            if isinstance(d, KernelOnly):
                kinds |= {type(cres.library).__name__ for cres in d.overloads.values()}
print(*sorted(kinds))
"""

# two group sets: max pooling after im2col convolutions only, then a dense delta and a table
FIRST = "1x13x13-3C2-4C3-MP2-3C2-4N"
SECOND = "1x13x13-4C2-6C3r2-3C2-MP3-4N"


def _train(net, cache, out):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    res = subprocess.run([sys.executable, "-c", CHILD, net, str(out)], env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_a_caller_compiled_on_cached_inner_kernels_trains_as_a_fresh_one(tmp_path):
    fresh = _train(SECOND, tmp_path / "empty", tmp_path / "fresh.npy")
    assert fresh == {"LinkOnlyLibrary"}  # compiled here, link-only
    _train(FIRST, tmp_path / "shared", tmp_path / "first.npy")
    reused = _train(SECOND, tmp_path / "shared", tmp_path / "reused.npy")
    assert "JITCodeLibrary" in reused  # some inner kernels came from the cache (bitcode), not compiled
    a, b = np.load(tmp_path / "fresh.npy"), np.load(tmp_path / "reused.npy")
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
