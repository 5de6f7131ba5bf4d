"""Prediction intervals and plausibility checks, the same for every strategy.

Monte Carlo: the strategy's own `predict` is re-run on K profiles drawn from the profile's
stored uncertainty (`HardwareProfile.sample`: each measured value from its 95 % interval, and
every part with a `sample(rng)` of its own, e.g. a machine model); each result is multiplied
by a slow-down drawn from the machine's noise measured during calibration for a run of that
length (`Noise.factors_at`) and by the strategy's model error measured on the calibration's
real runs (`model_discrepancy`: lognormal, sigma = the RMS of log(measured / predicted)). The
interval is the central `level` share of the K results: asymmetric where the noise is
(interference only slows).

The paper's Xeon Phi profiles record no spreads: their interval comes from the paper's
published mean error Delta (Table IX), assuming normally distributed relative errors
(mean |e| = sigma sqrt(2/pi)), i.e. +-z(level) * sqrt(pi/2) * Delta around the prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile
from cnnperf.hardware.profile import z_two_sided
from cnnperf.models.base import Prediction

DEFAULT_LEVEL = 0.90
SAMPLES = 200  # Monte Carlo draws: the 5 % / 95 % quantiles rest on 10 draws each side (seeded: reproducible)
SEED = 0
# Paper Table IX: average Delta = |measured - predicted| / predicted per network and strategy
TABLE_IX = {"small": {"a": 0.1457, "b": 0.1635}, "medium": {"a": 0.1476, "b": 0.0748},
            "large": {"a": 0.1536, "b": 0.1022}}
PAPER = "Performance Modelling of Deep Learning on Intel Many Integrated Core"  # cited by the paper's profiles
PLAUSIBLE_TOL = 0.25  # a prediction 25 % beyond the physical bounds is flagged (contention, noise)


def check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise CnnperfError(f"interval level must be a number between 0 and 1 (e.g. 0.9), got {level!r}")
    return float(level)


def with_interval(pred: Prediction, predict: Callable[[HardwareProfile], Prediction], profile: HardwareProfile,
                  level: float | None = DEFAULT_LEVEL, networks=None, samples: int = SAMPLES,
                  seed: int = SEED, model_error: tuple[float, int] | None = None, runs: int = 1) -> Prediction:
    """`pred` with `seconds_low`, `seconds_high` at `level`; `predict(profile)` re-runs the same
    prediction on a profile (drawn ones); `networks`: the profile entries it reads;
    `model_error`: (sigma of log(measured / predicted), runs) from `model_discrepancy`; `runs`: the
    interval is for the median of this many runs (the machine's slow-down drawn for each)."""
    if level is None:
        return pred
    level = check_level(level)
    point = np.broadcast_to(pred.seconds, pred.shape).astype(float)
    low = high = None
    if profile.uncertain(networks) or profile.noise is not None or model_error:
        low, high, note = _monte_carlo(point, predict, profile, level, networks, samples, seed, model_error, runs)
    if low is None or np.all(high - low <= 1e-12 * np.abs(point)):
        delta = published_delta(profile, pred.strategy, pred.net)
        if delta is None:
            return replace(pred, interval_level=level, notes=pred.notes + (
                f"no interval: profile {profile.name} records no uncertainty (schema 1 or not measured); "
                "calibrate again with this cnnperf to get one",))
        half = z_two_sided(level) * math.sqrt(math.pi / 2) * delta
        low, high = point * (1 - half), point * (1 + half)
        note = (f"{level:.0%} interval from the paper's published mean error (Table IX: Delta {delta:.1%} for "
                f"strategy ({pred.strategy}) on {pred.net}), assuming normally distributed errors: +-{half:.0%}")
    return replace(pred, seconds_low=low, seconds_high=high, interval_level=level, notes=pred.notes + (note,))


def predict_single(model, net, profile: HardwareProfile, p, i, it, ep, level: float | None = DEFAULT_LEVEL
                   ) -> Prediction:
    """`model.predict` for one node, with the plausibility flags and the interval at `level`."""
    pred = model.predict(net, profile, p, i, it, ep)
    pred = plausibility(pred, model.predict(net, profile, np.ones_like(np.asarray(p, dtype=float)), i, it, ep),
                        profile.hardware_threads)
    return with_interval(pred, lambda h: model.predict(net, h, p, i, it, ep), profile, level,
                         entries_of(net, profile), model_error=model_discrepancy(model, net, profile))


def model_discrepancy(model, net, profile: HardwareProfile) -> tuple[float, int] | None:
    """The strategy's model error on this machine: sigma = the root mean square of
    log(measured / predicted) over the real runs the calibration timed (`reference_runs`), and
    how many; None without such runs or if the strategy cannot predict them."""
    try:
        runs = profile.params_for(net).reference_runs
        if runs is None:
            return None
        pred = model.predict(net, profile, np.array(runs.threads, dtype=float), runs.images, runs.test_images,
                             runs.epochs).seconds
    except CnnperfError:
        return None
    log_ratio = np.log(np.asarray(runs.seconds) / np.broadcast_to(pred, (len(runs.threads),)))
    return float(np.sqrt(np.mean(log_ratio ** 2))), len(runs.threads)


def entries_of(net, profile: HardwareProfile) -> list[str]:
    """The names of the profile entries a prediction of `net` reads (none: e.g. a machine model)."""
    try:
        return [profile.params_for(net).name]
    except CnnperfError:  # no entry: the strategy predicts from other parts of the profile
        return []


def _monte_carlo(point, predict, profile: HardwareProfile, level: float, networks, samples: int, seed: int,
                 model_error: tuple[float, int] | None, runs: int = 1):
    rng = np.random.default_rng(seed)
    draws = np.empty((samples, *point.shape))
    for k in range(samples):
        draws[k] = np.broadcast_to(predict(profile.sample(rng, networks)).seconds, point.shape)
    parts = [f"Monte Carlo over {samples} draws of the profile's measured values"]
    if profile.noise is not None:
        factors = np.median([profile.noise.factors_at(rng.random(samples), point) for _ in range(max(runs, 1))],
                            axis=0)
        draws *= factors
        parts.append(f"x the machine's slow-down measured during calibration (regions up to "
                     f"{profile.noise.region_drift:+.0%}) for " + ("a run" if runs <= 1 else
                                                                  f"the median of {runs} runs") + " of that length")
    if model_error:
        sigma, runs = model_error
        upper = sigma * sigma_upper_factor(runs)
        draws *= np.exp(upper * rng.standard_normal(samples)).reshape((samples,) + (1,) * point.ndim)
        parts.append(f"x the strategy's model error on the calibration's {runs} real runs (sigma {sigma:.1%}, "
                     f"{upper:.1%} at its 90 % upper confidence bound)")
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high, f"{level:.0%} interval: " + " ".join(parts)


def sigma_upper_factor(n: int, confidence: float = 0.90) -> float:
    """sigma_upper / sigma for a standard deviation estimated from n errors of known mean 0: the
    one-sided `confidence` bound sqrt(n / chi2_{1-confidence}(n)) (Wilson-Hilferty for the
    chi-square quantile; 2.27 for n = 3, 1.5 for n = 10). A few runs cannot pin a spread."""
    if n < 1:
        return 1.0
    z = -z_two_sided(2 * confidence - 1)  # the lower (1 - confidence) quantile of the standard normal
    chi2 = n * (1 - 2 / (9 * n) + z * math.sqrt(2 / (9 * n))) ** 3
    return math.sqrt(n / max(chi2, 1e-9))


def machine_noise(profile: HardwareProfile, seconds) -> np.ndarray:
    """Half the 5-95 % range of the machine's slow-down for runs of `seconds`, relative to its
    median (the noise one measured run carries); 0 without a recorded [noise]."""
    seconds = np.asarray(seconds, dtype=float)
    if profile.noise is None:
        return np.zeros_like(seconds)
    f = profile.noise.factors_at(np.array([0.05, 0.5, 0.95]), seconds)
    return (f[2] - f[0]) / 2 / f[1]


def published_delta(profile: HardwareProfile, strategy: str, net: str) -> float | None:
    """The paper's Table IX Delta for a profile that carries the paper's values, else None. A
    network the paper did not publish takes the strategy's largest Delta."""
    if PAPER not in profile.source:
        return None
    by_net = {n: d[strategy] for n, d in TABLE_IX.items() if strategy in d}
    if not by_net:
        return None
    return by_net.get(net, max(by_net.values()))


def plausibility(pred: Prediction, at_one: Prediction, hardware_threads: int) -> Prediction:
    """Flag rows outside the physically plausible range, judged against the same strategy at
    p = 1 (same images and epochs): slower than T(1) x the time-slicing factor, faster than
    T(1) / min(p, hardware threads) (a super-linear speed-up), or not positive; 25 % tolerance."""
    t, p, t1, sl = (pred.column(v) for v in (pred.seconds, pred.p, at_one.seconds, pred.time_slice))
    old = list(pred.flags) if pred.flags else [""] * len(t)
    flags = []
    for j in range(len(t)):
        why = ""
        if not t[j] > 0:
            why = "implausible: not positive"
        elif t[j] > t1[j] * sl[j] * (1 + PLAUSIBLE_TOL):
            why = f"implausible: {t[j] / t1[j]:.3g}x the p = 1 time, beyond the slicing factor {sl[j]:.3g}"
        elif t[j] < t1[j] / min(p[j], hardware_threads) * (1 - PLAUSIBLE_TOL):
            why = (f"implausible: {t1[j] / t[j]:.3g}x faster than p = 1, more than linear in the "
                   f"{min(p[j], hardware_threads):,.0f} threads that run at once")
        flags.append("; ".join(x for x in (old[j], why) if x))
    return replace(pred, flags=tuple(flags)) if any(flags) else pred
