"""Fits of the machine model: NNLS, model choice by cross-validation, contention; synthetic data
with known coefficients must be recovered (several seeds)."""

import itertools

import numpy as np
import pytest

from cnnperf.lsq import nnls
from cnnperf.models.machine_fit import cv_error, fit_contention, select_kernel, select_term


@pytest.mark.parametrize("seed", range(6))
def test_nnls_equals_the_best_active_set(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(12, 4)), rng.normal(size=12)
    x = nnls(a, b)
    assert (x >= 0).all()
    best = min((np.linalg.norm(a[:, list(s)] @ np.linalg.lstsq(a[:, list(s)], b, rcond=None)[0] - b), s)
               for n in range(5) for s in itertools.combinations(range(4), n)
               if not s or (np.linalg.lstsq(a[:, list(s)], b, rcond=None)[0] >= 0).all())
    assert np.linalg.norm(a @ x - b) == pytest.approx(best[0], rel=1e-6, abs=1e-9)


def _grid(rng, n=80):
    rows = []
    for _ in range(n):
        macs = float(np.exp(rng.uniform(np.log(1e3), np.log(1e7))))
        rows.append({"one": 1.0, "macs": macs, "macs_vec": macs * rng.uniform(1.0, 1.3),
                     "outputs": macs / rng.uniform(20, 500), "col": macs / rng.uniform(5, 100)})
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_linear_law_is_recovered_with_noise(seed):
    rng = np.random.default_rng(seed)
    rows = _grid(rng)
    y = np.array([4e-7 + 2e-10 * r["macs_vec"] + 3e-9 * r["outputs"] for r in rows])
    y *= 1 + rng.uniform(0, 0.03, len(y))  # one-sided noise: interference only slows
    k = select_kernel("forward:conv_gemm", rows, y)
    assert k.form == "linear" and set(k.features) == {"one", "macs_vec", "outputs"}
    c = dict(zip(k.features, k.coefficients))
    assert c["macs_vec"] == pytest.approx(2e-10, rel=0.05) and c["outputs"] == pytest.approx(3e-9, rel=0.15)
    assert k.cv_error < 0.03 and k.points == len(rows)
    assert set(k.ranges) >= {"macs", "outputs"} and k.ranges["macs"][0] >= 1e3


def test_a_roofline_law_is_recognised():
    rng = np.random.default_rng(4)
    rows = _grid(rng, 120)
    y = np.array([1e-6 + max(1e-10 * r["macs"], 4e-9 * r["col"]) for r in rows])
    k = select_kernel("forward:conv_gemm", rows, y)
    assert k.form == "roofline" and k.cv_error < 0.01
    assert k.alternatives["linear"]["cv_error"] > k.cv_error


def test_the_simpler_form_wins_within_the_noise():
    """y = c * macs plus 10 % noise: extra terms would only fit the noise."""
    rng = np.random.default_rng(5)
    rows = _grid(rng)
    y = np.array([1e-9 * r["macs"] for r in rows]) * (1 + rng.uniform(0, 0.1, len(rows)))
    k = select_kernel("forward:full", rows, y)
    assert len(k.features) <= 2 and ("macs" in k.features or "macs_vec" in k.features), k.features


def test_cross_validation_predicts_points_it_did_not_fit():
    rng = np.random.default_rng(6)
    rows = _grid(rng, 40)
    y = np.array([2e-9 * r["macs"] for r in rows])
    assert cv_error("linear", rows, y, ("one", "macs")) < 1e-6
    y_bad = y.copy()
    y_bad[::2] *= 3  # half the points follow another law: held-out errors show it
    assert cv_error("linear", rows, y_bad, ("one", "macs")) > 0.3


def test_network_term_and_contention_model():
    rows = [{"one": 1.0, "inputs": float(i), "layers": float(n)} for i in (100, 400, 841) for n in (3, 5, 8)]
    y = [1e-7 + 2e-10 * r["inputs"] for r in rows]
    t = select_term(rows, y, ("inputs", "layers"))
    assert t.features == ("one", "inputs") and t.coefficients[1] == pytest.approx(2e-10, rel=1e-6)
    w = [2.6e4, 3.0e5, 1.5e6, 4e6]
    measured = {1: [0.0] * 4, 2: [1e-6 + 2e-12 * x for x in w], 4: [3e-6 + 5e-12 * x for x in w]}
    c = fit_contention(w, measured)
    assert c.threads == (1, 2, 4) and c.networks == 4
    assert c.c1_s_per_byte[1] == pytest.approx(2e-12, rel=1e-6) and c.c0_s[2] == pytest.approx(3e-6, rel=1e-6)
    assert c.cv_error < 1e-6
    assert c.at(1e6)[1][1] == pytest.approx(1e-6 + 2e-6)


def test_contention_that_follows_the_step_time_is_recognised_as_such():
    """Networks whose contention is 20 % of their single-thread step (a shared-resource slowdown)
    and does not depend on their weights: the T form wins and predicts a left-out network."""
    rng = np.random.default_rng(8)
    w = np.exp(rng.uniform(np.log(1e4), np.log(4e6), 6))
    t = np.exp(rng.uniform(np.log(2e-5), np.log(2e-3), 6))
    measured = {1: [0.0] * 6, 2: list(0.2 * t * (1 + rng.uniform(0, 0.02, 6)))}
    c = fit_contention(w, measured, t)
    assert c.form == "T" and c.c2_per_step[1] == pytest.approx(0.2, rel=0.03) and c.c1_s_per_byte[1] == 0.0
    assert c.at(1e5, 1e-3)[1][1] == pytest.approx(2e-4, rel=0.05)
    both = {1: [0.0] * 6, 2: list(1e-12 * w + 0.1 * t)}
    assert fit_contention(w, both, t).form == "W+T"
    assert fit_contention(w, {2: list(3e-12 * w)}, t).form == "W"
