"""The measurement protocol on synthetic tasks (their `run` returns made-up seconds, nothing is
timed): the outlier rule, the median's interval, the interleaved seeded order, adaptive
repeats and what stopped them, flags, drift normalisation, resuming, the noise summary."""

import math

import numpy as np
import pytest

from cnnperf.fileio import ResumableState
from cnnperf.measure.protocol import Estimates, Task, estimate, measure, schedule
from cnnperf.measure.robust import mad_keep, median_ci, window_quantiles


def test_mad_rule_rejects_the_slow_stretches_of_one_sided_noise():
    rng = np.random.default_rng(3)
    quiet = 224e-6 * (1 + 0.02 * rng.standard_normal(40))  # the quiet mode, 2 % jitter
    slow = 224e-6 * rng.uniform(1.30, 1.42, 15)  # interference: 30-42 % slower
    x = np.concatenate([quiet, slow])
    keep = mad_keep(x)
    assert keep[:40].mean() >= 0.95 and not keep[40:].any()
    assert np.median(x[keep]) == pytest.approx(224e-6, rel=0.01)  # the quiet mode, not pulled up
    assert np.median(x) > np.median(x[keep])
    assert mad_keep([1.0, 1.01, 0.99, 1.0, 0.5]).tolist() == [True, True, True, True, False]  # fast glitches too
    assert mad_keep([2.0] * 5 + [2.001]).all()  # identical timings: the MAD floor keeps a tiny difference


def test_median_interval_is_exact_order_statistics():
    x = [5.0, 1.0, 4.0, 2.0, 3.0, 6.0]
    assert median_ci(x) == (1.0, 6.0, pytest.approx(1 - 2 / 64))  # n = 6: [min, max], 96.9 %
    lo, hi, level = median_ci(np.arange(1.0, 10.0))  # n = 9: x_(2), x_(8)
    assert (lo, hi) == (2.0, 8.0) and level == pytest.approx(1 - 2 * 10 / 512)
    assert median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0, 0.75)  # too few for 95 %: [min, max] at its coverage
    lo, hi, level = median_ci(np.arange(100.0))
    one_more = 1 - 2 * sum(math.comb(100, k) for k in range(int(lo) + 2)) / 2 ** 100  # x_(j+1): below 95 %
    assert level >= 0.95 and one_more < 0.95


class Recorder:
    """Tasks whose run() records the call order and returns the next value of a fixed series."""

    def __init__(self, series: dict[str, list[float]]):
        self.series, self.calls = series, []

    def tasks(self, per=1.0):
        return [Task(k, self._run(k), per) for k in self.series]

    def _run(self, key):
        def run():
            n = sum(1 for c in self.calls if c == key)
            self.calls.append(key)
            s = self.series[key]
            return s[n % len(s)]
        return run


def flat_probe():
    return 1e-3


def test_every_task_is_measured_in_interleaved_shuffled_seeded_rounds():
    keys = [f"t{k}" for k in range(6)]
    tight = {k: [0.1 * (1 + j / 10)] * 3 for j, k in enumerate(keys)}
    calls = {}
    for seed in (0, 0, 1):
        rec = Recorder(tight)
        out = measure(rec.tasks(), min_blocks=6, max_blocks=6, probe=flat_probe, seed=seed)
        calls.setdefault(seed, []).append(rec.calls)
        assert set(out) == set(keys) and all(e.samples == 6 for e in out.values())
        rounds = [rec.calls[6 * r: 6 * r + 6] for r in range(6)]
        assert all(sorted(r) == keys for r in rounds)  # each round times every task once
        assert any(r != keys for r in rounds) and len({tuple(r) for r in rounds}) > 1  # shuffled, not fixed
        assert all(a != b for a, b in zip(rec.calls, rec.calls[1:]))  # never one task twice in a row
    assert calls[0][0] == calls[0][1] and calls[0][0] != calls[1][0]  # seeded: reproducible, seed-dependent
    assert schedule(["a", "b", "c"], 4, 7) == schedule(["a", "b", "c"], 4, 7)
    first = schedule(["a", "b"], 1, 0)
    assert schedule(["a", "b"], 1, 0, previous=first[0])[0] != first[0]


def test_adaptive_repeats_stop_at_the_target_or_say_what_stopped_them():
    rng = np.random.default_rng(5)
    series = {"tight": list(0.2 * (1 + 0.002 * rng.standard_normal(40))),
              "noisy": list(0.2 * (1 + 0.2 * rng.standard_normal(40)))}
    rec = Recorder(series)
    out = measure(rec.tasks(), min_blocks=3, max_blocks=12, target_rel_ci=0.03, probe=flat_probe)
    assert out["tight"].reached == "target" and out["tight"].samples == 6  # 6 blocks: the first 95 % interval
    assert out["tight"].rel_ci <= 0.03 and out["tight"].ci_level >= 0.95
    assert out["noisy"].reached == "max-blocks" and out["noisy"].samples == 12 and out["noisy"].rel_ci > 0.03
    assert any("noisy" in f for f in out["noisy"].flags) and out["tight"].flags == ()
    rec = Recorder(series)
    out = measure(rec.tasks(), min_blocks=3, max_blocks=12, budget_s=0.0, probe=flat_probe)
    assert {e.reached for e in out.values()} == {"budget"} and {e.samples for e in out.values()} == {3}


def test_flags_like_pyperf():
    short = estimate("s", [5e-4, 5.1e-4, 5e-4, 4.9e-4], per=1)
    assert any(f.startswith("short") for f in short.flags)
    far = estimate("f", [1.0, 1.0, 1.01, 0.99, 1.0, 2.0])
    assert any(f.startswith("min/max far") for f in far.flags) and far.rejected == 1 and far.value == 1.0
    assert estimate("ok", [0.1, 0.101, 0.099, 0.1], per=100).value == pytest.approx(1e-3)


def test_slow_drift_is_normalised_out_by_the_probe():
    """The machine slows by up to 25 % and back (slowly): the task and the probe both follow it.
    Normalised by the probe, the estimate is the time at the probe's quiet mode (its MAD median),
    with a tight interval."""
    drift = 1 + 0.25 * np.abs(np.sin(np.arange(200) / 7.0))
    state = {"i": 0}

    def probe():
        state["i"] += 1
        return 1e-3 * drift[state["i"]]

    def run():
        return 0.5 * drift[state["i"]]  # the same drift as the probe just before

    out = measure([Task("t", run, per=10)], min_blocks=12, max_blocks=12, probe=probe, probe_every_s=0)
    e = out["t"]
    quiet = np.median(drift[1:state["i"] + 1])  # every probe drew the next drift value
    assert e.normalised and e.value == pytest.approx(0.05 * quiet, rel=0.01) and e.rel_ci < 0.01
    raw = estimate("t", e.raw, 10)
    assert not raw.normalised and raw.rel_ci > 0.05  # without the probe the drift widens the interval


def test_interrupted_measurement_resumes_without_repeating_finished_blocks(tmp_path):
    series = {k: [0.1 + 0.001 * j for j in range(8)] for k in ("a", "b", "c")}
    full = Recorder(series)
    measure(full.tasks(), min_blocks=4, max_blocks=4, probe=flat_probe)
    rec, state = Recorder(series), ResumableState(tmp_path / "s.json", "k")
    tasks = rec.tasks()
    broken = [Task(t.key, _failing_after(t.run, rec, 7), t.per) for t in tasks]
    with pytest.raises(KeyboardInterrupt):
        measure(broken, min_blocks=4, max_blocks=4, probe=flat_probe, state=state)
    assert len(rec.calls) == 7
    again = Recorder(series)
    out = measure(again.tasks(), min_blocks=4, max_blocks=4, probe=flat_probe,
                  state=ResumableState(tmp_path / "s.json", "k"))
    assert len(again.calls) == 12 - 7 and all(e.samples == 4 for e in out.values())


def _failing_after(run, rec, n):
    def wrapped():
        if len(rec.calls) >= n:
            raise KeyboardInterrupt
        return run()
    return wrapped


def test_noise_summary_of_the_regions():
    # 30 regions of 1 s: quiet (factor 1) except ten in a row at 1.4 (a stretch of interference)
    seconds = [1.0] * 10 + [1.4] * 10 + [1.0] * 10
    est = {"t": estimate("t", seconds)}
    blocks = {"t": [(float(k), s, k) for k, s in enumerate(seconds)]}
    e = Estimates(est, blocks, [(float(k), 1e-3) for k in range(31)], 40.0, "test probe")
    d, f = e.region_factors()
    assert f.tolist() == [1.0] * 10 + [1.4] * 10 + [1.0] * 10
    noise = e.noise()
    assert noise.region_drift == pytest.approx(0.4) and noise.probe_drift == pytest.approx(0.0)
    assert noise.window_s[-1] <= 34.0 / 4 and noise.levels[0] == 0.0 and noise.levels[-1] == 1.0
    first = dict(zip(noise.levels, noise.factors[0]))
    assert first[0.0] == pytest.approx(1.0) and first[1.0] == pytest.approx(1.4)
    # a window of 8 s averages: at most 1.4, and no window is entirely quiet and long beyond 10 s
    q = window_quantiles(d, f, 8.0, (0.0, 1.0))
    assert q[0] == pytest.approx(1.0) and q[1] == pytest.approx(1.4)
