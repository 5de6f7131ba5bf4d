"""Robust statistics for timings on a shared machine, where the noise is one-sided and
bimodal (interference only slows a region: a quiet mode plus stretches 30-40 % slower).

A mean or a coefficient of variation misleads on such data. cnnperf estimates the quiet mode
by the median after rejecting outliers with the MAD rule (modified z-score > 3.5, Iglewicz &
Hoaglin 1993), states the precision of that median by a distribution-free confidence interval
(order statistics, exact binomial), and describes the machine's noise by quantiles, which
may be as asymmetric as the data are."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAD_Z = 3.5  # modified z-score beyond which a sample is an outlier (Iglewicz & Hoaglin)
MAD_FLOOR = 1e-3  # relative floor of the MAD: timings never repeat exactly; avoids rejecting all but ties
CI_LEVEL = 0.95  # confidence level of the median's interval


def mad_keep(x: Sequence[float]) -> np.ndarray:
    """Mask of the samples the MAD rule keeps: |0.6745 (x - median) / MAD| <= 3.5."""
    x = np.asarray(x, dtype=float)
    med = float(np.median(x))
    mad = max(float(np.median(np.abs(x - med))), MAD_FLOOR * abs(med), 1e-300)
    return np.abs(0.6745 * (x - med) / mad) <= MAD_Z


def median_ci(x: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float, float]:
    """Distribution-free interval of the median: order statistics x_(j), x_(n+1-j) with the
    largest j whose exact binomial coverage 1 - 2 P(Bin(n, 1/2) < j) is >= `level`. With too
    few samples for `level` (n < 6 at 95 %) it is [min, max]. Returns (low, high, coverage)."""
    s = np.sort(np.asarray(x, dtype=float))
    n = len(s)
    if n == 0:
        raise ValueError("no samples")
    j, tail = 1, 0.5 ** n  # tail = P(Bin(n, 1/2) < j) for j = 1
    while True:
        nxt = tail + math.comb(n, j) * 0.5 ** n  # P(Bin < j + 1)
        if j + 1 > (n + 1) // 2 or 1 - 2 * nxt < level:
            break
        j, tail = j + 1, nxt
    return float(s[j - 1]), float(s[n - j]), float(max(0.0, 1 - 2 * tail))


def quantiles(x: Sequence[float], levels: Sequence[float]) -> np.ndarray:
    return np.quantile(np.asarray(x, dtype=float), np.asarray(levels, dtype=float))


def window_quantiles(durations: Sequence[float], factors: Sequence[float], window_s: float,
                     levels: Sequence[float], starts: int = 200) -> np.ndarray:
    """Quantiles of the slow-down of a run that needs `window_s` seconds on the quiet machine.

    The regions (wall seconds, each with its factor = wall time / quiet-mode time) are laid end
    to end in the order they ran; a run starting at wall time t has done its quiet-time work
    `window_s` when the regions after t have done that much, and its slow-down is the wall time
    it took over `window_s`. Runs start at `starts` evenly spaced points. A window longer than a
    quarter of the series' quiet time is held at a quarter (at least four independent windows:
    the series cannot say less about long runs than that)."""
    d = np.asarray(durations, dtype=float)
    f = np.asarray(factors, dtype=float)
    wall = np.concatenate([[0.0], np.cumsum(d)])
    work = np.concatenate([[0.0], np.cumsum(d / f)])
    w = min(window_s, work[-1] / 4)
    if w <= 0:
        return np.full(len(levels), 1.0)
    begin = np.linspace(0.0, work[-1] - w, starts)
    taken = np.interp(begin + w, work, wall) - np.interp(begin, work, wall)
    return quantiles(taken / w, levels)


def derive(fn, estimates, value: float | None = None, draws: int = 4000, seed: int = 0):
    """The Spread of a value computed from measured estimates (`fn` of their values, vectorised):
    its 95 % interval by drawing every input from its own interval (split normal), its region
    spread by drawing every input from its 5-95 % region quantiles; samples: the fewest of the
    inputs. `value`: the stored value (e.g. clamped), kept inside the interval."""
    from cnnperf.hardware.profile import Spread, z_two_sided

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, len(estimates), draws))
    ci = np.asarray(fn(*[e.spread().draw(e.value, z[0, j]) for j, e in enumerate(estimates)]), dtype=float)
    z90 = z_two_sided(0.90)
    region = []
    for j, e in enumerate(estimates):
        up, down = max(e.high - e.value, 0.0) / z90, max(e.value - e.low, 0.0) / z90
        region.append(e.value + np.where(z[1, j] > 0, z[1, j] * up, z[1, j] * down))
    reg = np.asarray(fn(*region), dtype=float)
    v = float(fn(*[e.value for e in estimates])) if value is None else value
    lo, hi = np.quantile(ci, [0.025, 0.975])
    rlo, rhi = np.quantile(reg, [0.05, 0.95])
    return Spread(max(0.0, min(float(lo), v)), max(0.0, float(hi), v), max(0.0, min(float(rlo), v)),
                  max(0.0, float(rhi), v), min(e.samples for e in estimates))
