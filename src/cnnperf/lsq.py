"""Least squares with non-negative coefficients (shared by the model fits; NumPy only)."""

from __future__ import annotations

import numpy as np


def nnls(a: np.ndarray, b: np.ndarray, iterations: int = 200) -> np.ndarray:
    """min ||a x - b|| subject to x >= 0 (Lawson-Hanson active set)."""
    m, n = a.shape
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    for _ in range(iterations):
        w = a.T @ (b - a @ x)
        if passive.all() or w[~passive].max(initial=-np.inf) <= 1e-12 * max(1.0, np.abs(w).max()):
            break
        passive[np.argmax(np.where(passive, -np.inf, w))] = True
        for _ in range(iterations):
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            denom = x[neg] - z[neg]
            alpha = float(np.min(np.where(denom > 0, x[neg] / np.where(denom > 0, denom, 1.0), 0.0)))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
    return x
