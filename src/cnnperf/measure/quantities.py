"""Helpers of the calibration's measurements (NOTES.md "measured, hardware dependent"): the
synthetic images every timed region trains on, and strategy (a)'s OperationFactor from a
measured reference run. The timed regions themselves are protocol tasks (`measure.tasks`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cnnperf.hardware import HardwareProfile, NetworkParams
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


def fit_operation_factor(spec: NetworkSpec, params: NetworkParams, profile: HardwareProfile, p_ref: int,
                         n: int, repeats: int) -> tuple[float, str]:
    """Strategy (a)'s OperationFactor from one short real run (1 epoch, all three phases) at p_ref:
    OF = (T_measured - Tmem) / (the Table V terms with OF = 1, without Tmem)."""
    from cnnperf.hardware.topology import available_cores
    from cnnperf.parallel.run import train
    from cnnperf.parallel.trainer import Dataset, TrainConfig

    x, y = synthetic_images(n + n // 5, spec, seed=1)
    data = Dataset(x[:n], y[:n], x[n:], y[n:])
    totals = []
    for _ in range(repeats):
        result, _ = train(spec, data, TrainConfig(epochs=1, threads=p_ref, lr=1e-4), cores=available_cores())
        totals.append(result.prep_seconds + sum(e.seconds for e in result.epochs))
    measured = float(np.median(totals))
    of = operation_factor_from(params, profile, p_ref, n, measured)
    return of, f"fitted to a 1-epoch run of {n} images at p = {p_ref}: measured {measured:.6g} s (median of {repeats})"


def operation_factor_from(params: NetworkParams, profile: HardwareProfile, p_ref: int, n: int, measured):
    """OF = (T_measured - Tmem) / (the Table V terms with OF = 1, without Tmem) for a 1-epoch run of
    n training and n // 5 test images at p_ref (array-aware in `measured`)."""
    from cnnperf.models import strategy_a

    pred = strategy_a.predict(replace(params, operation_factor=1.0), profile, p_ref, n, n // 5, 1)
    mem = float(pred.terms["mem"])
    return (np.asarray(measured, dtype=float) - mem) / (float(pred.seconds) - mem) + 0.0


