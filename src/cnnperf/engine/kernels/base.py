"""The kernel decorator and the scalar constants every kernel module shares.

Kernels never allocate, so they are compiled without Numba's reference counting (`_nrt=False`,
the option Numba's own allocation-free helpers use): with it, every array passed to a per-layer
function cost atomic increments and decrements per layer and image (3-5 % of the small net).

Kernels that only other kernels call are `inner_kernel`s: compiled without the CPython and cfunc
wrappers (Numba's option for its own jitted helpers), whose unboxing code for ~20 array arguments
Numba would otherwise optimise and emit for every kernel (about a tenth of a cold compile). Called
from Python they raise TypeError (a wrapper-less entry point would crash the interpreter).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.options import DefaultOptions
from numba.core.registry import CPUDispatcher

_OPTIONS = {"nogil": True, "cache": True, "fastmath": True, "error_model": "numpy"}
if hasattr(DefaultOptions, "_nrt"):
    _OPTIONS["_nrt"] = False

kernel = njit(**_OPTIONS)
inline_kernel = njit(**_OPTIONS, inline="always")
_inner = njit(**_OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)


class KernelOnly(CPUDispatcher):
    """The dispatcher of an `inner_kernel`: Numba calls it from kernels; a Python call is refused."""

    def __call__(self, *args, **kws):
        raise TypeError(f"{self.py_func.__qualname__} is compiled for calls from Numba kernels only (no Python entry)")


def inner_kernel(func):
    """`kernel` without the Python and cfunc wrappers: for kernels that only other kernels call."""
    disp = _inner(func)
    disp.__class__ = KernelOnly
    return disp


# argument cast: a literal (0, -1), or a loop variable typed literal on inference's first pass, compiles a kernel again
I = np.int64
U = np.uint64  # index cast: unsigned indices skip Numba's negative-index wraparound, which blocks vectorisation
ONE = np.float32(1.0)
ZERO = np.float32(0.0)
