"""Strategy (c) must not overfit noise: known laws plus 20-30 % noise, fitted as `cnnperf
validate` fits them (medians of 3 repeats; the noise figure is the larger of the repeats' half
range and the machine's noise the calibration measured, here that of the noise model); seeds
0-9; nested cross-validation; the minimum of thread counts; old fits still read.

The laws have CHAOS's structure, Amdahl's: a serial part plus a part divided by p, both
visible in the fitted range p = 1-8. They were kept because the fitted-range data determine
their value 8x beyond (true-form least squares meets the 2x bound in >= 99 % of 200 other
seeds, 100-299). Laws whose 8x value the data do not determine at this noise (p^-0.5 without a
constant: the true form itself misses 2x in 17-18 % of those seeds; Amdahl plus log p: 6-7 %) cannot
be held to the bound by any method; cnnperf flags such extrapolations instead."""

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.models.strategy_c import PRIOR, Fit, choose, complexity, fit, repeat_noise

P = np.array([1, 2, 3, 4, 6, 8.0])  # cnnperf validate's thread counts on a small machine
FAR = 64.0  # 8x beyond the fitted range
LAWS = {  # name: (function, its PMNF terms)
    "amdahl 9 % serial": (lambda p: 2e-5 + 2e-4 / p, ((-1.0, 0),)),
    "amdahl 25 % serial": (lambda p: 5e-5 + 1.5e-4 / p, ((-1.0, 0),)),
}
NOISE = {  # name: draw of the relative factor of one run
    "uniform 25 %": lambda rng, n: 1 + rng.uniform(-0.25, 0.25, n),
    "one-sided 20-30 %": lambda rng, n: np.where(rng.random(n) < 0.5, rng.uniform(1.2, 1.3, n),
                                                  1 + rng.uniform(-0.02, 0.02, n)),
}
SEEDS = range(10)


def machine_noise(draw) -> float:
    """What calibration reports for this noise: half the 5-95 % range of single runs."""
    big = draw(np.random.default_rng(999), 100_000)
    return float(np.quantile(big, 0.95) - np.quantile(big, 0.05)) / 2


@pytest.mark.parametrize("noise", NOISE)
@pytest.mark.parametrize("law", LAWS)
def test_noisy_data_picks_the_true_or_a_simpler_form_and_extrapolates_within_2x(law, noise):
    f_law, true_terms = LAWS[law]
    draw = NOISE[noise]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        repeats = f_law(P)[:, None] * draw(rng, 3 * len(P)).reshape(len(P), 3)
        y = np.median(repeats, axis=1)
        f = fit(P, y, noise=max(repeat_noise(repeats), machine_noise(draw)))
        assert complexity(f.terms) <= complexity(true_terms), (seed, f.formula())
        ratio = float(f(np.array([FAR]))[0] / f_law(FAR))
        assert 0.5 <= ratio <= 2.0, (seed, f.formula(), ratio)


def test_a_two_term_law_that_stands_out_of_the_noise_is_found():
    """The noise-aware choice is not blind: a clear second term (contention growing with p)
    is picked up, and extrapolated within 2x."""
    law = lambda p: 2e-4 / p + 1e-5 * p  # noqa: E731
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        y = law(P) * (1 + rng.uniform(-0.05, 0.05, len(P)))
        f = fit(P, y, noise=0.05)
        assert f.terms == ((-1.0, 0), (1.0, 0)), f.formula()
        assert 0.5 <= f(np.array([FAR]))[0] / law(FAR) <= 2.0, f.formula()


def test_the_held_out_point_takes_no_part_in_choosing_the_form():
    """Nested: changing a held-out point's value cannot change the prediction made for it."""
    y = 2e-4 / P + 5e-6
    a = fit(P, y)
    y2 = y.copy()
    y2[3] *= 1.5
    b = fit(P, y2)
    assert a.cv_predictions[3] == pytest.approx(b.cv_predictions[3], rel=1e-12)
    assert b.cv_predictions[3] == pytest.approx(y[3], rel=1e-9)  # the others still follow the law exactly
    assert b.cv_error > a.cv_error


def test_noise_aware_choice_prefers_the_simpler_form_within_the_noise():
    rng = np.random.default_rng(11)
    y = (2e-4 / P + 5e-6) * (1 + rng.uniform(-0.1, 0.1, len(P)))
    assert len(choose(P, y, noise=0.3)) <= 1
    assert choose(P[:2], y[:2]) == PRIOR  # two points: no choice can be cross-validated


def test_too_few_thread_counts_say_how_many():
    with pytest.raises(CnnperfError, match=r">= 3 thread counts \(distinct; 4 or more"):
        fit(np.array([1.0, 2.0, 2.0]), np.array([1.0, 0.5, 0.5]))


def test_old_fits_still_read_and_covariance_round_trips():
    f = fit(P, 2e-4 / P + 5e-6, noise=0.05)
    g = Fit.from_dict(f.to_dict())
    assert g.covariance == f.covariance and g.fitted_p == tuple(P) and np.allclose(g(P), f(P))
    old = {"formula": "x", "exponents_a": [-1.0], "exponents_b": [0], "coefficients": [5e-6, 2e-4],
           "loo_error": 0.004, "fitted_on": "i=200, it=50, ep=1, p=1,2,3"}  # written by cnnperf 0.1
    h = Fit.from_dict(old)
    assert h.cv_error == 0.004 and h.fitted_p == (1.0, 2.0, 3.0) and h.covariance == ()
