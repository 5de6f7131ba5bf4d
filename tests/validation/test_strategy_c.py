"""Strategy (c): the PMNF search recovers known functions; leave-one-out; metrics."""

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.models.strategy_c import Fit, fit
from cnnperf.validation.metrics import paper_delta, relative_error, summarize


def test_recovers_amdahl_like_function():
    p = np.array([1, 2, 4, 8, 16, 32, 64.0])
    y = 0.5 + 12.0 / p
    f = fit(p, y)
    assert f.terms == ((-1.0, 0),)
    assert np.allclose(f.coefficients, [0.5, 12.0])
    assert f.loo_error < 1e-9 and "p^-1" in f.formula()


def test_recovers_log_term():
    p = np.array([1, 2, 4, 8, 16, 32.0])
    y = 2.0 + 0.25 * np.log2(p)
    f = fit(p, y)
    assert f.terms == ((0.0, 1),) and np.allclose(f(p), y)


def test_round_trip_and_too_few_points():
    f = fit(np.array([1, 2, 4, 8.0]), np.array([8.0, 4.1, 2.2, 1.2]))
    g = Fit.from_dict(f.to_dict())
    assert np.allclose(g(np.array([3.0, 5.0])), f(np.array([3.0, 5.0])))
    with pytest.raises(CnnperfError, match=">= 3 thread counts"):
        fit(np.array([1, 2.0]), np.array([1.0, 0.5]))


def test_metrics():
    assert paper_delta(110, 100) == pytest.approx(0.10)  # divides by the prediction
    assert relative_error(110, 100) == pytest.approx(-10 / 110)
    s = summarize("b", "small", [100, 200], [110, 180])
    assert s.mean_abs_error == pytest.approx((0.1 + 0.1) / 2) and s.max_delta == pytest.approx(20 / 180)
