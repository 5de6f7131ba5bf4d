"""The validation sweep: real training for every (network, p), repeated; results persisted
after every run so an interrupted sweep resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cnnperf.validation import store


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
    """Train every (net, p) `repeat` times (order: repeat-major so drifts spread over p);
    every finished run is saved, so an interrupted sweep resumes where it stopped."""
    from cnnperf.hardware.topology import available_cores
    from cnnperf.networks import resolve_network
    from cnnperf.parallel.run import train
    from cnnperf.parallel.trainer import TrainConfig

    def ours(name: str, r) -> bool:  # a run of this sweep, as run_sweep stores it
        return store.valid_run(r, Run) and name == f"{r['net']}/{r['p']}/{r['repeat']}" and r["net"] in config.nets \
            and r["p"] in config.threads and r["repeat"] < config.repeat

    state = store.sweep_state(out_dir, config.fingerprint(), log, ours)
    runs = [Run(**r) for r in state.steps.values()]
    done = {(r.net, r.p, r.repeat) for r in runs}
    todo = [(k, n, p) for k in range(config.repeat) for n in config.nets for p in config.threads
            if (n, p, k) not in done]
    for j, (k, net, p) in enumerate(todo, start=1):
        if tick:
            tick(f"run {len(done) + j}/{len(done) + len(todo)}: {net}, p = {p}, repeat {k + 1}")
        result, _ = train(resolve_network(net), data, TrainConfig(epochs=config.epochs, threads=p, seed=config.seed),
                          cores=available_cores())
        run = measured_run(net, p, k, result)
        runs.append(run)
        state.put(f"{net}/{p}/{k}", asdict(run))
    return runs


def medians(runs: list[Run]) -> dict[tuple[str, int], dict]:
    """{(net, p): {"seconds": median, "min", "max", "repeats", "test_error"}}."""
    out = {}
    for key in sorted({(r.net, r.p) for r in runs}):
        sel = [r for r in runs if (r.net, r.p) == key]
        s = np.array([r.seconds for r in sel])
        out[key] = {"seconds": float(np.median(s)), "min": float(s.min()), "max": float(s.max()),
                    "repeats": len(sel), "test_error": float(np.median([r.test_error for r in sel]))}
    return out
