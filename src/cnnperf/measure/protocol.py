"""The measurement protocol: one module that calibrate, validate and the machine-model grid
use to time anything on a noisy machine (pyperf, Google Benchmark, hyperfine and Extra-P treat
noise as a first-class input; so does this).

- Every `Task` (one timed configuration) is measured in several independent blocks spread
  over the whole run: round r times every unfinished task once, in an order drawn from
  `seed` and r (never one task's repeats back to back).
- A fixed drift probe (`Probe`: NumPy sorts, engine-independent) is timed between blocks (at
  most every 50 ms) and once at the end, so slow drifts are measured, reported, and normalised
  out where that narrows a task's interval.
- The estimate is the median of the samples the MAD rule keeps (the quiet mode of one-sided,
  bimodal noise), with a distribution-free 95 % interval (`robust.median_ci`).
- Repeats adapt: a task is done when its relative interval is below `target_rel_ci`; the run
  stops when every task is done, at `max_blocks`, or when `budget_s` is spent (each
  `Estimate.reached` says which).
- pyperf-like flags: spread >= 10 %, min/max far from the median, regions < 1 ms.
- Resumable: with a `fileio.ResumableState`, finished blocks survive an interruption.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnnperf.fileio import ResumableState
from cnnperf.hardware.profile import Noise, Spread
from cnnperf.measure.robust import mad_keep, median_ci, quantiles, window_quantiles

SPREAD_LIMIT = 0.10  # (q95 - q05) / median at or above which a task is flagged noisy (pyperf: 10 %)
FAR_LIMIT = 0.5  # min or max further than this from the median (relative) is flagged (pyperf: 50 %)
MIN_REGION_S = 1e-3  # timed regions shorter than this are flagged (timer resolution, jitter)
NORMALISE_GAIN = 0.8  # probe normalisation is used when it narrows the interval below 0.8x
NOISE_LEVELS = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
NOISE_WINDOWS_S = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
PROBE_EVERY_S = 0.05  # the probe runs before a block if the last probe is older (bounds its cost for short regions)
SAVE_EVERY_S = 2.0  # state writes at most this often (and always at the end or on an interruption)
Log = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    """One timed configuration: `run()` performs one timed region and returns its seconds
    (set-up and warm-up outside the region); `per` units of work (e.g. images) per region."""

    key: str
    run: Callable[[], float]
    per: float = 1.0


class Probe:
    """The drift probe: NumPy's sort of one fixed, seeded array of 32,768 float64, eight times.
    Single-threaded, no BLAS, no Numba: the same work on every machine and independent of the
    engine (about 1 ms on a current core). Calling it returns its seconds."""

    description = "numpy sort of 32,768 seeded float64, 8 times"

    def __init__(self, sorts: int = 8, elements: int = 1 << 15):
        self.sorts, self.data = sorts, np.random.default_rng(12345).random(elements)

    def __call__(self) -> float:
        t0 = time.perf_counter()
        for _ in range(self.sorts):
            np.sort(self.data)
        return time.perf_counter() - t0


@dataclass(frozen=True)
class Estimate:
    """One task's result, per unit of work. `value`: the median of the samples the MAD rule kept
    (drift-normalised if `normalised`); [ci_low, ci_high]: its distribution-free interval at
    coverage `ci_level`; `low`, `high`: 5th and 95th percentiles of all regions (raw);
    `reached`: "target" (rel_ci <= target), "budget" or "max-blocks"."""

    key: str
    value: float
    ci_low: float
    ci_high: float
    ci_level: float
    low: float
    high: float
    samples: int
    rejected: int
    rel_ci: float
    reached: str
    flags: tuple[str, ...]
    normalised: bool
    per: float = 1.0
    raw: tuple[float, ...] = field(default=(), repr=False)  # seconds of every region, in run order

    def spread(self) -> Spread:
        return Spread(max(self.ci_low, 0.0), self.ci_high, max(self.low, 0.0), self.high, self.samples)

    def describe(self) -> str:
        norm = ", drift-normalised" if self.normalised else ""
        flags = f"; {', '.join(self.flags)}" if self.flags else ""
        return (f"measured: median of {self.samples} interleaved blocks ({self.rejected} rejected by the MAD rule"
                f"{norm}), {self.ci_level:.0%} interval -{(self.value - self.ci_low) / self.value:.1%}"
                f"/+{(self.ci_high - self.value) / self.value:.1%}, regions q05-q95 "
                f"{self.low / self.value - 1:+.0%}/{self.high / self.value - 1:+.0%}, {self.reached} reached{flags}")


def estimate(key: str, seconds: Sequence[float], per: float = 1.0, probe_at: Sequence[float] | None = None,
             quiet_probe: float | None = None, target_rel_ci: float = 0.03, stopped_by: str = "max-blocks"
             ) -> Estimate:
    """The estimate of one task from its region seconds (and the probe beside each region)."""
    raw = np.asarray(seconds, dtype=float) / per
    value, lo, hi, level, kept = _median(raw)
    normalised = False
    if probe_at is not None and quiet_probe and len(raw) >= 3:
        norm = raw * quiet_probe / np.asarray(probe_at, dtype=float)
        n_value, n_lo, n_hi, n_level, n_kept = _median(norm)
        if _rel(n_value, n_lo, n_hi) < NORMALISE_GAIN * _rel(value, lo, hi):
            value, lo, hi, level, kept, normalised = n_value, n_lo, n_hi, n_level, n_kept, True
    low, high = quantiles(raw, (0.05, 0.95))
    rel = _rel(value, lo, hi)
    reached = "target" if rel <= target_rel_ci and level >= 0.95 - 1e-9 else stopped_by
    return Estimate(key, value, lo, hi, level, float(low), float(high), len(raw), len(raw) - kept, rel, reached,
                    _flags(raw, value, float(low), float(high), min(seconds)), normalised, per, tuple(seconds))


def _median(x: np.ndarray) -> tuple[float, float, float, float, int]:
    keep = x[mad_keep(x)]
    lo, hi, level = median_ci(keep)
    return float(np.median(keep)), lo, hi, level, len(keep)


def _rel(value: float, lo: float, hi: float) -> float:
    return max(value - lo, hi - value) / value if value > 0 else float("inf")


def _flags(raw: np.ndarray, value: float, low: float, high: float, shortest_s: float) -> tuple[str, ...]:
    out = []
    if (high - low) / value >= SPREAD_LIMIT:
        out.append(f"noisy: spread q05-q95 {(high - low) / value:.0%} of the median")
    if raw.max() > (1 + FAR_LIMIT) * value or raw.min() < (1 - FAR_LIMIT) * value:
        out.append(f"min/max far from the median ({raw.min() / value - 1:+.0%}/{raw.max() / value - 1:+.0%})")
    if shortest_s < MIN_REGION_S:
        out.append(f"short: {shortest_s * 1e3:.2f} ms region")
    return tuple(out)


def schedule(keys: Sequence[str], round_index: int, seed: int, previous: str | None = None) -> list[str]:
    """Round `round_index`'s order of `keys`: a permutation drawn from (seed, round_index); if it
    would start with the task that ended the previous round, the first two swap places."""
    order = [keys[k] for k in np.random.default_rng([seed, round_index]).permutation(len(keys))]
    if len(order) > 1 and order[0] == previous:
        order[0], order[1] = order[1], order[0]
    return order


class Estimates(dict):
    """{task key: Estimate} of one protocol run, with the probe and region series (`drift`)."""

    def __init__(self, estimates: dict, blocks: dict, probes: list, elapsed_s: float, probe: str):
        super().__init__(estimates)
        self.blocks, self.probes, self.elapsed_s, self.probe = blocks, probes, elapsed_s, probe

    def quiet_probe(self) -> float:
        return _quiet([s for _, s in self.probes])

    def region_factors(self, select: Callable[[str], bool] = lambda key: True) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, slow-down factor) of every timed region of the tasks `select` keeps, in run
        order; factor = the region's time over its task's quiet-mode estimate."""
        rows = sorted((t, s, s / (self[k].value * self[k].per)) for k, bl in self.blocks.items() if select(k)
                      for t, s, _ in bl)
        return np.array([r[1] for r in rows]), np.array([r[2] for r in rows])

    def noise(self, select: Callable[[str], bool] = lambda key: True) -> Noise:
        """The machine's noise during this run, as the profile stores it (`[noise]`), from the
        regions of the tasks `select` keeps (e.g. the single-thread ones: the spread of time-sliced
        team regions is theirs, not the machine's)."""
        d, f = self.region_factors(select)
        quiet = float((d / f).sum())  # the regions' work in quiet-machine seconds
        windows = [w for w in NOISE_WINDOWS_S if w <= max(quiet / 4, NOISE_WINDOWS_S[0])]
        factors = tuple(tuple(float(v) for v in window_quantiles(d, f, w, NOISE_LEVELS)) for w in windows)
        probes = np.array([s for _, s in self.probes])
        q = self.quiet_probe()
        return Noise(tuple(windows), NOISE_LEVELS, factors, region_drift=float(np.quantile(f, 0.95) - 1),
                     probe_drift=float(np.quantile(probes, 0.95) / q - 1) if len(probes) else 0.0,
                     duration_s=round(self.elapsed_s, 3), regions=len(d), probe=self.probe)


def _quiet(samples) -> float:
    x = np.asarray(samples, dtype=float)
    return float(np.median(x[mad_keep(x)])) if len(x) else 0.0


def measure(tasks: Sequence[Task], *, min_blocks: int = 3, max_blocks: int = 20, target_rel_ci: float = 0.03,
            budget_s: float | None = None, probe: Callable[[], float] | None = None, seed: int = 0,
            state: ResumableState | None = None, state_key: str = "protocol", log: Log = lambda m: None,
            progress: Callable[[str], None] | None = None, probe_every_s: float = PROBE_EVERY_S) -> Estimates:
    """Measure every task by the protocol (module docstring); returns {key: Estimate}. The probe
    runs before a block when the last one is `probe_every_s` old (0: before every block)."""
    by_key = {t.key: t for t in tasks}
    if len(by_key) != len(tasks) or not tasks:
        raise ValueError("measure needs at least one task and unique task keys")
    probe = probe or Probe()
    rec = _Record.load(state, state_key, list(by_key))
    start, last_save, warned = time.perf_counter(), time.perf_counter(), False
    now = lambda: rec.elapsed + time.perf_counter() - start  # noqa: E731 - the protocol's clock across resumes
    over = lambda: budget_s is not None and now() > budget_s  # noqa: E731
    previous = None
    try:
        while True:
            r = rec.rounds
            active = [k for k in by_key if rec.needs_more(k, by_key[k].per, min_blocks, max_blocks, target_rel_ci)]
            if not active or (over() and all(len(rec.blocks[k]) >= min_blocks for k in by_key)):
                break
            if over() and not warned:
                log(f"measurement budget of {budget_s:.0f} s spent before every task had {min_blocks} blocks; "
                    "measuring the minimum")
                warned = True
            for k in schedule(active, r, seed, previous):
                if len(rec.blocks[k]) > r or (over() and len(rec.blocks[k]) >= min_blocks):
                    continue  # done in this round before an interruption, or the budget is spent
                if progress:
                    progress(f"round {r + 1}: {k}")
                if not rec.probes or now() - rec.probes[-1][0] >= probe_every_s:
                    rec.probes.append((now(), probe()))
                t0 = now()
                rec.blocks[k].append((t0, float(by_key[k].run()), len(rec.probes) - 1))
                previous = k
                if state is not None and time.perf_counter() - last_save > SAVE_EVERY_S:
                    rec.save(state, state_key, now())
                    last_save = time.perf_counter()
            rec.rounds += 1
        rec.probes.append((now(), probe()))
    finally:
        if state is not None and any(rec.blocks.values()):  # nothing measured yet: nothing to resume
            rec.save(state, state_key, now())
    stopped = "budget" if over() else "max-blocks"
    out = {k: rec.estimate(k, by_key[k].per, target_rel_ci, stopped) for k in by_key}
    done = sum(e.reached == "target" for e in out.values())
    log(f"protocol: {len(out)} tasks, {rec.rounds} rounds, {sum(map(len, rec.blocks.values()))} blocks in "
        f"{now():.0f} s; interval target {target_rel_ci:.0%} reached by {done}, "
        + ("budget spent" if stopped == "budget" and done < len(out) else f"{len(out) - done} stopped at "
           f"{max_blocks} blocks" if done < len(out) else "all done"))
    return Estimates(out, {k: list(v) for k, v in rec.blocks.items()}, list(rec.probes), now(),
                     getattr(probe, "description", "custom probe"))


class _Record:
    """The blocks measured so far ([start, seconds, index of the last probe before]), the probes
    ([time, seconds]), finished rounds and elapsed protocol time; saved in a ResumableState."""

    def __init__(self, keys: list[str], doc: dict | None):
        doc = doc if isinstance(doc, dict) and set(doc.get("blocks", {})) == set(keys) else {}
        self.blocks = {k: [tuple(b) for b in doc.get("blocks", {}).get(k, [])] for k in keys}
        self.probes = [tuple(p) for p in doc.get("probes", [])]
        self.rounds, self.elapsed = int(doc.get("rounds", 0)), float(doc.get("elapsed", 0.0))

    @classmethod
    def load(cls, state: ResumableState | None, key: str, keys: list[str]) -> _Record:
        return cls(keys, state.get(key) if state is not None else None)

    def save(self, state: ResumableState, key: str, elapsed: float) -> None:
        state.put(key, {"blocks": {k: [list(b) for b in v] for k, v in self.blocks.items()},
                        "probes": [list(p) for p in self.probes], "rounds": self.rounds, "elapsed": elapsed})

    def probe_at(self, k: str) -> list[float]:
        """The probe beside each block of task k: the mean of the last probe before and the next after it."""
        n = len(self.probes)
        return [0.5 * (self.probes[i][1] + self.probes[min(i + 1, n - 1)][1]) for _, _, i in self.blocks[k]]

    def estimate(self, k: str, per: float, target: float, stopped_by: str) -> Estimate:
        seconds = [s for _, s, _ in self.blocks[k]]
        return estimate(k, seconds, per, self.probe_at(k), _quiet([s for _, s in self.probes]), target, stopped_by)

    def needs_more(self, k: str, per: float, min_blocks: int, max_blocks: int, target: float) -> bool:
        n = len(self.blocks[k])
        if n < min_blocks:
            return True
        return n < max_blocks and self.estimate(k, per, target, "max-blocks").reached != "target"
