"""Compile a training run's kernels with two cores (issue 15, cold start).

On a cold cache the per-image loop (`kernels.network.run_images`) is about all of a run's compile,
and Numba compiles on one core. The loop calls three units (`base.unit_kernel`: machine code of
their own, cached as Numba caches a kernel): `forward_layer`, `backward_conv` and `backward_other`.
So `compile_kernels` has a helper process compile `backward_conv` (the largest, about half of the
work) into the cache while this process compiles the other two; the loop then loads the helper's
from the cache and links declarations of all three. A unit is the same machine code whichever
process compiled it, so the run computes exactly what a compile in one process does.

Nothing happens when the loop is already in the cache, with one usable core, when Numba's cache is
off, or when kernels compile as Numba compiles them (`linkonly.SUPPORTED` false). If the helper
fails, the loop compiles what it would have compiled (the same result, only later).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

HELPER_TIMEOUT_S = 600
_HELPER = """
import pickle, sys
sys.path.insert(0, sys.argv[1])
from cnnperf.engine.kernels import network
getattr(network, sys.argv[2]).compile(pickle.loads(sys.stdin.buffer.read()))
"""
HELPER_UNIT = "backward_conv"  # the largest unit; this process compiles the others (MAIN_UNITS)
MAIN_UNITS = ("forward_layer", "backward_other")


def _usable_cpus() -> int:
    """CPUs this process may use (as `hardware.topology.available_cores`, which the engine, below
    `hardware/`, does not import)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _params(dispatcher) -> tuple[str, ...]:
    code = dispatcher.py_func.__code__
    return code.co_varnames[:code.co_argcount]


def _signature(dispatcher, loop_names, loop_types: list) -> tuple:
    """Argument types of `dispatcher` as the loop calls it: its parameters are the loop's, by name,
    and the layer index `i` (a range over the layers: intp)."""
    from numba import types
    by_name = dict(zip(loop_names, loop_types))
    return tuple(types.intp if p == "i" else by_name[p] for p in _params(dispatcher))


def _in_cache(dispatcher, sig) -> bool | None:
    """Whether Numba's cache holds `dispatcher` for `sig`; None where that cannot be told."""
    cache = dispatcher._cache
    try:
        return cache._index_key(sig, dispatcher.targetctx.codegen()) in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 (a Numba without these internals, or caching off: NullCache)
        return None


def compile_kernels(layout, dtype=np.float32) -> bool:
    """Compile (or load) the training loop of `layout` for `dtype`; with two or more usable cores and
    nothing cached, `backward_conv` compiles in a helper process meanwhile. Returns whether a helper
    compiled it. The next `train_images` / `evaluate_images` call runs without compiling."""
    from numba import typeof

    from cnnperf.engine.api import _rows, loop_args
    from cnnperf.engine.kernels import linkonly, network
    from cnnperf.engine.store import init_weights, new_workspace
    w, ws = init_weights(layout, 0, dtype), new_workspace(layout, dtype)
    rows = _rows(layout, np.zeros((1, layout.spec.shapes[0].neurons)), dtype)
    args = loop_args(layout, w, ws, rows, np.zeros(1, np.int64), 0, 1, 0.0, True)
    names = _params(network.run_images)
    types_ = [typeof(a) for a in args]
    helper_unit = getattr(network, HELPER_UNIT)
    backward = _signature(helper_unit, names, types_)
    helper = None
    if (linkonly.SUPPORTED and _usable_cpus() >= 2 and _in_cache(network.run_images, tuple(types_)) is False
            and _in_cache(helper_unit, backward) is False):
        helper = _start_helper(backward)
        for name in MAIN_UNITS:
            unit = getattr(network, name)
            unit.compile(_signature(unit, names, types_))
        _finish(helper)
    network.run_images.compile(tuple(types_))
    return helper is not None and helper.returncode == 0


def _start_helper(sig) -> subprocess.Popen | None:
    src = str(Path(__file__).resolve().parents[2])  # the directory holding this cnnperf package
    try:
        proc = subprocess.Popen([sys.executable, "-c", _HELPER, src, HELPER_UNIT], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.stdin.write(pickle.dumps(sig))
        proc.stdin.close()
    except OSError:
        return None
    return proc


def _finish(helper: subprocess.Popen | None) -> None:
    if helper is None:
        return
    try:
        helper.wait(timeout=HELPER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()
