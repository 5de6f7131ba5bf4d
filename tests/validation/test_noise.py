"""Validation on a noisy machine: the sweep's seeded, interleaved order (a fake trainer records
the calls: nothing is timed), every repeat stored, coverage of the prediction intervals, and
strategy (c) with too few thread counts (the profile is still written, with the reason)."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from cnnperf.hardware import load_profile
from cnnperf.hardware.profile import Noise, Spread
from cnnperf.parallel.results import EpochResult, PhaseResult
from cnnperf.validation.analysis import analyse
from cnnperf.validation.metrics import coverage, half_width, summarize
from cnnperf.validation.sweep import SweepConfig, medians, run_sweep


@pytest.fixture
def fake_train(monkeypatch):
    """cnnperf.parallel.run.train replaced: records (net, p) and returns a result of 1 + p/10 s."""
    calls = []

    def train(spec, data, config, **kw):
        calls.append((spec.name, config.threads))
        phase = PhaseResult(1.0 / config.threads, 100, 5, 1.0)
        epoch = EpochResult(1, 0.001, phase, phase, phase)
        return SimpleNamespace(prep_seconds=0.01, epochs=(epoch,)), None

    monkeypatch.setattr("cnnperf.parallel.run.train", train)
    return calls


def test_the_sweep_runs_every_configuration_in_seeded_interleaved_rounds(fake_train, tmp_path):
    config = SweepConfig(("small", "medium"), (1, 2, 4), repeat=3, seed=7)
    runs = run_sweep(config, None, tmp_path, log=lambda m: None)
    keys = [(n, p) for n in config.nets for p in config.threads]
    assert sorted(fake_train) == sorted(keys * 3) and len(runs) == 18  # every (net, p) three times, stored
    rounds = [fake_train[6 * r: 6 * r + 6] for r in range(3)]
    assert all(sorted(r) == sorted(keys) for r in rounds)  # a repeat of everything before the next one
    assert rounds[0] != keys and len({tuple(r) for r in rounds}) > 1  # shuffled, round by round
    assert all(a != b for a, b in zip(fake_train, fake_train[1:]))  # never the same configuration twice in a row
    assert {r.repeat for r in runs} == {0, 1, 2}
    first = list(fake_train)
    fake_train.clear()
    (tmp_path / "again").mkdir()
    run_sweep(config, None, tmp_path / "again", log=lambda m: None)
    assert fake_train == first  # seeded: the same order again
    fake_train.clear()
    (tmp_path / "other").mkdir()
    run_sweep(dataclasses.replace(config, seed=8), None, tmp_path / "other", log=lambda m: None)
    assert fake_train != first


def test_an_interrupted_sweep_keeps_its_finished_runs(fake_train, tmp_path, monkeypatch):
    config = SweepConfig(("small",), (1, 2), repeat=2)
    import cnnperf.parallel.run as run_module
    real = run_module.train

    def failing(spec, data, cfg, **kw):
        if len(fake_train) == 3:
            raise KeyboardInterrupt
        return real(spec, data, cfg, **kw)

    monkeypatch.setattr("cnnperf.parallel.run.train", failing)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, None, tmp_path, log=lambda m: None)
    monkeypatch.setattr("cnnperf.parallel.run.train", real)
    runs = run_sweep(config, None, tmp_path, log=lambda m: None)
    assert len(fake_train) == 4 and len(runs) == 4  # 3 before the interruption, 1 after


def test_coverage_and_half_width():
    assert coverage([1.0, 2.0, 3.0, 4.0], [0.9, 2.1, 2.0, 3.0], [1.1, 2.5, 4.0, 3.5]) == 0.5
    assert half_width([10.0], [9.0], [13.0])[0] == pytest.approx(0.2)
    s = summarize("b", "x", [100, 200], [110, 180], [90, 150], [120, 190], 0.9)
    assert s.coverage == 0.5 and s.mean_error == pytest.approx((0.1 - 0.1) / 2) and s.interval_level == 0.9
    assert summarize("b", "x", [1.0], [1.0]).coverage is None


def _calibrated_like(phi):
    """The Phi's small entry as a calibrated schema-2 entry: spreads and the machine's noise."""
    n = phi.networks["small"]
    sp = lambda v: Spread(v * 0.98, v * 1.02, v * 0.97, v * 1.2, 9)  # noqa: E731
    entry = dataclasses.replace(n, uncertainty={"t_fprop_s": sp(n.t_fprop_s), "t_bprop_s": sp(n.t_bprop_s)})
    noise = Noise((1.0,), (0.0, 0.05, 0.5, 0.95, 1.0), ((0.99, 1.0, 1.02, 1.25, 1.4),), 0.3, 0.2, 60.0, 100)
    return dataclasses.replace(phi, source="synthetic", networks={"small": entry}, noise=noise)


def test_analysis_reports_coverage_and_marks_an_unfittable_strategy():
    profile = _calibrated_like(load_profile("xeon-phi-7120p"))
    config = SweepConfig(("small",), (1, 15), images=60000, test_images=10000, repeat=3)
    from cnnperf.models import DEFAULT_STRATEGY, STRATEGIES
    truth = STRATEGIES[DEFAULT_STRATEGY].predict("small", profile, np.array([1, 15]), 60000, 10000, 1).seconds
    measured = {("small", 1): {"seconds": truth[0] * 1.1, "samples": [truth[0] * f for f in (1.0, 1.1, 1.2)]},
                ("small", 15): {"seconds": truth[1] * 1.6, "samples": [truth[1] * f for f in (1.5, 1.6, 1.7)]}}
    result = analyse(profile, config, measured)
    rows = {(r.strategy, r.p): r for r in result.rows}
    b1, b15 = rows[(DEFAULT_STRATEGY, 1)], rows[(DEFAULT_STRATEGY, 15)]
    assert b1.inside and not b15.inside  # +10 % is inside the noise, +60 % is not
    s = next(s for s in result.summaries if s.strategy == DEFAULT_STRATEGY)
    assert s.coverage == 0.5 and s.median_half_width > 0 and result.interval_level == 0.9
    # two thread counts: strategy (c) cannot be fitted; the entry says why, so the profile is still written
    assert result.fitted == ("small",)
    entry = result.profile.networks["small"]
    assert entry.empirical["fitted"] is False and ">= 3 distinct thread counts" in entry.empirical["reason"]
    assert any("not fitted" in n for n in result.notes)
    assert medians([]) == {}
