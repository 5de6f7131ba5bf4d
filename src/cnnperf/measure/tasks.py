"""The timed regions of a calibration as protocol tasks (`measure.protocol.Task`), on the real
engine and trainer. Trainers are created lazily, warmed up outside the timed regions, and kept
for the whole measurement, so the protocol can interleave every region of every network."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict

from cnnperf.measure.protocol import Task
from cnnperf.measure.quantities import synthetic_images
from cnnperf.measure.robust import derive
from cnnperf.networks import NetworkSpec


class NetworkBench:
    """One network's regions: forward and train step on one thread (n images), p workers on
    shared weights (n images each), TPrep (`prep_threads` instances) and short real runs (1 epoch
    of 2n training, 2n/5 test images; `reference_run`) at given thread counts: the one at the
    reference thread count fits strategy (a)'s OperationFactor, all of them measure every
    strategy's model error on this machine."""

    def __init__(self, spec: NetworkSpec, n: int, threads: tuple[int, ...], prep_threads: int):
        self.spec, self.n, self.prep_threads = spec, n, prep_threads
        self.x, self.y = synthetic_images(max(threads) * n, spec)
        self._trainers: dict[int, object] = {}
        self._run_data = None

    def trainer(self, p: int):
        if p not in self._trainers:
            from cnnperf.parallel.trainer import TrainConfig, Trainer
            t = Trainer(self.spec, TrainConfig(threads=p, lr=1e-4))
            warm = p * max(1, self.n // 10)
            t.run_phase("train", self.x[:warm], self.y[:warm], 1e-4)  # caches, pages, thread start-up
            self._trainers[p] = t
        return self._trainers[p]

    def forward(self) -> float:
        return self.trainer(1).run_phase("validation", self.x[:self.n], self.y[:self.n], 0.0).seconds

    def train(self, p: int = 1) -> float:
        m = p * self.n
        return self.trainer(p).run_phase("train", self.x[:m], self.y[:m], 1e-4).seconds

    def prep(self) -> float:
        from cnnperf.parallel.trainer import TrainConfig, Trainer
        t = Trainer(self.spec, TrainConfig(threads=self.prep_threads, lr=1e-4))
        t.close()
        return t.prep_seconds

    def reference_run(self, p: int) -> float:
        """Seconds of one real 1-epoch run (TPrep + all three phases) of 2n training images at p."""
        from cnnperf.parallel.run import train
        from cnnperf.parallel.trainer import Dataset, TrainConfig
        n = 2 * self.n
        if self._run_data is None:
            x, y = synthetic_images(n + n // 5, self.spec, seed=1)
            self._run_data = Dataset(x[:n], y[:n], x[n:], y[n:])
        result, _ = train(self.spec, self._run_data, TrainConfig(epochs=1, threads=p, lr=1e-4))
        return result.prep_seconds + sum(e.seconds for e in result.epochs)

    def tasks(self, want: dict[str, bool], team: tuple[int, ...], runs: tuple[int, ...] = ()) -> list[Task]:
        """The tasks for the steps in `want` (times, prep), the team sizes `team` and the reference
        runs at the thread counts `runs`."""
        name, n, out = self.spec.name, self.n, []
        if want.get("times") or team:
            out.append(Task(f"{name}/train", self.train, per=n))  # also T_1 of MemoryContention
        if want.get("times"):
            out.append(Task(f"{name}/forward", self.forward, per=n))
        out += [Task(f"{name}/team/{p}", lambda p=p: self.train(p), per=n) for p in team]
        if want.get("prep"):
            out.append(Task(f"{name}/prep", self.prep))
        out += [Task(f"{name}/run/{p}", lambda p=p: self.reference_run(p)) for p in runs]
        return out

    def close(self) -> None:
        for t in self._trainers.values():
            t.close()
        self._trainers.clear()


def pilot_images(spec: NetworkSpec, region_s: float, pilots: int = 3) -> int:
    """Images per timed region for about `region_s` seconds of one-thread training on this machine:
    from the fastest of `pilots` regions of 50 images (after a warm-up), between 50 and 20,000."""
    from cnnperf.parallel.trainer import TrainConfig, Trainer
    x, y = synthetic_images(50, spec)
    t = Trainer(spec, TrainConfig(threads=1, lr=1e-4))
    try:
        t.run_phase("train", x[:10], y[:10], 1e-4)
        per_image = min(t.run_phase("train", x, y, 1e-4).seconds for _ in range(pilots)) / 50
    finally:
        t.close()
    return int(min(20000, max(50, round(region_s / per_image))))


def cpi_tasks(spec: NetworkSpec, siblings: list[int], n: int) -> list[Task]:
    """CPI regions: the slowest of k threads pinned to one core's first k hardware threads, each
    training n images (k = 1 .. len(siblings)); CPI(k) = time(k) / time(1)."""
    from cnnperf import engine
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 0)
    x, y = synthetic_images(n * len(siblings), spec)
    workspaces = [engine.new_workspace(layout, worker=(k, len(siblings))) for k in range(len(siblings))]

    def region(k: int) -> float:
        times = [0.0] * k

        def work(j: int) -> None:
            os.sched_setaffinity(0, {siblings[j]})
            t0 = time.perf_counter()
            engine.train_images(layout, w, workspaces[j], x, y, j * n, (j + 1) * n, 1e-4)
            times[j] = time.perf_counter() - t0

        threads = [threading.Thread(target=work, args=(j,)) for j in range(k)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return max(times)

    return [Task(f"cpi/{k}", lambda k=k: region(k), per=n) for k in range(1, len(siblings) + 1)]


def contention_step(est, name: str, p: int, hw: int) -> dict:
    """MemoryContention(p): p workers train n images each on shared weights (wall W_p, per image per
    worker: team); one worker alone (T_1 per image: train); with the time-slicing factor
    s = max(1, p / hw), MC = W_p / s - T_1 per image, the model's term (Tmem = MC * i/p * s)."""
    if p == 1:
        return {"seconds": 0.0, "src": "p = 1: no other worker (0 by definition)"}
    team, train = est[f"{name}/team/{p}"], est[f"{name}/train"]
    s = max(1.0, p / hw)
    mc = team.value / s - train.value
    note = "" if mc >= 0 else f", measured {mc * 1e6:.2f} us (below zero: noise), stored as 0"
    return {"seconds": max(0.0, mc), "raw": mc, "src": "wall " + team.describe() + note,
            "spread": asdict(derive(lambda w, t: w / s - t, [team, train], max(0.0, mc)))}
