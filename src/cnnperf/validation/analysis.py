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
    predicted_low: float | None = None  # the prediction interval (None: the profile has no uncertainty)
    predicted_high: float | None = None
    inside: bool | None = None  # the measured median lies inside the interval


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
    interval_level: float | None = None  # of the prediction intervals the rows carry
    holdout: tuple[str, ...] = ()  # networks the calibration did not see

    def group_summaries(self) -> list[Summary]:
        """Per strategy over the calibrated networks ("calibrated") and over the held-out ones ("held out")."""
        out = []
        for strategy in self.strategies():
            for group, held in (("calibrated", False), ("held out", True)):
                rows = [r for r in self.rows if r.strategy == strategy and r.split != "fit"
                        and (r.split == "holdout") == held]
                if rows and self.holdout:
                    have = all(r.predicted_low is not None for r in rows)
                    out.append(summarize(strategy, group, [r.measured_s for r in rows], [r.predicted_s for r in rows],
                                         [r.predicted_low for r in rows] if have else None,
                                         [r.predicted_high for r in rows] if have else None, self.interval_level))
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


def _noise(profile: HardwareProfile, measured: dict, net: str, ps) -> np.ndarray:
    """Each point's relative noise: the larger of its repeats' half range over their median and
    the machine's noise the calibration measured for runs of that length."""
    from cnnperf.models.intervals import machine_noise
    from cnnperf.models.strategy_c import repeat_noise

    out = []
    for p in ps:
        m = measured[(net, p)]
        samples = m.get("samples") or [m["seconds"]]
        out.append(max(repeat_noise([samples]), float(machine_noise(profile, m["seconds"]))))
    return np.array(out)


def _fit(profile: HardwareProfile, net: str, ps, m, noise, fit_mask, config: SweepConfig, notes: list,
         level: float | None) -> tuple[dict, bool]:
    """Fit every fitted strategy on the fit points; ({strategy: (predictions, low, high) at all ps},
    whether the profile entry changed). Too few points: the entry is marked not fitted, with why."""
    out, changed = {}, False
    spec = resolve_network(net)
    for s in fitted_strategies():
        entry = profile.params_for(spec)
        distinct = sorted(set(ps[fit_mask].tolist()))
        if len(distinct) < s.MIN_POINTS:
            reason = (f"it needs >= {s.MIN_POINTS} distinct thread counts, the runs have {len(distinct)} "
                      f"(p = {','.join(str(int(p)) for p in distinct)}); validate with e.g. --threads 1,2,3,4")
            notes.append(f"{s.LABEL} not fitted for {net}: {reason}")
            profile.networks[entry.name] = s.not_fitted(entry, reason)
            changed = True
            continue
        entry, loo = s.fit_runs(entry, profile, ps[fit_mask], m[fit_mask], config.images, config.test_images,
                                config.epochs, spread=noise[fit_mask])
        profile.networks[entry.name] = entry
        changed = True
        pred, low, high = _predict(s, spec, profile, ps, config, level)
        if fit_mask.all():  # in-sample points: the nested leave-one-out predictions (honest), same relative interval
            low, high = (None if v is None else v * loo / pred for v in (low, high))
            pred = loo
        out[s.NAME] = (pred, low, high)
    return out, changed


def _predict(strategy, spec, profile: HardwareProfile, ps, config: SweepConfig, level: float | None):
    """(seconds, low, high) of `strategy` at thread counts ps; low, high None without an interval.
    The interval is for what validate compares: the median of `config.repeat` runs."""
    from cnnperf.models.intervals import entries_of, model_discrepancy, with_interval

    i, it, ep = config.images, config.test_images, config.epochs
    pred = strategy.predict(spec, profile, ps, i, it, ep)
    pred = with_interval(pred, lambda h: strategy.predict(spec, h, ps, i, it, ep), profile, level,
                         entries_of(spec, profile), model_error=model_discrepancy(strategy, spec, profile),
                         runs=config.repeat)
    seconds = np.broadcast_to(pred.seconds, ps.shape).astype(float)
    if pred.seconds_low is None:
        return seconds, None, None
    return seconds, np.broadcast_to(pred.seconds_low, ps.shape), np.broadcast_to(pred.seconds_high, ps.shape)


def analyse(profile: HardwareProfile, config: SweepConfig, measured: dict, fit_threads=None,
            level: float | None = 0.9, holdout: tuple[str, ...] = ()) -> ValidationResult:
    """`measured`: {(net, p): {"seconds": median, "samples": [...], ...}} from the sweep. Every row
    gets the strategy's prediction interval at `level` (None: none) and whether it covers the median.
    Networks in `holdout` were not calibrated: only strategies that need no entry of theirs predict
    them (no fit on them), their rows are marked "holdout" and summarised apart."""
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
            fits, changed = {}, False
        else:
            fits, changed = _fit(used, net, ps, m, _noise(used, measured, net, ps), split != "test", config, notes,
                                 level)
        fitted += [used.params_for(resolve_network(net)).name] if changed else []
        spec = resolve_network(net)
        for name, strategy in STRATEGIES.items():
            if name in fits:
                rows += _rows(net, ps, name, m, *fits[name], split)
            elif strategy.requires(spec, used) is None and not hasattr(strategy, "fit_runs"):
                rows += _rows(net, ps, name, m, *_predict(strategy, spec, used, ps, config, level), split)
    summaries = []
    for strategy in STRATEGIES:
        for net in [*config.nets, *(["all"] if len(config.nets) > 1 else [])]:
            sel = [r for r in rows if r.strategy == strategy and net in ("all", r.net) and r.split != "fit"]
            if sel:
                have = all(r.predicted_low is not None for r in sel)
                summaries.append(summarize(strategy, net, [r.measured_s for r in sel], [r.predicted_s for r in sel],
                                           [r.predicted_low for r in sel] if have else None,
                                           [r.predicted_high for r in sel] if have else None, level))
    return ValidationResult(tuple(rows), tuple(summaries), tuple(fitted), used, config,
                            tuple(fit_threads) if fit_threads else None, tuple(notes), interval_level=level,
                            holdout=tuple(holdout))


def _rows(net, ps, strategy, measured, predicted, low, high, split) -> list[Row]:
    d, e = paper_delta(measured, predicted), relative_error(measured, predicted)
    lo = [None] * len(ps) if low is None else [float(v) for v in low]
    hi = [None] * len(ps) if high is None else [float(v) for v in high]
    return [Row(net, int(p), strategy, float(mm), float(pp), float(dd), float(ee), str(s), lo_, hi_,
                None if lo_ is None else bool(lo_ <= mm <= hi_))
            for p, mm, pp, dd, ee, s, lo_, hi_ in zip(ps, measured, predicted, d, e, split, lo, hi)]
