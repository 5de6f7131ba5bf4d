"""Link-only inner kernels (issue 15, cold start): LLVM optimises and emits their code in their
callers only, and what a network computes does not depend on what was compiled before it."""

import os
import subprocess
import sys

import numpy as np
import pytest

from cnnperf.engine.kernels import linkonly

pytestmark = pytest.mark.skipif(not linkonly.SUPPORTED, reason="this Numba compiles kernels as it does by default")

CHILD = """
import sys
import numpy as np
from cnnperf import engine
from cnnperf.engine.kernels import network
from cnnperf.engine.kernels.base import KernelOnly
from cnnperf.networks import resolve_network
nets, out = sys.argv[1:-1], sys.argv[-1]
for net in nets:
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
print(len(network.run_images.overloads), *sorted(kinds))
"""

# two kernel group sets: max pooling after im2col convolutions only; a dense delta and a table
FIRST = "1x13x13-3C2-4C3-MP2-3C2-4N"
SECOND = "1x13x13-4C2-6C3r2-3C2-MP3-4N"


def _train(nets, cache, out):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    res = subprocess.run([sys.executable, "-c", CHILD, *nets, str(out)], env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_a_network_trains_the_same_whatever_was_compiled_before_it(tmp_path):
    fresh = _train([SECOND], tmp_path / "empty", tmp_path / "fresh.npy")
    # compiled here; no inner kernel has machine code of its own but the loop's units
    assert fresh == ["1", "InlinedLinkOnlyLibrary", "LinkOnlyLibrary", "UnitLibrary"]
    _train([FIRST], tmp_path / "cached", tmp_path / "first.npy")
    # FIRST's kernels load from the cache, then SECOND compiles its own loop in the same process
    after = _train([FIRST, SECOND], tmp_path / "cached", tmp_path / "after.npy")
    # SECOND's, compiled, and the units FIRST loaded from the cache (libraries as Numba rebuilds them)
    assert after == ["2", "InlinedLinkOnlyLibrary", "JITCodeLibrary", "LinkOnlyLibrary", "UnitLibrary"]
    assert np.array_equal(np.load(tmp_path / "after.npy"), np.load(tmp_path / "fresh.npy"))


PROBE = '''
from cnnperf.engine.kernels.base import kernel, unit_kernel


@unit_kernel
def twice(x):
    return 2.0 * x


@kernel
def call(x):
    return twice(x) + 1.0
'''

USE = """
import sys
import numba
sys.path.insert(0, sys.argv[1])
for k in range(int(sys.argv[2])):  # other compiles first: Numba numbers every function it compiles
    numba.njit(lambda x, k=k: x + k)(1.0)
import probe
print(probe.call(3.0) if sys.argv[3] == "call" else probe.twice.compile((numba.float64,)))
"""


def _use(folder, cache, before, what):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-c", USE, str(folder), str(before), what], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_cached_caller_calls_a_unit_another_process_compiled(tmp_path):
    """A loop loaded from the cache calls its units by name; a unit's name must not depend on the
    process that compiled it (Numba's per-process function numbers), or the call would jump nowhere."""
    (tmp_path / "probe.py").write_text(PROBE)
    first = _use(tmp_path, tmp_path / "cache", 0, "call")  # caller and unit compiled here, both cached
    assert first.returncode == 0 and first.stdout.split() == ["7.0"], first.stderr
    for entry in (tmp_path / "cache").rglob("probe.twice*"):
        entry.unlink()  # the unit's cache entry is gone: compiled again, as another process would
    again = _use(tmp_path, tmp_path / "cache", 5, "twice")
    assert again.returncode == 0, again.stderr
    assert list((tmp_path / "cache").rglob("probe.twice*"))
    cached = _use(tmp_path, tmp_path / "cache", 0, "call")  # the cached caller, the unit the second process made
    assert cached.returncode == 0 and cached.stdout.split() == ["7.0"], cached.stderr
