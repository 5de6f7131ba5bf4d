"""Strategy (c), empirical: measured times fitted with performance-model normal form terms
(Extra-P's PMNF for one parameter): y(p) = c0 + sum_k c_k * p^a_k * log2(p)^b_k with one or
two terms, exponents from a small set, least squares, hypothesis chosen by leave-one-out
cross-validation. y is seconds per training image per epoch (T / (i * ep)), divided by the
profile's time-slicing factor max(1, p / hardware threads) when it has one (so the kink where
threads start sharing cores is structure, not something the PMNF must bend around);
predicting other i, it or ep scales linearly and assumes the fit data's ratio it / i.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile, NetworkParams
from cnnperf.models.base import Prediction, as_arrays, missing_entry, params_of, total_text

NAME = "c"
LABEL = "(c) empirical"
WHOLE_RUN = True  # fitted to whole runs: the phases and contention are not separable
EQUATION = ("T = i * ep * slice(p) * ( c0 + sum_k c_k * p^a_k * log2(p)^b_k )"
            "   (fitted, leave-one-out cross-validated; slice(p) = max(1, p / hardware threads))")
EXPONENTS_A = (-1.0, -0.75, -2 / 3, -0.5, -1 / 3, -0.25, 0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0)
EXPONENTS_B = (0, 1, 2)


@dataclass(frozen=True)
class Fit:
    terms: tuple[tuple[float, int], ...]  # (a, b) per term
    coefficients: tuple[float, ...]  # c0, c1, ...
    loo_error: float  # mean |relative error| of leave-one-out predictions
    loo_predictions: tuple[float, ...]

    def __call__(self, p) -> np.ndarray:
        return _design(np.asarray(p, dtype=float), self.terms) @ np.array(self.coefficients)

    def formula(self) -> str:
        parts = [f"{self.coefficients[0]:.4g}"]
        for (a, b), c in zip(self.terms, self.coefficients[1:]):
            factor = "" if a == 0 else (f"p^{a:.3g}" if a != 1 else "p")
            log = "" if b == 0 else ("log2(p)" if b == 1 else f"log2(p)^{b}")
            parts.append(f"{c:+.4g}" + "".join(f" * {x}" for x in (factor, log) if x))
        return " ".join(parts)

    def to_dict(self) -> dict:
        return {"formula": self.formula(), "exponents_a": [a for a, _ in self.terms],
                "exponents_b": [b for _, b in self.terms], "coefficients": list(self.coefficients),
                "loo_error": self.loo_error, "unit": "seconds per training image per epoch"}

    @classmethod
    def from_dict(cls, d: dict, where: str = "empirical fit") -> Fit:
        try:
            a, b, c = (list(d[k]) for k in ("exponents_a", "exponents_b", "coefficients"))
            if len(a) != len(b) or len(c) != len(a) + 1 or not all(isinstance(v, (int, float)) for v in a + b + c):
                raise ValueError("lengths or types do not match")
        except (KeyError, TypeError, ValueError) as exc:
            raise CnnperfError(f"{where} is malformed ({exc}); run 'cnnperf validate' again to refit it") from None
        return cls(tuple(zip(a, (int(v) for v in b))), tuple(float(v) for v in c), float(d.get("loo_error", 0.0)), ())


def _design(p: np.ndarray, terms) -> np.ndarray:
    cols = [np.ones_like(p)]
    lg = np.log2(np.maximum(p, 1.0))
    for a, b in terms:
        cols.append(p ** a * lg ** b)
    return np.stack(cols, axis=-1)


def _lstsq(p, y, terms):
    coef, *_ = np.linalg.lstsq(_design(p, terms), y, rcond=None)
    return coef


def hypotheses(max_terms: int = 2):
    single = [(a, b) for a in EXPONENTS_A for b in EXPONENTS_B if (a, b) != (0.0, 0)]
    yield ()
    yield from ((t,) for t in single)
    if max_terms >= 2:
        yield from itertools.combinations(single, 2)


def fit(p, y, max_terms: int = 2) -> Fit:
    """Best hypothesis by leave-one-out mean |relative error| (ties: fewer terms, listed first)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if len(p) < 3:
        raise CnnperfError(f"strategy (c) needs measurements at >= 3 thread counts, got {len(p)}")
    best = None
    for terms in hypotheses(max_terms):
        if len(terms) + 1 > len(p) - 1:  # LOO needs more points than coefficients
            continue
        loo = np.empty_like(y)
        for k in range(len(p)):
            keep = np.arange(len(p)) != k
            loo[k] = (_design(p[k:k + 1], terms) @ _lstsq(p[keep], y[keep], terms))[0]
        err = float(np.mean(np.abs(loo - y) / y))
        if best is None or err < best[0] - 1e-12:
            best = (err, terms, loo)
    err, terms, loo = best
    return Fit(terms, tuple(float(c) for c in _lstsq(p, y, terms)), err, tuple(float(v) for v in loo))


def requires(net, profile: HardwareProfile) -> str | None:
    missing = missing_entry(net, profile)
    if missing:
        return missing
    params = params_of(net, profile)
    if not params.empirical:
        return (f"profile {profile.name} has no empirical fit for {params.name}; run 'cnnperf validate' and use the "
                "profile it writes (profile-with-empirical.toml)")
    return None


def predict(net, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (c): the empirical fit stored in the profile (written by `cnnperf validate`).
    Fitted to whole runs, its value is reported in the term `train` (the others are 0)."""
    problem = requires(net, profile)
    if problem:
        raise CnnperfError(problem)
    params = params_of(net, profile)
    p, i, it, ep = as_arrays(p, i, it, ep)
    f = Fit.from_dict(params.empirical, f"profile {profile.name}: networks.{params.name}.empirical")
    total = f(p) * i * ep * profile.time_slice_at(p)
    zero = np.zeros_like(total)
    terms = {"prep": zero, "train": total, "validate": zero, "test": zero, "mem": zero}
    return Prediction(NAME, params.name, p, i, it, ep, terms, np.ones_like(total), profile.threads_per_core_at(p),
                      f"{EQUATION}\n  fitted: y(p) = {f.formula()}", profile.time_slice_at(p),
                      ("strategy (c) is fitted to whole runs: its value is in the term 'train', the others are 0",),
                      {"formula": f.formula()})


def substitute(net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
    """The fitted PMNF with row j's numbers."""
    p, i, ep, sl = (pred.value(k, j) for k in ("p", "images", "epochs", "time_slice"))
    return f"T = {i:.0f} * {ep:.0f} * {sl:.4g} * y({p:.0f}),  y(p) = {pred.inputs['formula']}\n" + total_text(pred, j)


def fit_runs(net: NetworkParams, profile: HardwareProfile, p, seconds, i: int, it: int, ep: int
             ) -> tuple[NetworkParams, np.ndarray]:
    """Fit measured whole-run seconds at thread counts p. Returns the entry with the fit stored
    (`empirical`) and the leave-one-out predictions in seconds (honest in-sample errors)."""
    p = np.asarray(p, dtype=float)
    scale = i * ep * profile.time_slice_at(p)
    f = fit(p, np.asarray(seconds, dtype=float) / scale)
    stored = {**f.to_dict(), "fitted_on": f"i={i}, it={it}, ep={ep}, p={','.join(str(int(q)) for q in p)}"}
    return replace(net, empirical=stored), np.array(f.loo_predictions) * scale


MIN_POINTS = 3  # distinct thread counts fit_runs needs


def describe_fit(net: NetworkParams) -> str:
    """One line on the fit stored in `net` (for reports)."""
    f = Fit.from_dict(net.empirical, f"networks.{net.name}.empirical")
    return (f"{LABEL}: y(p) = {f.formula()}  [s per training image per epoch, before time slicing]; "
            f"leave-one-out mean |error| {f.loo_error:.1%}")
