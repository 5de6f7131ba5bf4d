"""The validation pipeline below the reports: the sweep (or stored runs) and the analysis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cnnperf.errors import CnnperfError
from cnnperf.fileio import new_output_dir, output_dir
from cnnperf.hardware import HardwareProfile
from cnnperf.validation import store
from cnnperf.validation.analysis import ValidationResult, analyse
from cnnperf.validation.sweep import Run, SweepConfig, medians, run_sweep


@dataclass(frozen=True)
class ValidationRequest:
    profile: HardwareProfile
    sweep: SweepConfig  # networks, thread counts, run sizes, repeats
    out: Path = Path("validation")
    data: str | None = None
    fit_threads: tuple[int, ...] | None = None  # fit here, test on the other thread counts
    reuse: Path | None = None  # analyse the runs stored in this directory instead of training
    holdout: tuple[str, ...] = ()  # networks not in the calibration: reported separately
    interval: float | None = 0.9  # level of the prediction intervals (None: none)


def _check(request: ValidationRequest) -> None:
    if not request.sweep.threads:
        raise CnnperfError("the thread list is empty; give e.g. 1,2,4")
    if not request.sweep.nets:
        raise CnnperfError("the network list is empty; give e.g. small,medium")
    fit = request.fit_threads
    if fit is not None and (not fit or set(fit) >= set(request.sweep.threads)):
        raise CnnperfError("fit threads must be a non-empty subset of the thread counts that leaves some to test")
    from cnnperf.data.mnist import load_bytes
    from cnnperf.models import available
    from cnnperf.networks import resolve_network
    from cnnperf.parallel.memory import check_memory, estimate_memory
    from cnnperf.parallel.session import check_input
    for net in request.sweep.nets:
        spec = resolve_network(net)
        if request.reuse is None:  # the runs to train fit the images and the memory
            check_input(spec)
            check_memory(estimate_memory(spec, max(request.sweep.threads),
                                         load_bytes(request.sweep.images, request.sweep.test_images)))
        if net not in request.holdout:
            request.profile.params_for(spec)
            continue
        if any(n.notation == spec.notation() or n.name == spec.name for n in request.profile.networks.values()):
            raise CnnperfError(f"{net} is in profile {request.profile.name}: it is not held out; give networks the "
                               "calibration did not see")
        if not available(spec, request.profile):
            raise CnnperfError(f"no strategy of profile {request.profile.name} predicts the held-out {net}: it needs a "
                               "machine model (cnnperf calibrate --out PROFILE without --nets)")


def measure_and_analyse(request: ValidationRequest, log: Callable[[str], None],
                        progress: Callable[[str], None] | None = None,
                        warnings: tuple[str, ...] = ()) -> tuple[ValidationResult, list[Run], dict]:
    """Runs (trained now, or stored under `reuse`), their medians, and the analysis. `warnings`
    are logged once every input is checked and loaded (a refused validation prints only its error)."""
    _check(request)
    config = request.sweep
    if request.reuse is not None:  # the run parameters are those of the stored sweep
        results = Path(request.reuse) / store.RESULTS
        runs = store.load_runs(results, Run, lambda r: r.net in config.nets and r.p in config.threads)
        stored = store.stored_config(results)
        config = replace(config, **{k: stored[k] for k in ("epochs", "images", "test_images", "repeat")
                                    if isinstance(stored.get(k), int)})
        output_dir(request.out, store.RESULTS)
        for w in warnings:
            log(f"warning: {w}")
    else:
        from cnnperf.data.mnist import load_mnist
        from cnnperf.parallel.trainer import Dataset

        m = load_mnist(request.data, config.images, config.test_images)
        with new_output_dir(request.out, store.RESULTS) as out:
            for w in warnings:
                log(f"warning: {w}")
            data = Dataset(m.train_images, m.train_labels, m.test_images, m.test_labels)
            runs = run_sweep(config, data, out, log, progress)
    measured = medians(runs)
    return analyse(request.profile, config, measured, request.fit_threads, request.interval,
                   request.holdout), runs, measured
