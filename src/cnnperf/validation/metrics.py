"""Accuracy metrics: the paper's Delta (Table IX) and the usual error relative to the measurement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def paper_delta(measured, predicted) -> np.ndarray:
    """Delta = |T_measured - T_predicted| / T_predicted (paper Section V; divides by the prediction)."""
    m, p = np.asarray(measured, float), np.asarray(predicted, float)
    return np.abs(m - p) / p


def relative_error(measured, predicted) -> np.ndarray:
    """Signed (T_predicted - T_measured) / T_measured: > 0 means the model over-predicts."""
    m, p = np.asarray(measured, float), np.asarray(predicted, float)
    return (p - m) / m


@dataclass(frozen=True)
class Summary:
    strategy: str
    net: str
    n: int
    mean_abs_error: float
    max_abs_error: float
    mean_delta: float
    max_delta: float


def summarize(strategy: str, net: str, measured, predicted) -> Summary:
    e, d = np.abs(relative_error(measured, predicted)), paper_delta(measured, predicted)
    return Summary(strategy, net, len(e), float(e.mean()), float(e.max()), float(d.mean()), float(d.max()))
