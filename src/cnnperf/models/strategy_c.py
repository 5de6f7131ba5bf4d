"""Strategy (c), empirical: measured times fitted with performance-model normal form terms
(Extra-P's PMNF for one parameter): y(p) = c0 + sum_k c_k * p^a_k * log2(p)^b_k with one or
two terms, exponents from a small set. y is seconds per training image per epoch (T / (i * ep)),
divided by the profile's time-slicing factor max(1, p / hardware threads) when it has one (so
the kink where threads start sharing cores is structure, not something the PMNF must bend
around); predicting other i, it or ep scales linearly and assumes the fit data's ratio it / i.

It must not overfit noise:
- least squares of the relative residuals (the noise is relative);
- noise-aware hypothesis selection (`choose`): the simplest form (`complexity`: terms and shape
  features) that explains the data within the measured noise (chi-square), as Extra-P prefers
  the simpler model when the difference is within the noise; among equally simple ones,
  leave-one-out cross-validation (exact, from the hat matrix) decides; without a usable noise
  figure, the one-standard-error rule on it;
- only forms that stay positive up to 100x the fitted range (times are positive);
- the reported error is nested: each held-out point is predicted by a form chosen without it;
- >= 3 distinct thread counts (MIN_POINTS); with 2 points left in a fold the form is the
  prior c0 + c1 / p (Amdahl), as no choice can be cross-validated;
- the coefficients' covariance (residual or measured noise, whichever is larger) gives (c)
  its prediction interval; every p beyond the fitted range is flagged with the factor.
"""

from __future__ import annotations

import functools
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
            "   (fitted; form chosen by nested cross-validation within the measured noise;"
            " slice(p) = max(1, p / hardware threads))")
EXPONENTS_A = (-1.0, -0.75, -2 / 3, -0.5, -1 / 3, -0.25, 0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0)
EXPONENTS_B = (0, 1, 2)
MIN_POINTS = 3  # distinct thread counts fit_runs needs (4 or more let the nested cross-validation choose forms)
PRIOR = ((-1.0, 0),)  # c0 + c1/p: the form used where too few points remain to choose one
CHI2_LEVEL = 0.99  # a more complex form needs every simpler one rejected at this level


@dataclass(frozen=True)
class Fit:
    terms: tuple[tuple[float, int], ...]  # (a, b) per term
    coefficients: tuple[float, ...]  # c0, c1, ...
    cv_error: float  # mean |relative error| of the nested leave-one-out predictions
    cv_predictions: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...] = ()
    fitted_p: tuple[float, ...] = ()
    noise: float = 0.0  # the relative noise of the fitted points the choice allowed for

    @property
    def loo_error(self) -> float:
        """The held-out (leave-one-out) error; nested: the form was chosen without the point."""
        return self.cv_error

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
                "covariance": [list(r) for r in self.covariance], "cv_error": self.cv_error,
                "fitted_p": list(self.fitted_p), "noise": self.noise,
                "selection": "nested leave-one-out cross-validation, simplest form within the noise",
                "unit": "seconds per training image per epoch"}

    @classmethod
    def from_dict(cls, d: dict, where: str = "empirical fit") -> Fit:
        try:
            a, b, c = (list(d[k]) for k in ("exponents_a", "exponents_b", "coefficients"))
            cov = [list(r) for r in d.get("covariance", [])]
            ps = list(d.get("fitted_p") or _fitted_p(d.get("fitted_on", "")))
            if len(a) != len(b) or len(c) != len(a) + 1 or not all(isinstance(v, (int, float)) for v in a + b + c):
                raise ValueError("lengths or types do not match")
            if cov and (len(cov) != len(c) or any(len(r) != len(c) for r in cov)):
                raise ValueError("covariance does not match the coefficients")
        except (KeyError, TypeError, ValueError) as exc:
            raise CnnperfError(f"{where} is malformed ({exc}); run 'cnnperf validate' again to refit it") from None
        error = float(d.get("cv_error", d.get("loo_error", 0.0)))  # loo_error: profiles of cnnperf 0.1
        return cls(tuple(zip(a, (int(v) for v in b))), tuple(float(v) for v in c), error, (),
                   tuple(tuple(float(v) for v in r) for r in cov), tuple(float(v) for v in ps),
                   float(d.get("noise", 0.0)))


def _fitted_p(fitted_on: str) -> list[float]:
    """The thread counts of an old fit's `fitted_on` text ('i=..., p=1,2,4'); [] if absent."""
    tail = fitted_on.rpartition("p=")[2]
    try:
        return [float(v) for v in tail.split(",") if v.strip()] if "p=" in fitted_on else []
    except ValueError:
        return []


def _design(p: np.ndarray, terms) -> np.ndarray:
    cols = [np.ones_like(p)]
    lg = np.log2(np.maximum(p, 1.0))
    for a, b in terms:
        cols.append(p ** a * lg ** b)
    return np.stack(cols, axis=-1)


def term_complexity(a: float, b: int) -> int:
    """Occam's order of one term: a fractional exponent, each log power and |a| > 1 add one."""
    return int(a != round(a)) + int(b) + int(abs(a) > 1)


def complexity(terms) -> int:
    """Terms plus shape features (a description length): each term costs one, and so does each
    fractional exponent, log power and |a| > 1; c0 + c1/p is 1, c0 + c1 p^-0.667 log2(p) is 3,
    c0 + c1/p + c2 p is 2. Simpler forms need less evidence."""
    return len(terms) + sum(term_complexity(a, b) for a, b in terms)


def chi2_quantile(dof: int, level: float = 0.99) -> float:
    """The chi-square quantile by Wilson and Hilferty's approximation (within 1 % for dof >= 1)."""
    from statistics import NormalDist
    z = NormalDist().inv_cdf(level)
    return dof * (1 - 2 / (9 * dof) + z * (2 / (9 * dof)) ** 0.5) ** 3


def _singles() -> list[tuple[float, int]]:
    return [(a, b) for a in EXPONENTS_A for b in EXPONENTS_B if (a, b) != (0.0, 0)]


@functools.cache
def hypotheses(max_terms: int = 2) -> tuple[tuple[tuple[float, int], ...], ...]:
    single = _singles()
    out = [(), *((t,) for t in single)]
    if max_terms >= 2:
        out += list(itertools.combinations(single, 2))
    return tuple(out)


@functools.cache
def _groups(max_terms: int) -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
    """Per number of terms k: (k, positions in hypotheses(), indices of the terms in _singles())."""
    single = {t: j for j, t in enumerate(_singles())}
    hyps = hypotheses(max_terms)
    out = []
    for k in sorted({len(h) for h in hyps}):
        pos = np.array([j for j, h in enumerate(hyps) if len(h) == k])
        out.append((k, pos, np.array([[single[t] for t in hyps[j]] for j in pos], dtype=int).reshape(len(pos), k)))
    return tuple(out)


def _designs(p: np.ndarray, terms_idx: np.ndarray) -> np.ndarray:
    """Design matrices (H, n, k+1) of the hypotheses whose term indices are `terms_idx` (H, k)."""
    a = np.array([t[0] for t in _singles()])[:, None]
    b = np.array([t[1] for t in _singles()])[:, None]
    cols = p[None, :] ** a * np.log2(np.maximum(p, 1.0))[None, :] ** b  # (T, n)
    x = cols[terms_idx].transpose(0, 2, 1)  # (H, n, k)
    return np.concatenate([np.ones((len(terms_idx), len(p), 1)), x], axis=2)


def _wls(p, y, terms) -> np.ndarray:
    """Coefficients minimising the relative residuals sum ((X c - y) / y)^2."""
    xw = _design(p, terms) / y[:, None]
    return np.linalg.lstsq(xw, np.ones_like(y), rcond=None)[0]


def loo_scores(p, y, max_terms: int = 2) -> tuple[np.ndarray, ...]:
    """Per hypothesis of `hypotheses(max_terms)`: the mean |relative leave-one-out error| (exact
    for least squares: the held-out residual is r_i / (1 - h_ii)), its standard error, the sum of
    squared relative residuals of the fit on all points, and whether that fit stays positive from
    p = 1 to 100x the largest p (times are positive wherever one may ask; a form that turns
    negative there is physically impossible). Vectorised over the hypotheses of each size."""
    n = len(p)
    size = len(hypotheses(max_terms))
    err, se, ssr = (np.full(size, np.inf) for _ in range(3))
    ok = np.zeros(size, bool)
    grid = np.geomspace(min(1.0, p.min()), 100 * p.max(), 24)
    for k, pos, idx in _groups(max_terms):
        if k + 1 > n - 1:
            continue
        xw = _designs(p, idx) / y[None, :, None]  # (H, n, k+1)
        pinv = np.linalg.pinv(xw)
        coef = pinv @ np.ones(n)  # (H, k+1)
        resid = 1.0 - np.einsum("hnk,hk->hn", xw, coef)
        lev = np.einsum("hnk,hkn->hn", xw, pinv)
        safe = 1 - lev > 1e-9
        loo = np.abs(resid / np.where(safe, 1 - lev, 1.0))
        good = safe.all(axis=1) & np.isfinite(loo).all(axis=1)
        positive = np.all(np.einsum("hgk,hk->hg", _designs(grid, idx), coef) > 0, axis=1)
        err[pos] = np.where(good, loo.mean(axis=1), np.inf)
        se[pos] = np.where(good, loo.std(axis=1, ddof=1) / np.sqrt(n), np.inf)
        ssr[pos] = (resid ** 2).sum(axis=1)
        ok[pos] = good & positive
    return err, se, ssr, ok


def choose(p, y, noise: float = 0.0, max_terms: int = 2) -> tuple[tuple[float, int], ...]:
    """The hypothesis for (p, y), noise-aware: the simplest whose fit is consistent with the
    measured relative `noise` (sum of squared relative residuals <= noise^2 x the 99 % chi-square
    quantile: only strong evidence buys complexity), among those the lowest leave-one-out error.
    Without a consistent one (noise unknown or underestimated): the simplest within one
    standard error of the best leave-one-out error (the one-standard-error rule)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if len(p) <= 2:
        return PRIOR if len(p) == 2 else ()
    hyps = hypotheses(max_terms)
    err, se, ssr, ok = loo_scores(p, y, max_terms)
    if not ok.any():
        return PRIOR
    dof = [max(len(p) - len(h) - 1, 1) for h in hyps]
    limit = [noise ** 2 * chi2_quantile(d, CHI2_LEVEL) + 1e-18 for d in dof]
    within = [j for j in range(len(hyps)) if ok[j] and ssr[j] <= limit[j]]
    if not within:
        best = int(np.argmin(np.where(ok, err, np.inf)))
        within = [j for j in range(len(hyps)) if ok[j] and err[j] <= err[best] + se[best] + 1e-9]
    return hyps[min(within, key=lambda j: (complexity(hyps[j]), err[j]))]


def fit(p, y, max_terms: int = 2, noise: float = 0.0) -> Fit:
    """The chosen form fitted to all points, its nested leave-one-out error and covariance."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if len(set(p.tolist())) < MIN_POINTS:
        raise CnnperfError(f"strategy (c) needs measurements at >= {MIN_POINTS} thread counts (distinct; 4 or more "
                           f"let cross-validation choose the form), got {len(set(p.tolist()))}")
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise CnnperfError("strategy (c) needs positive measured times")
    terms = choose(p, y, noise, max_terms)
    coef = _wls(p, y, terms)
    held = np.empty_like(y)
    for k in range(len(p)):  # nested: the held-out point takes no part in choosing the form
        keep = np.arange(len(p)) != k
        t_k = choose(p[keep], y[keep], noise, max_terms)
        held[k] = (_design(p[k:k + 1], t_k) @ _wls(p[keep], y[keep], t_k))[0]
    return Fit(terms, tuple(float(c) for c in coef), float(np.mean(np.abs(held - y) / y)),
               tuple(float(v) for v in held), _covariance(p, y, terms, coef, noise), tuple(float(v) for v in p), noise)


def _covariance(p, y, terms, coef, noise: float) -> tuple[tuple[float, ...], ...]:
    """s^2 (Xw' Xw)^-1, Xw = X / y; s the relative residual scatter or the measured noise, whichever is larger."""
    xw = _design(p, terms) / y[:, None]
    resid = 1.0 - xw @ coef
    dof = len(p) - len(coef)
    s2 = max(float(resid @ resid) / dof if dof > 0 else 0.0, noise ** 2)
    cov = s2 * np.linalg.pinv(xw.T @ xw)
    return tuple(tuple(float(v) for v in row) for row in cov)


def requires(net, profile: HardwareProfile) -> str | None:
    missing = missing_entry(net, profile)
    if missing:
        return missing
    params = params_of(net, profile)
    if not params.empirical:
        return (f"profile {profile.name} has no empirical fit for {params.name}; run 'cnnperf validate' and use the "
                "profile it writes (profile-with-empirical.toml)")
    if params.empirical.get("fitted") is False:
        return f"strategy (c) was not fitted for {params.name}: {params.empirical.get('reason', 'no reason given')}"
    return None


def predict(net, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (c): the empirical fit stored in the profile (written by `cnnperf validate`).
    Fitted to whole runs, its value is reported in the term `train` (the others are 0); every
    p beyond the fitted thread counts is flagged with its factor of extrapolation."""
    problem = requires(net, profile)
    if problem:
        raise CnnperfError(problem)
    params = params_of(net, profile)
    p, i, it, ep = as_arrays(p, i, it, ep)
    f = Fit.from_dict(params.empirical, f"profile {profile.name}: networks.{params.name}.empirical")
    total = f(p) * i * ep * profile.time_slice_at(p)
    zero = np.zeros_like(total)
    terms = {"prep": zero, "train": total, "validate": zero, "test": zero, "mem": zero}
    pred = Prediction(NAME, params.name, p, i, it, ep, terms, np.ones_like(total), profile.threads_per_core_at(p),
                      f"{EQUATION}\n  fitted: y(p) = {f.formula()}", profile.time_slice_at(p),
                      ("strategy (c) is fitted to whole runs: its value is in the term 'train', the others are 0",),
                      {"formula": f.formula()})
    return _extrapolation(pred, f)


def _extrapolation(pred: Prediction, f: Fit) -> Prediction:
    if not f.fitted_p:
        return pred
    lo, hi = min(f.fitted_p), max(f.fitted_p)
    p = pred.column(pred.p)
    factor = np.maximum(p / hi, lo / p)
    flags = tuple(f"extrapolated {x:.3g}x beyond the fitted p = {lo:g}-{hi:g}" if x > 1 else "" for x in factor)
    if factor.max() <= 1:
        return pred
    note = (f"strategy (c) asked up to {factor.max():.3g}x beyond its fitted range p = {lo:g}-{hi:g}: the fitted "
            "form is no evidence there")
    return replace(pred, flags=flags, notes=pred.notes + (note,))


def substitute(net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
    """The fitted PMNF with row j's numbers."""
    p, i, ep, sl = (pred.value(k, j) for k in ("p", "images", "epochs", "time_slice"))
    return f"T = {i:.0f} * {ep:.0f} * {sl:.4g} * y({p:.0f}),  y(p) = {pred.inputs['formula']}\n" + total_text(pred, j)


def fit_runs(net: NetworkParams, profile: HardwareProfile, p, seconds, i: int, it: int, ep: int,
             spread=None) -> tuple[NetworkParams, np.ndarray]:
    """Fit measured whole-run seconds at thread counts p; `spread`: each point's relative noise
    (e.g. half the range of its repeats over their median). Returns the entry with the fit
    stored (`empirical`) and the nested leave-one-out predictions in seconds (honest errors)."""
    p = np.asarray(p, dtype=float)
    scale = i * ep * profile.time_slice_at(p)
    noise = float(np.median(spread)) if spread is not None and len(spread) else 0.0
    f = fit(p, np.asarray(seconds, dtype=float) / scale, noise=noise)
    stored = {**f.to_dict(), "fitted_on": f"i={i}, it={it}, ep={ep}, p={','.join(str(int(q)) for q in p)}"}
    return replace(net, empirical=stored), np.array(f.cv_predictions) * scale


def repeat_noise(repeats) -> float:
    """The relative noise of measured points from their repeats (rows: points): the median over
    points of half the range over the median (0 with a single repeat)."""
    r = np.atleast_2d(np.asarray(repeats, dtype=float))
    med = np.median(r, axis=1)
    return float(np.median((r.max(axis=1) - r.min(axis=1)) / (2 * med)))


def not_fitted(net: NetworkParams, reason: str) -> NetworkParams:
    """The entry marked as not fitted, with the reason (so the profile is still written and says why)."""
    return replace(net, empirical={"fitted": False, "reason": reason})


def describe_fit(net: NetworkParams) -> str:
    """One line on the fit stored in `net` (for reports)."""
    if net.empirical.get("fitted") is False:
        return f"{LABEL}: not fitted ({net.empirical.get('reason', '')})"
    f = Fit.from_dict(net.empirical, f"networks.{net.name}.empirical")
    rng = f" on p = {min(f.fitted_p):g}-{max(f.fitted_p):g}" if f.fitted_p else ""
    return (f"{LABEL}: y(p) = {f.formula()}  [s per training image per epoch, before time slicing]; form chosen by "
            f"nested cross-validation within the measured noise ({f.noise:.1%}){rng}; held-out mean |error| "
            f"{f.cv_error:.1%}")
