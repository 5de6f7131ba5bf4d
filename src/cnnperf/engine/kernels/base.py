"""The kernel decorator and the scalar constants every kernel module shares.

Kernels never allocate, so they are compiled without Numba's reference counting (`_nrt=False`,
the option Numba's own allocation-free helpers use): with it, every array passed to a per-layer
function cost atomic increments and decrements per layer and image (3-5 % of the small net).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.options import DefaultOptions

_OPTIONS = {"nogil": True, "cache": True, "fastmath": True, "error_model": "numpy"}
if hasattr(DefaultOptions, "_nrt"):
    _OPTIONS["_nrt"] = False

kernel = njit(**_OPTIONS)
inline_kernel = njit(**_OPTIONS, inline="always")

# argument cast: a literal (0, -1), or a loop variable typed literal on inference's first pass, compiles a kernel again
I = np.int64
U = np.uint64  # index cast: unsigned indices skip Numba's negative-index wraparound, which blocks vectorisation
ONE = np.float32(1.0)
ZERO = np.float32(0.0)
