"""The kernel decorators and the scalar constants every kernel module shares.

Kernels never allocate, so they are compiled without Numba's reference counting (`_nrt=False`,
the option Numba's own allocation-free helpers use): with it, every array passed to a per-layer
function cost atomic increments and decrements per layer and image (3-5 % of the small net).

Kernels that only other kernels call are `inner_kernel`s: compiled without the CPython and cfunc
wrappers (Numba's option for its own jitted helpers), whose unboxing code for ~20 array arguments
Numba would otherwise optimise and emit for every kernel (about a tenth of a cold compile), and
compiled link-only (`linkonly`: LLVM optimises and emits their code once, in their callers). Called
from Python they raise TypeError (a wrapper-less entry point would crash the interpreter), except an
`entry_kernel`'s, which run a twin with a Python entry (for tests and benchmarks). An
`inline_kernel` is one LLVM inlines into every caller (Numba's own IR inlining would type and lower
its body once per call site); `unit_kernel`s are the per-layer halves of the loop, machine code of
their own that two processes can compile in parallel (`engine.warm`). Inner kernels compile for
their arguments' non-literal types, one specialisation however a caller writes a constant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit, types
from numba.core import caching
from numba.core.options import DefaultOptions
from numba.core.registry import CPUDispatcher

from cnnperf.engine.build import KERNELS, source_digest
from cnnperf.engine.kernels import linkonly


class KernelsCacheLocator:
    """Numba's own cache locator for a kernel module, with every kernel module in the stamp that
    invalidates a cached function. Numba stamps only the defining file, but a kernel inlines kernels
    from other files: after an edit of update.py alone (a `git pull` of an editable install), the
    cached loop of network.py would go on running the old update."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def get_source_stamp(self):
        return self._inner.get_source_stamp(), source_digest()

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != KERNELS:
            return None
        for locator_class in caching.CacheImpl._locator_classes:
            if locator_class is not cls:
                inner = locator_class.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


if KernelsCacheLocator not in caching.CacheImpl._locator_classes:  # before any kernel is decorated
    caching.CacheImpl._locator_classes.insert(0, KernelsCacheLocator)

_OPTIONS = {"nogil": True, "cache": True, "fastmath": True, "error_model": "numpy"}
if hasattr(DefaultOptions, "_nrt"):
    _OPTIONS["_nrt"] = False

_KERNEL, _INNER = {}, {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
if linkonly.SUPPORTED:  # inner kernels link-only, compiled where a caller needs them, never cached
    _KERNEL.update(pipeline_class=linkonly.KernelCompiler)
    _INNER.update(cache=False, pipeline_class=linkonly.LinkOnlyCompiler)

kernel = njit(**{**_OPTIONS, **_KERNEL})
_entry = njit(**{**_OPTIONS, **_KERNEL, "cache": False})  # an entry_kernel's Python twin: tests only
_inner = njit(**{**_OPTIONS, **_INNER})
_numba_inline = njit(**_OPTIONS, inline="always")
if linkonly.SUPPORTED:
    _inlined = njit(**{**_OPTIONS, **_INNER, "pipeline_class": linkonly.InlinedLinkOnlyCompiler})
    _unit = njit(**{**_OPTIONS, **_INNER, "cache": True, "pipeline_class": linkonly.UnitCompiler})


class KernelOnly(CPUDispatcher):
    """The dispatcher of an `inner_kernel`: Numba calls it from kernels; a Python call is refused, or
    runs its `entry` twin (`entry_kernel`)."""

    entry = None

    def get_call_template(self, args, kws):
        """As Numba's, for the arguments' non-literal types: a constant argument (0, a closure
        constant) would compile another specialisation; LLVM folds it where it inlines the kernel."""
        return super().get_call_template(tuple(types.unliteral(a) for a in args),
                                         {k: types.unliteral(v) for k, v in kws.items()})

    def __call__(self, *args, **kws):
        if self.entry is None:
            name = self.py_func.__qualname__
            raise TypeError(f"{name} is compiled for calls from Numba kernels only (no Python entry)")
        return self.entry(*args, **kws)


def _kernel_only(decorator, func):
    disp = decorator(func)
    disp.__class__ = KernelOnly
    return disp


def inner_kernel(func):
    """`kernel` without the Python and cfunc wrappers: for kernels that only other kernels call."""
    return _kernel_only(_inner, func)


def entry_kernel(func):
    """An `inner_kernel` that Python may call too: a Python call runs a `kernel` of the same function
    (compiled on the first call, not cached), so the kernels calling it compile no wrapper and no
    machine code of it."""
    disp = inner_kernel(func)
    disp.entry = _entry(func)
    return disp


def inline_kernel(func):
    """An `inner_kernel` that LLVM inlines into every caller (`linkonly.InlinedLinkOnlyLibrary`);
    without link-only support one that Numba inlines."""
    return _kernel_only(_inlined, func) if linkonly.SUPPORTED else _numba_inline(func)


def unit_kernel(func):
    """A kernel made machine code of its own and cached, which its callers call instead of inlining
    (`linkonly.UnitLibrary`), so that two processes compile units in parallel (`engine.warm`);
    without link-only support an `inline_kernel`."""
    if not linkonly.SUPPORTED:
        return inline_kernel(func)
    disp = _kernel_only(_unit, func)
    disp._cache = linkonly.UnitFunctionCache(disp.py_func)
    return disp


# argument cast: a literal (0, -1), or a loop variable typed literal on inference's first pass, compiles a kernel again
I = np.int64
U = np.uint64  # index cast: unsigned indices skip Numba's negative-index wraparound, which blocks vectorisation
ONE = np.float32(1.0)
ZERO = np.float32(0.0)
