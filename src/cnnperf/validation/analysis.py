"""Predicted against measured: every strategy for every measured (network, p), per-row
Delta and signed error, per strategy and network the mean and max (paper Table IX)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile
from cnnperf.hardware.profile import Contention
from cnnperf.models import STRATEGIES, fitted_strategies
from cnnperf.networks import resolve_network
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
    fitted: tuple[str, ...]  # networks whose profile entry gained a fit (strategy (c) and the like)
    profile: HardwareProfile  # the profile used (restricted to the fit threads if asked) + fits
    config: SweepConfig
    fit_threads: tuple[int, ...] | None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. the profile describes another machine
    files: tuple[str, ...] = ()  # outputs written (api.validate)
    holdout: tuple[str, ...] = ()  # networks the calibration did not see

    def group_summaries(self) -> list[Summary]:
        """Per strategy over the calibrated networks ("calibrated") and over the held-out ones ("held out")."""
        out = []
        for strategy in self.strategies():
            for group, sel in (("calibrated", lambda r: r.split != "holdout"), ("held out", lambda r: r.split ==
                                                                                 "holdout")):
                rows = [r for r in self.rows if r.strategy == strategy and r.split != "fit" and sel(r)]
                if rows and self.holdout:
                    out.append(summarize(strategy, group, [r.measured_s for r in rows], [r.predicted_s for r in rows]))
        return out

    def strategies(self) -> list[str]:
        """Strategy names with rows, in registry order."""
        return [s for s in STRATEGIES if any(r.strategy == s for r in self.rows)]


def restrict_contention(profile: HardwareProfile, fit_threads) -> HardwareProfile:
    """The profile with MemoryContention measured only at `fit_threads` (the rest is extrapolated)."""
    nets = {}
    for name, n in profile.networks.items():
        c = n.contention
        keep = [k for k, t in enumerate(c.threads) if t in fit_threads and c.status[k] == "measured"]
        if not keep:
            raise CnnperfError(f"profile {profile.name} has no contention measured at --fit-threads "
                               f"{','.join(map(str, fit_threads))} for {name}; it has {','.join(map(str, c.threads))}")
        kept = Contention(tuple(c.threads[k] for k in keep), tuple(c.seconds[k] for k in keep),
                          tuple("measured" for _ in keep))
        nets[name] = replace(n, contention=kept)
    return replace(profile, networks=nets)


def _fit(profile: HardwareProfile, net: str, ps, m, fit_mask, config: SweepConfig, notes: list) -> dict:
    """Fit every fitted strategy on the fit points; {strategy: honest predictions at all ps}."""
    out = {}
    for s in fitted_strategies():
        if len(set(ps[fit_mask])) < s.MIN_POINTS:
            notes.append(f"{s.LABEL} not fitted for {net}: it needs >= {s.MIN_POINTS} distinct thread counts, "
                         f"got {len(set(ps[fit_mask]))}")
            continue
        entry, loo = s.fit_runs(profile.params_for(resolve_network(net)), profile, ps[fit_mask], m[fit_mask],
                                config.images, config.test_images, config.epochs)
        profile.networks[entry.name] = entry
        pred = s.predict(entry, profile, ps, config.images, config.test_images, config.epochs).seconds
        if fit_mask.all():  # in-sample points: report the leave-one-out predictions (honest)
            pred = loo
        out[s.NAME] = pred
    return out


def analyse(profile: HardwareProfile, config: SweepConfig, measured: dict, fit_threads=None,
            holdout: tuple[str, ...] = ()) -> ValidationResult:
    """`measured`: {(net, p): {"seconds": median, ...}} from the sweep. Networks in `holdout` were
    not calibrated: only strategies that need no entry of theirs predict them (no fit on them),
    their rows are marked "holdout" and summarised apart."""
    used = restrict_contention(profile, fit_threads) if fit_threads else profile
    used = replace(used, networks=dict(used.networks))
    rows, fitted, notes = [], [], []
    for net in config.nets:
        ps = np.array([p for (n, p) in measured if n == net])
        m = np.array([measured[(net, p)]["seconds"] for p in ps])
        split = np.array(["all"] * len(ps), dtype=object) if not fit_threads else \
            np.where(np.isin(ps, fit_threads), "fit", "test").astype(object)
        if net in holdout:
            split[:] = "holdout"
        fits = {} if net in holdout else _fit(used, net, ps, m, split != "test", config, notes)
        fitted += [used.params_for(resolve_network(net)).name] if fits else []
        spec = resolve_network(net)
        for name, strategy in STRATEGIES.items():
            if name in fits:
                rows += _rows(net, ps, name, m, fits[name], split)
            elif strategy.requires(spec, used) is None and not hasattr(strategy, "fit_runs"):
                pred = strategy.predict(spec, used, ps, config.images, config.test_images, config.epochs).seconds
                rows += _rows(net, ps, name, m, np.broadcast_to(pred, ps.shape), split)
    summaries = []
    for strategy in STRATEGIES:
        for net in config.nets:
            sel = [r for r in rows if r.strategy == strategy and r.net == net and r.split != "fit"]
            if sel:
                summaries.append(summarize(strategy, net, [r.measured_s for r in sel], [r.predicted_s for r in sel]))
    return ValidationResult(tuple(rows), tuple(summaries), tuple(fitted), used, config,
                            tuple(fit_threads) if fit_threads else None, tuple(notes), holdout=tuple(holdout))


def _rows(net, ps, strategy, measured, predicted, split) -> list[Row]:
    d, e = paper_delta(measured, predicted), relative_error(measured, predicted)
    return [Row(net, int(p), strategy, float(mm), float(pp), float(dd), float(ee), str(s))
            for p, mm, pp, dd, ee, s in zip(ps, measured, predicted, d, e, split)]
