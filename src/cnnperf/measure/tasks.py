"""The timed regions of a calibration as protocol tasks (`measure.protocol.Task`), on the real
engine and trainer. Trainers are created lazily, warmed up outside the timed regions, and kept
for the whole measurement, so the protocol can interleave every region of every network."""

from __future__ import annotations

import os
import threading
import time

from cnnperf.measure.protocol import Task
from cnnperf.measure.quantities import synthetic_images
from cnnperf.networks import NetworkSpec


class NetworkBench:
    """One network's regions: forward and train step on one thread (n images), p workers on
    shared weights (n images each), TPrep (`prep_threads` instances) and one short real run
    (1 epoch of 2n training, 2n/5 test images) at `p_ref` for strategy (a)'s OperationFactor."""

    def __init__(self, spec: NetworkSpec, n: int, threads: tuple[int, ...], prep_threads: int, p_ref: int):
        self.spec, self.n, self.prep_threads, self.p_ref = spec, n, prep_threads, p_ref
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

    def reference_run(self) -> float:
        """Seconds of one real 1-epoch run (TPrep + all three phases) at p_ref."""
        from cnnperf.parallel.run import train
        from cnnperf.parallel.trainer import Dataset, TrainConfig
        n = 2 * self.n
        if self._run_data is None:
            x, y = synthetic_images(n + n // 5, self.spec, seed=1)
            self._run_data = Dataset(x[:n], y[:n], x[n:], y[n:])
        result, _ = train(self.spec, self._run_data, TrainConfig(epochs=1, threads=self.p_ref, lr=1e-4))
        return result.prep_seconds + sum(e.seconds for e in result.epochs)

    def tasks(self, want: dict[str, bool], team: tuple[int, ...]) -> list[Task]:
        """The tasks for the steps in `want` (times, prep, operation_factor) and the team sizes `team`."""
        name, n, out = self.spec.name, self.n, []
        if want.get("times") or team:
            out.append(Task(f"{name}/train", self.train, per=n))  # also T_1 of MemoryContention
        if want.get("times"):
            out.append(Task(f"{name}/forward", self.forward, per=n))
        out += [Task(f"{name}/team/{p}", lambda p=p: self.train(p), per=n) for p in team]
        if want.get("prep"):
            out.append(Task(f"{name}/prep", self.prep))
        if want.get("operation_factor"):
            out.append(Task(f"{name}/run", self.reference_run))
        return out

    def close(self) -> None:
        for t in self._trainers.values():
            t.close()
        self._trainers.clear()


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
