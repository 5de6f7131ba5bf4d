"""Prediction intervals: Monte Carlo over the stored uncertainty checked against the analytic
interval of a synthetic profile with known spreads; the machine's noise; the paper's published
errors; no interval without uncertainty; every strategy gets one; plausibility flags."""

import dataclasses
import math

import numpy as np
import pytest

import cnnperf
from cnnperf.hardware import load_profile
from cnnperf.hardware.profile import Noise, Spread
from cnnperf.models import STRATEGIES
from cnnperf.models.intervals import TABLE_IX, plausibility, with_interval

PHI = load_profile("xeon-phi-7120p")
Z90 = 1.6448536269514722
Z95 = 1.959963984540054


def synthetic(ci_low=0.98, ci_high=1.02, noise=None):
    """The Phi's small entry on a 'calibrated' profile: only TFprop uncertain, 95 % interval
    [ci_low, ci_high] x its value."""
    n = PHI.networks["small"]
    tf = n.t_fprop_s
    entry = dataclasses.replace(n, uncertainty={"t_fprop_s": Spread(tf * ci_low, tf * ci_high, tf, tf, 9)})
    return dataclasses.replace(PHI, source="synthetic", networks={"small": entry}, noise=noise)


def b_prediction(profile, samples, level=0.9):
    p = np.array([1, 60, 240])
    model = STRATEGIES["b"]
    pred = model.predict("small", profile, p, 60000, 10000, 1)
    return with_interval(pred, lambda s: model.predict("small", s, p, 60000, 10000, 1), profile, level,
                         ["small"], samples=samples)


@pytest.mark.parametrize("ci_low,ci_high", [(0.98, 1.02), (0.99, 1.10)])
def test_monte_carlo_matches_the_analytic_interval_of_known_spreads(ci_low, ci_high):
    """(b) is linear in TFprop: T = T0 + dT/dTFprop * (TFprop - TFprop0). With TFprop a split
    normal (sigma = interval half / 1.96 on each side), the 90 % interval is
    T0 - 1.645 sigma_down dT and T0 + 1.645 sigma_up dT, per row."""
    profile = synthetic(ci_low, ci_high)
    k = 5000
    pred = b_prediction(profile, samples=k)
    tf = PHI.networks["small"].t_fprop_s
    p = np.array([1, 60, 240])
    slope = (2 * 60000 + 10000) / p * profile.cpi_at(p)  # seconds per second of TFprop (1 epoch)
    down, up = tf * (1 - ci_low) / Z95, tf * (ci_high - 1) / Z95
    # Monte Carlo standard error of a 5 % quantile, in sigmas: sqrt(0.05 * 0.95 / K) / phi(1.645)
    se = math.sqrt(0.05 * 0.95 / k) / (math.exp(-Z90 ** 2 / 2) / math.sqrt(2 * math.pi))
    assert np.all(np.abs(pred.seconds_low - (pred.seconds - Z90 * down * slope)) <= 4 * se * down * slope)
    assert np.all(np.abs(pred.seconds_high - (pred.seconds + Z90 * up * slope)) <= 4 * se * up * slope)
    assert pred.interval_level == 0.9 and "Monte Carlo" in pred.notes[-1]


def test_the_machine_noise_alone_gives_its_quantiles():
    noise = Noise((1.0, 1e6), (0.0, 0.05, 0.5, 0.95, 1.0), ((1.0, 1.0, 1.02, 1.25, 1.4),) * 2, 0.4, 0.2, 100.0, 50)
    n = PHI.networks["small"]
    profile = dataclasses.replace(PHI, source="synthetic", noise=noise, networks={"small": n})
    pred = b_prediction(profile, samples=4000)
    # the stored quantiles are drawn by their inverse CDF: the 5 % and 95 % quantiles come back (MC: +-1 %)
    assert pred.seconds_low == pytest.approx(pred.seconds * 1.0, rel=0.01)
    assert pred.seconds_high == pytest.approx(pred.seconds * 1.25, rel=0.01)  # asymmetric: interference only slows
    assert "slow-down measured during calibration" in pred.notes[-1]


def test_the_paper_profile_uses_the_published_errors():
    pred = cnnperf.predict("medium", "xeon-phi-7120p", threads=[240], interval=0.9)
    half = Z90 * math.sqrt(math.pi / 2) * TABLE_IX["medium"]["b"]
    assert pred.seconds_high[0] / pred.seconds[0] - 1 == pytest.approx(half)
    assert 1 - pred.seconds_low[0] / pred.seconds[0] == pytest.approx(half)
    assert "Table IX" in pred.notes[-1]
    a = cnnperf.predict("small", "xeon-phi-7120p", "a", threads=[240], interval=0.8)
    assert a.seconds_high[0] / a.seconds[0] - 1 == pytest.approx(1.2815515655446004 * math.sqrt(math.pi / 2)
                                                                  * TABLE_IX["small"]["a"])


def test_no_uncertainty_no_interval_and_it_says_so():
    profile = dataclasses.replace(PHI, source="cnnperf calibrate on this machine")  # a schema-1 calibration
    pred = cnnperf.predict("small", profile, threads=[1, 2])
    assert pred.seconds_low is None and "no interval" in pred.notes[-1]
    row = pred.rows()[0]
    assert row["seconds_low"] is None and row["seconds_high"] is None and row["interval_level"] == 0.9
    assert cnnperf.predict("small", threads=[1], interval=None).interval_level is None


def test_every_strategy_gets_an_interval_from_the_same_machinery():
    from cnnperf.models.strategy_c import fit_runs
    profile = synthetic(0.97, 1.05, Noise((1.0,), (0.0, 0.5, 1.0), ((1.0, 1.05, 1.3),), 0.3, 0.1, 60.0, 40))
    n = profile.networks["small"]
    p = np.array([1, 2, 4, 8, 16, 32])
    entry, _ = fit_runs(n, profile, p, 400.0 / p + 20.0, 60000, 10000, 1,
                        spread=np.full(len(p), 0.05))
    profile = dataclasses.replace(profile, networks={"small": entry})
    for name in STRATEGIES:
        if STRATEGIES[name].requires("small", profile) is not None:
            continue
        pred = cnnperf.predict("small", profile, name, threads=[2, 8], epochs=1)
        assert np.all(pred.seconds_low < pred.seconds_high), name
        assert np.all(pred.seconds_high > pred.seconds), name  # interference only slows
        assert all(r["interval_level"] == 0.9 for r in pred.rows())


def test_distributed_predictions_get_intervals():
    pred = cnnperf.predict("small", "phi-cluster-fdr", threads=[64], ranks=4, sync_every=500)
    assert pred.seconds_low[0] < pred.seconds[0] < pred.seconds_high[0]


def test_implausible_predictions_are_flagged():
    model = STRATEGIES["b"]
    profile = dataclasses.replace(PHI, oversubscription="time-slicing")
    p = np.array([1, 2, 488])
    pred = model.predict("small", profile, p, 60000, 10000, 1)
    one = model.predict("small", profile, np.ones(3), 60000, 10000, 1)
    assert plausibility(pred, one, profile.hardware_threads).flags == ()  # the model itself is plausible
    fake = dataclasses.replace(pred, terms={**pred.terms, "train": pred.terms["train"] * np.array([1, 1, 5000])})
    flags = plausibility(fake, one, profile.hardware_threads).flags
    assert flags[:2] == ("", "") and "beyond the slicing factor 2" in flags[2]
    fast = dataclasses.replace(pred, terms={k: v * np.array([1, 0.1, 1]) for k, v in pred.terms.items()})
    assert "more than linear" in plausibility(fast, one, profile.hardware_threads).flags[1]


def test_the_model_error_measured_on_real_runs_widens_the_interval_lognormally():
    """Reference runs measured 1.25x and 0.8x what (b) predicts: sigma = RMS log ratio = log 1.25;
    with no other uncertainty the 90 % interval is the prediction x exp(+-1.645 sigma_up), sigma_up
    the 90 % upper confidence bound of sigma from 2 runs."""
    from cnnperf.hardware.profile import ReferenceRuns
    from cnnperf.models.intervals import model_discrepancy, sigma_upper_factor
    model = STRATEGIES["b"]
    n = PHI.networks["small"]
    p = np.array([1.0, 60.0])
    truth = model.predict(n, PHI, p, 6000, 1200, 1).seconds * np.array([1.25, 0.8])
    entry = dataclasses.replace(n, reference_runs=ReferenceRuns((1, 60), tuple(truth), 6000, 1200, 1))
    profile = dataclasses.replace(PHI, source="synthetic", networks={"small": entry})
    sigma, runs = model_discrepancy(model, "small", profile)
    assert runs == 2 and sigma == pytest.approx(math.log(1.25))
    sigma *= sigma_upper_factor(2)
    pred = cnnperf.predict("small", profile, "b", threads=[30], epochs=1)
    k = 200  # the default number of draws; the quantile of the lognormal within its Monte Carlo error
    se = math.sqrt(0.05 * 0.95 / k) / (math.exp(-Z90 ** 2 / 2) / math.sqrt(2 * math.pi))
    assert abs(math.log(pred.seconds_high[0] / pred.seconds[0]) - Z90 * sigma) <= 4 * se * sigma
    assert abs(math.log(pred.seconds[0] / pred.seconds_low[0]) - Z90 * sigma) <= 4 * se * sigma
    assert "model error on the calibration's 2 real runs" in pred.notes[-1]


def test_the_model_error_of_a_few_runs_is_taken_at_its_upper_confidence_bound():
    """sqrt(n / chi2_0.10(n)): 2.266 for n = 3, 1.434 for n = 10 (chi-square tables), 1 as n grows."""
    from cnnperf.models.intervals import sigma_upper_factor
    assert sigma_upper_factor(3) == pytest.approx(2.266, rel=0.01)
    assert sigma_upper_factor(10) == pytest.approx(1.434, rel=0.01)
    assert 1.0 < sigma_upper_factor(1000) < 1.06


def test_an_interval_for_the_median_of_three_runs_is_narrower_than_for_one():
    """The machine's slow-down drawn per run: the median of 3 draws of a one-sided, bimodal
    slow-down concentrates near the quiet mode (validate compares medians of its repeats)."""
    import dataclasses

    from cnnperf.hardware.profile import Noise
    from cnnperf.models.intervals import with_interval
    noise = Noise(window_s=(0.1, 10.0), levels=(0.0, 0.5, 0.8, 0.95, 1.0),
                  factors=((1.0, 1.0, 1.02, 1.4, 1.5), (1.0, 1.0, 1.01, 1.2, 1.3)), region_drift=0.4,
                  probe_drift=0.1, duration_s=60.0, regions=100, probe="test")
    phi = dataclasses.replace(load_profile("xeon-phi-7120p"), noise=noise, machine_model=None)
    model = STRATEGIES["b"]
    pred = model.predict("small", phi, np.array([240]), 600, 100, 1)
    one = with_interval(pred, lambda h: model.predict("small", h, np.array([240]), 600, 100, 1), phi, 0.9, ["small"])
    three = with_interval(pred, lambda h: model.predict("small", h, np.array([240]), 600, 100, 1), phi, 0.9,
                          ["small"], runs=3)
    assert (three.seconds_high - three.seconds_low)[0] < 0.8 * (one.seconds_high - one.seconds_low)[0]
    assert "median of 3 runs" in three.notes[-1]
