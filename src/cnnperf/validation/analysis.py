"""Predicted against measured: every strategy for every measured (network, p), per-row
Delta and signed error, per strategy and network the mean and max (paper Table IX)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnperf.hardware import HardwareProfile
from cnnperf.hardware.profile import Contention
from cnnperf.models import STRATEGIES
from cnnperf.models.strategy_c import Fit, fit
from cnnperf.validation.metrics import Summary, paper_delta, relative_error, summarize
from cnnperf.validation.sweep import SweepConfig


@dataclass(frozen=True)
class Row:
    net: str
    p: int
    strategy: str
    measured_s: float
    predicted_s: float
    delta: float  # paper: |m - p| / p
    error: float  # (p - m) / m
    split: str  # "all", "fit" or "test"


@dataclass(frozen=True)
class ValidationResult:
    rows: tuple[Row, ...]
    summaries: tuple[Summary, ...]
    fits: dict  # net -> strategy (c) Fit
    profile: HardwareProfile  # the profile used (restricted to the fit threads if asked) + empirical fits
    config: SweepConfig
    fit_threads: tuple[int, ...] | None


def restrict_contention(profile: HardwareProfile, fit_threads) -> HardwareProfile:
    """The profile with MemoryContention measured only at `fit_threads` (the rest is extrapolated)."""
    nets = {}
    for name, n in profile.networks.items():
        c = n.contention
        keep = [k for k, t in enumerate(c.threads) if t in fit_threads and c.status[k] == "measured"]
        if not keep:
            from cnnperf.errors import CnnperfError
            raise CnnperfError(f"profile {profile.name} has no contention measured at --fit-threads "
                               f"{','.join(map(str, fit_threads))} for {name}; it has {','.join(map(str, c.threads))}")
        nets[name] = replace(n, contention=Contention(tuple(c.threads[k] for k in keep), tuple(c.seconds[k] for k in keep),
                                                       tuple("measured" for _ in keep)))
    return replace(profile, networks=nets)


def analyse(profile: HardwareProfile, config: SweepConfig, measured: dict, fit_threads=None) -> ValidationResult:
    """`measured`: {(net, p): {"seconds": median, ...}} from the sweep."""
    used = restrict_contention(profile, fit_threads) if fit_threads else profile
    rows, fits = [], {}
    nets_with_fits = {}
    for net in config.nets:
        params = used.network(net)
        ps = np.array([p for (n, p) in measured if n == net])
        m = np.array([measured[(net, p)]["seconds"] for p in ps])
        split = np.array(["all"] * len(ps), dtype=object) if not fit_threads else \
            np.where(np.isin(ps, fit_threads), "fit", "test").astype(object)
        for name in ("a", "b"):
            pred = STRATEGIES[name].predict(params, used, ps, config.images, config.test_images, config.epochs).seconds
            rows += _rows(net, ps, name, m, pred, split)
        fit_mask = split != "test"
        if fit_mask.sum() >= 3:
            slice_ = used.time_slice_at(ps)
            y = m / (config.images * config.epochs * slice_)
            f = fit(ps[fit_mask], y[fit_mask])
            fits[net] = f
            pred = f(ps) * config.images * config.epochs * slice_
            if not fit_threads:  # in-sample points: report the leave-one-out predictions (honest)
                pred = np.array(f.loo_predictions) * config.images * config.epochs * slice_
            rows += _rows(net, ps, "c", m, pred, split)
            nets_with_fits[net] = replace(params, empirical={**f.to_dict(), "fitted_on":
                                          f"i={config.images}, it={config.test_images}, ep={config.epochs}, "
                                          f"p={','.join(map(str, ps[fit_mask]))}"})
    out_profile = replace(used, networks={**used.networks, **nets_with_fits})
    summaries = []
    for strategy in ("a", "b", "c"):
        for net in config.nets:
            sel = [r for r in rows if r.strategy == strategy and r.net == net and r.split != "fit"]
            if sel:
                summaries.append(summarize(strategy, net, [r.measured_s for r in sel], [r.predicted_s for r in sel]))
    return ValidationResult(tuple(rows), tuple(summaries), fits, out_profile, config,
                            tuple(fit_threads) if fit_threads else None)


def _rows(net, ps, strategy, measured, predicted, split) -> list[Row]:
    d, e = paper_delta(measured, predicted), relative_error(measured, predicted)
    return [Row(net, int(p), strategy, float(mm), float(pp), float(dd), float(ee), str(s))
            for p, mm, pp, dd, ee, s in zip(ps, measured, predicted, d, e, split)]


def fit_from_dict(d: dict) -> Fit:
    return Fit.from_dict(d)
