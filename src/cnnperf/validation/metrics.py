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


def coverage(measured, low, high) -> float:
    """Share of the measured values inside their prediction intervals [low, high]."""
    m = np.asarray(measured, float)
    return float(np.mean((m >= np.asarray(low, float)) & (m <= np.asarray(high, float))))


def half_width(predicted, low, high) -> np.ndarray:
    """The interval's half-width relative to the prediction: (high - low) / 2 / predicted."""
    p = np.asarray(predicted, float)
    return (np.asarray(high, float) - np.asarray(low, float)) / 2 / p


@dataclass(frozen=True)
class Summary:
    strategy: str
    net: str
    n: int
    mean_abs_error: float
    max_abs_error: float
    mean_delta: float
    max_delta: float
    mean_error: float = 0.0  # signed: > 0 over-predicts
    coverage: float | None = None  # share of measured medians inside the prediction intervals
    median_half_width: float | None = None  # of the intervals, relative to the prediction
    interval_level: float | None = None


def summarize(strategy: str, net: str, measured, predicted, low=None, high=None, level: float | None = None
              ) -> Summary:
    signed = relative_error(measured, predicted)
    e, d = np.abs(signed), paper_delta(measured, predicted)
    cov = hw = None
    if low is not None and high is not None and not any(v is None for v in list(low) + list(high)):
        cov, hw = coverage(measured, low, high), float(np.median(half_width(predicted, low, high)))
    return Summary(strategy, net, len(e), float(e.mean()), float(e.max()), float(d.mean()), float(d.max()),
                   float(signed.mean()), cov, hw, level if cov is not None else None)
