"""The kernel decorator and the scalar constants every kernel module shares."""

from __future__ import annotations

import numpy as np
from numba import njit

kernel = njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
inline_kernel = njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")

U = np.uint64  # index cast: unsigned indices skip Numba's negative-index wraparound, which blocks vectorisation
ONE = np.float32(1.0)
ZERO = np.float32(0.0)
