"""Activation functions and their derivatives (NOTES.md "Training": scaled tanh
1.7159 tanh(2x/3) by default). Numba kernels, in place on flat buffers.

The float32 path uses a rational approximation of tanh (Eigen's 13/6 polynomial pair,
max abs error about 3e-7) that vectorises; pip builds of Numba have no SVML, so `np.tanh`
would stay scalar. The float64 check path (`exact` not None) uses `np.tanh`.
Derivatives are written in terms of the activation's output y, which is what a worker keeps.
"""

from __future__ import annotations

import numpy as np

from cnnperf.engine.kernels.base import ONE, ZERO, U, entry_kernel, inner_kernel

SCALED_TANH, TANH, SIGMOID, RELU = 0, 1, 2, 3  # cnnperf.engine.kinds.ACTIVATION_IDS
A = np.float32(1.7159)
B = np.float32(2.0 / 3.0)

_CLAMP = np.float32(7.90531110763549805)
_A1, _A3, _A5, _A7 = (np.float32(v) for v in (
    4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08))
_A9, _A11, _A13 = (np.float32(v) for v in (-8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16))
_B0, _B2, _B4, _B6 = (np.float32(v) for v in (
    4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06))


@entry_kernel
def tanh_approx(x):
    """Rational approximation of tanh (vectorisable; |error| <= ~3e-7 in float32)."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return p / q


@inner_kernel
def activate(z, lo, hi, kind, exact):
    """z[U(lo:hi)] = f(z[U(lo:hi)]) in place; `exact` not None: np.tanh (float64 check path; with
    None that branch is pruned before typing)."""
    if kind == SCALED_TANH:
        if exact is not None:
            for i in range(lo, hi):
                z[U(i)] = A * np.tanh(B * z[U(i)])
        else:
            for i in range(lo, hi):
                z[U(i)] = A * tanh_approx(B * z[U(i)])
    elif kind == TANH:
        if exact is not None:
            for i in range(lo, hi):
                z[U(i)] = np.tanh(z[U(i)])
        else:
            for i in range(lo, hi):
                z[U(i)] = tanh_approx(z[U(i)])
    elif kind == SIGMOID:
        for i in range(lo, hi):
            z[U(i)] = ONE / (ONE + np.exp(-z[U(i)]))
    else:
        for i in range(lo, hi):
            z[U(i)] = max(z[U(i)], ZERO)


@inner_kernel
def derivative(y, kind):
    """f'(z) expressed through y = f(z)."""
    if kind == SCALED_TANH:
        return B * (A - y * (y / A))
    if kind == TANH:
        return ONE - y * y
    if kind == SIGMOID:
        return y * (ONE - y)
    return ONE if y > ZERO else ZERO


@inner_kernel
def scale_by_derivative(delta, y, lo, hi, kind):
    """delta[U(i)] *= f'(z_i) for i in [lo, hi), from the outputs y."""
    if kind == SCALED_TANH:
        for i in range(lo, hi):
            delta[U(i)] *= B * (A - y[U(i)] * (y[U(i)] / A))
    elif kind == TANH:
        for i in range(lo, hi):
            delta[U(i)] *= ONE - y[U(i)] * y[U(i)]
    elif kind == SIGMOID:
        for i in range(lo, hi):
            delta[U(i)] *= y[U(i)] * (ONE - y[U(i)])
    else:
        for i in range(lo, hi):
            if y[U(i)] <= ZERO:
                delta[U(i)] = ZERO
