"""The measurements of calibration, each on the real engine and trainer (NOTES.md "measured,
hardware dependent"): TFprop/TBprop, TPrep, CPI, MemoryContention(p), OperationFactor."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np

from cnnperf.hardware import HardwareProfile, NetworkParams
from cnnperf.measure.timing import Measurement
from cnnperf.networks import NetworkSpec


def synthetic_images(n: int, spec: NetworkSpec | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random images of `spec`'s input shape (29x29 without a spec): per-image time does not depend
    on pixel values; MNIST-like sparsity (80 % zeros) keeps it realistic."""
    rng = np.random.default_rng(seed)
    first = spec.shapes[0] if spec is not None else None
    shape = (29, 29) if first is None else ((first.size, first.size) if first.maps == 1 else
                                            (first.maps, first.size, first.size))
    x = rng.random((n, *shape), dtype=np.float32)
    x[x < 0.8] = 0.0
    classes = spec.n_classes if spec is not None else 10
    return x, rng.integers(0, classes, n)


def _trainer(spec: NetworkSpec, threads: int):
    from cnnperf.parallel.trainer import TrainConfig, Trainer
    return Trainer(spec, TrainConfig(threads=threads, lr=1e-4))


def measure_times(spec: NetworkSpec, n: int, repeats: int) -> tuple[Measurement, Measurement]:
    """Single-thread per-image forward time and train-step time (forward + backward + update),
    measured interleaved (forward, train, forward, ...) so drifts hit both alike."""
    x, y = synthetic_images(n, spec)
    t = _trainer(spec, 1)
    fwd, train = [], []
    try:
        t.run_phase("train", x[: max(1, n // 10)], y[: max(1, n // 10)], 1e-4)  # warm caches
        for _ in range(repeats):
            fwd.append(t.run_phase("validation", x, y, 0.0).seconds)
            train.append(t.run_phase("train", x, y, 1e-4).seconds)
    finally:
        t.close()
    return Measurement(tuple(fwd), per=n), Measurement(tuple(train), per=n)


def measure_prep(spec: NetworkSpec, threads: int, repeats: int) -> Measurement:
    """TPrep: creating the shared weights and `threads` network instances (sequential)."""
    samples = []
    for _ in range(repeats):
        t = _trainer(spec, threads)
        samples.append(t.prep_seconds)
        t.close()
    return Measurement(tuple(samples))


def measure_contention(spec: NetworkSpec, p: int, n: int, repeats: int, hardware_threads: int
                       ) -> tuple[float, Measurement]:
    """MemoryContention(p): each of p workers trains n images on shared weights (wall W_p);
    one worker alone trains n images (T_1, the mean of the runs just before and after W_p);
    with the time-slicing factor s = max(1, p/hw),
    MC = median over repeats of (W_p - T_1 * s) / (n * s), the model's per-image term
    (Tmem = MC * i/p * s). Returns MC (s per image) and the W_p measurement (stability flags)."""
    x, y = synthetic_images(p * n, spec)
    alone, team = _trainer(spec, 1), _trainer(spec, p)
    try:
        team.run_phase("train", x[: p * max(1, n // 10)], y[: p * max(1, n // 10)], 1e-4)
        slice_ = max(1.0, p / hardware_threads)
        extra, walls = [], []
        t_before = alone.run_phase("train", x[:n], y[:n], 1e-4).seconds
        for _ in range(repeats):  # T_1 before and after each W_p: slow drifts of the machine cancel
            wp = team.run_phase("train", x, y, 1e-4).seconds
            t_after = alone.run_phase("train", x[:n], y[:n], 1e-4).seconds
            t1 = 0.5 * (t_before + t_after)
            extra.append((wp - t1 * slice_) / slice_)
            walls.append(wp)
            t_before = t_after
    finally:
        alone.close()
        team.close()
    return float(np.median(extra)) / n, Measurement(tuple(walls))


def measure_cpi(spec: NetworkSpec, siblings: list[int], n: int, repeats: int) -> float:
    """CPI for len(siblings) threads on one core: time per image per thread, pinned to the core's
    hardware threads, over the time of one thread alone on that core."""
    from cnnperf import engine
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 0)
    x, y = synthetic_images(n * len(siblings), spec)

    def run(cpus: list[int]) -> float:
        wss = [engine.new_workspace(layout, worker=(k, len(cpus))) for k in range(len(cpus))]
        times = [0.0] * len(cpus)

        def work(k: int) -> None:
            os.sched_setaffinity(0, {cpus[k]})
            t0 = time.perf_counter()
            engine.train_images(layout, w, wss[k], x, y, k * n, (k + 1) * n, 1e-4)
            times[k] = time.perf_counter() - t0

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(cpus))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return max(times)

    alone = float(np.median([run(siblings[:1]) for _ in range(repeats)]))
    together = float(np.median([run(siblings) for _ in range(repeats)]))
    return together / alone


def fit_operation_factor(spec: NetworkSpec, params: NetworkParams, profile: HardwareProfile, p_ref: int,
                         n: int, repeats: int) -> tuple[float, str]:
    """Strategy (a)'s OperationFactor from one short real run (1 epoch, all three phases) at p_ref:
    OF = (T_measured - Tmem) / (the Table V terms with OF = 1, without Tmem)."""
    from cnnperf.hardware.topology import available_cores
    from cnnperf.models import strategy_a
    from cnnperf.parallel.run import train
    from cnnperf.parallel.trainer import Dataset, TrainConfig

    x, y = synthetic_images(n + n // 5, spec, seed=1)
    data = Dataset(x[:n], y[:n], x[n:], y[n:])
    totals = []
    for _ in range(repeats):
        result, _ = train(spec, data, TrainConfig(epochs=1, threads=p_ref, lr=1e-4), cores=available_cores())
        totals.append(result.prep_seconds + sum(e.seconds for e in result.epochs))
    measured = float(np.median(totals))
    unit = replace(params, operation_factor=1.0)
    pred = strategy_a.predict(unit, profile, p_ref, n, n // 5, 1)
    without_mem = float(pred.seconds - pred.terms["mem"])
    of = (measured - float(pred.terms["mem"])) / without_mem
    return of, f"fitted to a 1-epoch run of {n} images at p = {p_ref}: measured {measured:.6g} s (median of {repeats})"


