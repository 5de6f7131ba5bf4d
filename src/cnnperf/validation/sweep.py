"""The validation sweep: real training for every (network, p), repeated, by the measurement
protocol (`measure.protocol`): the (network, p, repeat) runs in seeded, randomised, interleaved
order (every configuration once per round, rounds shuffled), the drift probe between runs;
every run is persisted as it finishes, so an interrupted sweep resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cnnperf.validation import store

PROTOCOL_KEY = "protocol"  # the measurement protocol's record in the sweep state


@dataclass(frozen=True)
class SweepConfig:
    nets: tuple[str, ...]
    threads: tuple[int, ...]
    epochs: int = 1
    images: int = 10000
    test_images: int = 2000
    repeat: int = 3
    seed: int = 0

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    """One measured training run: total seconds = TPrep + every phase of every epoch."""

    net: str
    p: int
    repeat: int
    seconds: float
    train_s: float
    validation_s: float
    test_s: float
    prep_s: float
    test_error: float


def measured_run(net: str, p: int, k: int, result) -> Run:
    ep = result.epochs
    phases = [sum(getattr(e, ph).seconds for e in ep) for ph in ("train", "validation", "test")]
    total = result.prep_seconds + sum(e.seconds for e in ep)
    return Run(net, p, k, total, *phases, result.prep_seconds, ep[-1].test.error_rate)


def run_sweep(config: SweepConfig, data, out_dir: Path, log: Callable[[str], None] = print,
              tick: Callable[[str], None] | None = None) -> list[Run]:
    """Train every (net, p) `repeat` times in the protocol's interleaved order (seeded by
    `config.seed`); every finished run is saved, so an interrupted sweep resumes where it stopped."""
    from cnnperf.hardware.topology import available_cores
    from cnnperf.measure.protocol import Task, measure
    from cnnperf.networks import resolve_network
    from cnnperf.parallel.run import train
    from cnnperf.parallel.trainer import TrainConfig

    def ours(name: str, r) -> bool:  # a run of this sweep as run_sweep stores it, or the protocol's record
        if name == PROTOCOL_KEY:
            return isinstance(r, dict)
        return store.valid_run(r, Run) and name == f"{r['net']}/{r['p']}/{r['repeat']}" and r["net"] in config.nets \
            and r["p"] in config.threads and r["repeat"] < config.repeat

    state = store.sweep_state(out_dir, config.fingerprint(), log, ours)
    runs = {k: Run(**r) for k, r in state.steps.items() if k != PROTOCOL_KEY}
    total = len(config.nets) * len(config.threads) * config.repeat

    def task(net: str, p: int) -> Task:
        def run() -> float:
            k = sum(1 for r in runs.values() if (r.net, r.p) == (net, p))
            if tick:
                tick(f"run {len(runs) + 1}/{total}: {net}, p = {p}, repeat {k + 1}")
            result, _ = train(resolve_network(net), data, TrainConfig(epochs=config.epochs, threads=p,
                                                                      seed=config.seed), cores=available_cores())
            r = runs[f"{net}/{p}/{k}"] = measured_run(net, p, k, result)
            state.put(f"{net}/{p}/{k}", asdict(r))
            return r.seconds
        return Task(f"{net}/{p}", run)

    est = measure([task(n, p) for n in config.nets for p in config.threads], min_blocks=config.repeat,
                  max_blocks=config.repeat, seed=config.seed, state=state, state_key=PROTOCOL_KEY, log=log)
    if len(est.probes) > 2:
        log(f"machine noise during the sweep: drift probe {est.noise().probe_drift:+.0%} at its 95th percentile, "
            f"runs up to {est.noise().region_drift:+.0%} over their medians")
    return sorted((r for r in runs.values() if r.repeat < config.repeat), key=lambda r: (r.net, r.p, r.repeat))


def medians(runs: list[Run]) -> dict[tuple[str, int], dict]:
    """{(net, p): {"seconds": median, "min", "max", "repeats", "samples", "test_error"}}."""
    out = {}
    for key in sorted({(r.net, r.p) for r in runs}):
        sel = [r for r in runs if (r.net, r.p) == key]
        s = np.array([r.seconds for r in sel])
        out[key] = {"seconds": float(np.median(s)), "min": float(s.min()), "max": float(s.max()),
                    "repeats": len(sel), "samples": [float(v) for v in s],
                    "test_error": float(np.median([r.test_error for r in sel]))}
    return out
