"""The fully connected backward with the fused update (`kernels.full.full_backward`), four rows per
pass: against a float64 NumPy reference, with a sweep that wraps inside a block of four rows, a tail
of rows (N mod 4) and of columns (F mod 16)."""

import numpy as np
import pytest
from numba import njit

from cnnperf.engine.kernels.full import full_backward


@njit(cache=False)
def _backward(W, N, F, x, dz, dx, lr, rotate, prefetch):
    full_backward(W, 0, N * F, N, F, x, 0, dz, 0, dx, 0, True, lr, None, rotate, prefetch)


@pytest.mark.parametrize(("N", "F", "rotate"), [(9, 37, 0.8), (8, 48, 0.0), (6, 5, 0.5), (3, 20, 0.4)])
@pytest.mark.parametrize("prefetch", [0, 8])
def test_update_and_input_delta_match_the_definition(N, F, rotate, prefetch):
    rng = np.random.default_rng(N * 100 + F)
    W = rng.standard_normal(N * F + N + 32).astype(np.float32)  # weights, biases, slack
    x = rng.standard_normal(F + 16).astype(np.float32)
    dz = rng.standard_normal(N).astype(np.float32)
    dx = np.full(F + 16, np.float32(7.0))  # overwritten: the delta starts from zero
    lr = np.float32(0.05)
    W0 = W.astype(np.float64)
    _backward(W, N, F, x, dz, dx, lr, rotate, prefetch)
    w, b = W0[:N * F].reshape(N, F), W0[N * F:N * F + N]
    d, xv = dz.astype(np.float64), x[:F].astype(np.float64)
    want_dx = d @ w  # with the old rows
    want_w, want_b = w - 0.05 * np.outer(d, xv), b - 0.05 * d
    np.testing.assert_allclose(dx[:F], want_dx, rtol=0, atol=1e-5 * np.abs(want_dx).max())
    np.testing.assert_allclose(W[:N * F].reshape(N, F), want_w, rtol=0, atol=1e-6 * np.abs(want_w).max())
    np.testing.assert_allclose(W[N * F:N * F + N], want_b, rtol=0, atol=1e-6 * np.abs(want_b).max())
    assert (W[N * F + N:] == W0[N * F + N:]).all()  # nothing past the biases written
    assert (dx[F:] == 7.0).all()
