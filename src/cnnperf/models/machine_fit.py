"""Fitting the machine model of strategy (d) (`hardware.machine_model`): per kernel path a
cost model chosen by cross-validation on the calibration grid, the per-image overheads,
TPrep, and the network-independent contention model.

Cost forms tried per kernel: "linear", t = sum_k c_k * feature_k over every subset of up to
`MAX_TERMS` features of the kernel plus a constant, and "roofline", t = c0 + max(c1 * compute,
c2 * memory) for a compute feature (multiply-adds) and a memory feature; coefficients >= 0
(non-negative least squares on relative errors: the grid spans three orders of magnitude).
The choice: the lowest K-fold cross-validated mean |relative error|, except that a form with
fewer terms wins when its error is within `NOISE_MARGIN` of the best (differences that small
are the machine's noise, not structure).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from cnnperf.hardware.machine_model import ContentionModel, KernelModel, LinearTerm
from cnnperf.lsq import nnls

MAX_TERMS = 4
FOLDS = 5
NOISE_MARGIN = 0.10  # relative: within 10 % of the best cross-validated error counts as a tie
COMPUTE = ("macs", "macs_vec")


def _design(rows: Sequence[dict], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=float)


def _fit_linear(rows, y, names) -> np.ndarray:
    a = _design(rows, names) / y[:, None]  # relative residuals
    return nnls(a, np.ones(len(y)))


def _predict_linear(rows, names, coef) -> np.ndarray:
    return _design(rows, names) @ coef


def _fit_roofline(rows, y, names) -> np.ndarray:
    """c0 + max(c1 * compute, c2 * memory): the balance ratio c2 / c1 by a log grid search."""
    one, compute, memory = names
    x_c, x_m = _design(rows, [compute])[:, 0], _design(rows, [memory])[:, 0]

    def search(ratios, best):
        for r in ratios:
            z = np.maximum(x_c, r * x_m)
            c = nnls(np.stack([np.ones_like(z), z], axis=1) / y[:, None], np.ones(len(y)))
            err = float(np.mean(np.abs((c[0] + c[1] * z) / y - 1)))
            if best is None or err < best[0]:
                best = (err, r, np.array([c[0], c[1], c[1] * r]))
        return best

    coarse = np.geomspace(1e-4, 1e4, 41) * (x_c.mean() / max(x_m.mean(), 1e-30))
    best = search(coarse, None)
    step = coarse[1] / coarse[0]
    best = search(np.geomspace(best[1] / step, best[1] * step, 41), best)  # refine around the coarse optimum
    return best[2]


def _predict_roofline(rows, names, coef) -> np.ndarray:
    _, compute, memory = names
    return coef[0] + np.maximum(coef[1] * _design(rows, [compute])[:, 0], coef[2] * _design(rows, [memory])[:, 0])


FORMS = {"linear": (_fit_linear, _predict_linear), "roofline": (_fit_roofline, _predict_roofline)}


def cv_error(form: str, rows, y, names, folds: int = FOLDS, seed: int = 0) -> float:
    """Mean |relative error| of K-fold cross-validation (every point predicted by a fit without it)."""
    fit, predict = FORMS[form]
    k = min(folds, len(y))
    order = np.random.default_rng(seed).permutation(len(y))
    pred = np.empty(len(y))
    for j in range(k):
        test = order[j::k]
        train = np.setdiff1d(order, test)
        coef = fit([rows[i] for i in train], y[train], names)
        pred[test] = predict([rows[i] for i in test], names, coef)
    return float(np.mean(np.abs(pred / y - 1)))


def candidates(pool: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(form, features) hypotheses for a kernel whose features are `pool` (without "one")."""
    out = [("linear", ("one", *c)) for n in range(1, MAX_TERMS + 1) for c in itertools.combinations(pool, n)]
    out += [("roofline", ("one", c, m)) for c in pool if c in COMPUTE for m in pool if m not in COMPUTE]
    return out


def _size(form: str, names: tuple[str, ...]) -> int:
    return len(names) + (1 if form == "roofline" else 0)


def select_kernel(key: str, rows: Sequence[dict], seconds: Sequence[float]) -> KernelModel:
    """The cross-validated cost model of kernel `key` from grid points (features, seconds)."""
    y = np.asarray(seconds, dtype=float)
    keep = y > 0
    rows, y = [r for r, k in zip(rows, keep) if k], y[keep]
    pool = sorted({n for r in rows for n in r if n != "one"})
    if len(y) < 3 or not pool:  # too few points to choose: a constant
        c = float(np.median(y)) if len(y) else 0.0
        return KernelModel(key, "linear", ("one",), (c,), 1.0, 0.0, len(y))
    scored = [(cv_error(form, rows, y, names), form, names) for form, names in candidates(pool)]
    best = min(s[0] for s in scored)
    tied = [s for s in scored if s[0] <= best * (1 + NOISE_MARGIN) + 1e-9]
    err, form, names = min(tied, key=lambda s: (_size(s[1], s[2]), s[0]))
    fit, predict = FORMS[form]
    coef = fit(rows, y, names)
    fit_err = float(np.mean(np.abs(predict(rows, names, coef) / y - 1)))
    ranges = {n: [float(min(r.get(n, 0.0) for r in rows)), float(max(r.get(n, 0.0) for r in rows))] for n in pool}
    alternatives = {}
    for e, f, n in sorted(scored):
        alternatives.setdefault(f, {"features": list(n), "cv_error": e})
    return KernelModel(key, form, tuple(names), tuple(float(c) for c in coef), err, fit_err, len(y), ranges,
                       alternatives)


def select_term(rows: Sequence[dict], seconds: Sequence[float], pool: Sequence[str]) -> LinearTerm:
    """A network-level linear term (overheads, TPrep) chosen as the kernels are."""
    y = np.asarray(seconds, dtype=float)
    rows = list(rows)
    if len(y) < 3:
        return LinearTerm(("one",), (float(np.median(y)) if len(y) else 0.0,), 1.0)
    hyps = [("one",)] + [("one", *c) for n in (1, 2) for c in itertools.combinations(pool, n)]
    scored = [(cv_error("linear", rows, y, h), h) for h in hyps]
    best = min(s[0] for s in scored)
    err, names = min((s for s in scored if s[0] <= best * (1 + NOISE_MARGIN) + 1e-9), key=lambda s: (len(s[1]), s[0]))
    return LinearTerm(tuple(names), tuple(float(c) for c in _fit_linear(rows, y, names)), err)


CONTENTION_FORMS = {"W": (1,), "T": (2,), "W+T": (1, 2)}  # columns besides the constant: 1 = W, 2 = T


def _contention_design(w, t, form: str) -> np.ndarray:
    cols = [np.ones_like(w), w, t]
    return np.stack([cols[0], *(cols[k] for k in CONTENTION_FORMS[form])], axis=1)


def _weighted(a: np.ndarray, mc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """c >= 0 minimising sum(((a c - mc) / scale)^2): each network's misfit as a share of its step."""
    return nnls(a / scale[:, None], mc / scale)


def _lono(a: np.ndarray, mc: np.ndarray, scale: np.ndarray) -> list[float]:
    """Leave-one-network-out |errors| relative to each network's `scale` (its step time: what the
    error does to a prediction)."""
    out = []
    for k in range(len(mc)):
        keep = np.arange(len(mc)) != k
        out.append(abs(float(a[k] @ _weighted(a[keep], mc[keep], scale[keep])) - mc[k]) / scale[k])
    return out


def fit_contention(weight_bytes: Sequence[float], measured: dict[int, Sequence[float]],
                   step_seconds: Sequence[float] | None = None) -> ContentionModel:
    """MemoryContention(p) = c0(p) + c1(p) W + c2(p) T per thread count p (hardware.machine_model.
    ContentionModel), from networks writing `weight_bytes` per image with single-thread steps of
    `step_seconds` whose contention at p is `measured[p]` (seconds per image; p = 1: 0). Least
    squares with c >= 0 on the misfit as a share of each network's step (what it does to a
    prediction; unweighted without steps). The form (W, T or W+T) has the lowest
    leave-one-network-out error over all p, measured the same way; within NOISE_MARGIN of it a
    form with fewer terms wins, and among those W, the primary effect (every image writes every
    weight). A form needs a network more than it has coefficients, else W alone."""
    w = np.asarray(weight_bytes, dtype=float)
    t = np.zeros_like(w) if step_seconds is None else np.asarray(step_seconds, dtype=float)
    scale = t if t.all() else np.ones_like(w)
    ps = [p for p in sorted(measured) if p > 1]
    forms = [f for f in CONTENTION_FORMS if len(w) > len(CONTENTION_FORMS[f]) + 1 and (f == "W" or t.any())]
    scored = {}
    for form in forms or ["W"]:
        errs = [e for p in ps for e in _lono(_contention_design(w, t, form), np.asarray(measured[p], float), scale)] \
            if len(w) > len(CONTENTION_FORMS[form]) + 1 else []
        scored[form] = float(np.mean(errs)) if errs else 1.0
    best = min(scored.values())
    form = min((f for f in scored if scored[f] <= best * (1 + NOISE_MARGIN) + 1e-9),
               key=lambda f: (len(CONTENTION_FORMS[f]), f != "W", scored[f]))
    c0, c1, c2 = [], [], []
    for p in sorted(measured):
        mc = np.asarray(measured[p], dtype=float)
        coef = _weighted(_contention_design(w, t, form), mc, scale) if len(w) >= 2 else \
            np.array([0.0, mc[0] / max(w[0], 1.0)])
        full = dict(zip((0, *CONTENTION_FORMS[form]), coef))
        c0.append(float(full.get(0, 0.0)))
        c1.append(float(full.get(1, 0.0)))
        c2.append(float(full.get(2, 0.0)))
    return ContentionModel(tuple(sorted(measured)), tuple(c0), tuple(c1), scored[form], len(w), tuple(c2), form)
