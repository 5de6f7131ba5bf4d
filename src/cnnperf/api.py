"""The public Python API: every verb of the CLI as a function over library objects.

    import cnnperf
    net = cnnperf.network("medium")
    phi = cnnperf.profile("xeon-phi-7120p")
    pred = cnnperf.predict(net, phi, threads=[240, 480, 960])
    print(pred.seconds / 60)

Functions return frozen dataclasses. Heavy packages (Numba, the engine, matplotlib) are
imported inside the functions that need them, so `import cnnperf` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading

    from cnnperf.hardware import HardwareProfile
    from cnnperf.models import Prediction
    from cnnperf.networks import NetworkSpec
    from cnnperf.opcount import OpCounts
    from cnnperf.parallel.results import TrainResult
    from cnnperf.validation.analysis import ValidationResult
    from cnnperf.validation.reproduce import Reproduction

DEFAULT_THREADS = (1, 15, 30, 60, 120, 180, 240)  # the paper's measured thread counts
CALIBRATION_THREADS = (1, 2, 3, 4, 6, 8)
MAX_POINTS = 1_000_000  # predictions per call (thread counts x ranks): beyond, refuse instead of hanging


def network(net: str | NetworkSpec, activation: str | None = None) -> NetworkSpec:
    """A preset name, a TOML file, compact notation (`29x29-20C4-MP2-150N-10N`) or a spec."""
    from cnnperf.networks import NetworkSpec, resolve_network

    if isinstance(net, NetworkSpec):
        return net if activation in (None, net.activation) else NetworkSpec(net.name, net.layers, activation)
    return resolve_network(str(net), activation)


def networks(nets: str | Sequence[str | NetworkSpec]) -> tuple[NetworkSpec, ...]:
    """Several networks: a comma-separated string or a sequence (each as in `network`)."""
    from cnnperf.errors import CnnperfError

    items = [n.strip() for n in nets.split(",") if n.strip()] if isinstance(nets, str) else list(nets)
    if not items:
        raise CnnperfError("the network list is empty; give e.g. small,medium")
    return tuple(network(n) for n in items)


def profile(name_or_path: str | Path | HardwareProfile) -> HardwareProfile:
    """A built-in profile name, a profile TOML file, or a profile (returned as it is)."""
    from cnnperf.hardware import HardwareProfile, load_profile

    return name_or_path if isinstance(name_or_path, HardwareProfile) else load_profile(str(name_or_path))


def target(net: str | NetworkSpec, prof: str | Path | HardwareProfile) -> str | NetworkSpec:
    """What the strategies predict: a profile entry's name as given, else the resolved network."""
    from cnnperf.errors import CnnperfError

    hp = profile(prof)
    if isinstance(net, str) and net in hp.networks:
        return net
    try:
        return network(net)
    except CnnperfError as exc:
        if isinstance(net, str) and not net.endswith(".toml") and "-" not in net:
            raise CnnperfError(f"profile {hp.name} has no network {net!r}; it has {', '.join(hp.networks) or 'none'} "
                               f"(calibrate it with 'cnnperf calibrate --nets ...'), and {exc}") from None
        raise


def strategies_for(net: str | NetworkSpec, prof: str | Path | HardwareProfile, strategy: str = "all") -> list[str]:
    """The strategy names `predict` would use: `strategy`, or with "all" every one the profile supports."""
    from cnnperf.errors import CnnperfError
    from cnnperf.models import STRATEGIES, available

    hp = profile(prof)
    spec = target(net, hp)
    if strategy == "all":
        names = available(spec, hp)
        if not names:
            raise CnnperfError(STRATEGIES[next(iter(STRATEGIES))].requires(spec, hp))
        return names
    if strategy not in STRATEGIES:
        raise CnnperfError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)} or all")
    return [strategy]


def predict(net: str | NetworkSpec, prof: str | Path | HardwareProfile = "xeon-phi-7120p", strategy: str | None = None,
            threads: Sequence[int] | int = DEFAULT_THREADS, images: int = 60000, test_images: int = 10000,
            epochs: int | None = None, ranks: int = 1, ranks_per_node: int = 1,
            sync_every: int | None = None, interval: float | None = 0.9) -> Prediction:
    """Predicted seconds of CHAOS training (paper Tables V, VI and cnnperf's strategies) for every
    thread count. `strategy=None`: `cnnperf.models.DEFAULT_STRATEGY`, the paper's measured-times
    model. `epochs=None`: the profile's epochs for that network (as the paper). `ranks > 1`:
    R MPI ranks x `threads` each, plus the communication term (needs the profile's [network]).
    `interval`: the level of the prediction interval (`seconds_low`, `seconds_high`; None: none)."""
    import numpy as np

    from cnnperf.errors import CnnperfError
    from cnnperf.models import DEFAULT_STRATEGY, STRATEGIES
    from cnnperf.models.intervals import check_level, entries_of, model_discrepancy, predict_single, with_interval

    hp = profile(prof)
    spec = target(net, hp)
    name = strategies_for(spec, hp, strategy or DEFAULT_STRATEGY)[0]
    model = STRATEGIES[name]
    problem = model.requires(spec, hp)
    if problem:
        raise CnnperfError(problem)
    p = np.atleast_1d(np.asarray(threads))
    if p.size == 0 or p.size > MAX_POINTS:
        raise CnnperfError(f"give between 1 and {MAX_POINTS:,} thread counts, got {p.size:,}")
    if epochs is None:
        epochs = _default_epochs(spec, hp)
    if interval is not None:
        check_level(interval)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, not warned about
        if ranks == 1 and ranks_per_node == 1 and sync_every is None:
            pred = predict_single(model, spec, hp, p, images, test_images, epochs, interval)
        else:
            from cnnperf.models.comm import predict_distributed

            params = hp.params_for(spec)
            n_weights = spec.n_weights if not isinstance(spec, str) else network(params.notation or spec).n_weights

            def run(h: HardwareProfile) -> Prediction:
                return predict_distributed(model, h.params_for(spec), h, p, ranks, images, test_images, epochs,
                                           n_weights=n_weights, sync_every=sync_every, ranks_per_node=ranks_per_node)
            pred = with_interval(run(hp), run, hp, interval, entries_of(spec, hp),
                                 model_error=model_discrepancy(model, spec, hp))
    if not all(np.isfinite(v).all() for v in pred.terms.values()):
        raise CnnperfError(f"strategy ({name}) predicts no finite time for {pred.net} with profile {hp.name}: the "
                           "numbers overflow; check the profile's values and the sizes (network, images, epochs)")
    return pred


def _default_epochs(spec: str | NetworkSpec, hp: HardwareProfile) -> int:
    try:
        return hp.params_for(spec).epochs
    except Exception:  # a network without an entry (predicted from a machine model): one epoch
        return 1


def count(net: str | NetworkSpec, executed: bool = False) -> OpCounts:
    """Operations per image per layer and type (paper Tables VII, VIII) and Prep."""
    from cnnperf.opcount import count_ops

    return count_ops(network(net), executed=executed)


def reproduce(prof: str | Path | HardwareProfile = "xeon-phi-7120p") -> Reproduction:
    """The paper's Tables IV, X and XI recomputed beside the published cells."""
    from cnnperf.validation.reproduce import reproduce as _reproduce

    return _reproduce(profile(prof))


def train(net: str | NetworkSpec, threads: int | None = None, epochs: int = 1, train_images: int | None = None,
          test_images: int | None = None, data: str | Path | None = None, seed: int = 0, lr: float | None = None,
          progress: bool | object = False, stop: threading.Event | None = None, activation: str | None = None,
          **options) -> TrainResult:
    """CHAOS training on MNIST: `threads` workers share one weight store (default: the usable
    cores). Returns a TrainResult (`.epochs[k].train/.validation/.test` with `seconds`, `images`,
    `error_rate`). More options as keywords, as `cnnperf train` takes them (`lr_decay`, `shuffle`,
    `checkpoint`, `resume`, `max_minutes`, `sync_every`, `lr_scaling`, `divergence`). `progress`:
    True for a progress bar on stderr, or a display with `progress(...)` and `compiling()`.
    Under mpiexec every rank trains its share and returns the same result. Setting `stop` ends the
    run after the running phase."""
    from cnnperf.hardware.topology import available_cores
    from cnnperf.parallel.session import TrainRequest, run_training

    cores = available_cores()
    request = TrainRequest(spec=network(net, activation), threads=threads or cores, cores=cores, epochs=epochs,
                           train_images=train_images, test_images=test_images,
                           data_dir=None if data is None else str(data), seed=seed,
                           **({} if lr is None else {"lr": lr}), **options)
    display = None
    if progress is True:
        from cnnperf.report.progress import TrainingDisplay
        display = TrainingDisplay(quiet=False)
    elif progress:
        display = progress
    try:
        return run_training(request, stop=stop, progress=None if display is None else display.progress,
                            compiling=None if display is None else display.compiling)
    finally:
        if progress is True:
            display.close()


def calibrate(out: str | Path, nets: str | Sequence[str] | None = None,
              threads: Sequence[int] = CALIBRATION_THREADS, quick: bool = False, repeats: int = 5,
              reference_threads: int | None = None, log: Callable[[str], None] | None = None,
              progress: Callable[[str], None] | None = None, machine_model: bool | None = None,
              budget_minutes: float | None = None, target_rel_ci: float = 0.03) -> HardwareProfile:
    """Measure this machine into a profile written (atomically) to `out`; resumable. `nets=None`:
    the presets and the machine model of strategy (d), which then predicts any network;
    `machine_model`: build it (True) or not (False) whatever `nets` is. Every region is measured
    by the protocol (interleaved blocks, drift probe) until its median's 95 % interval is within
    `target_rel_ci` or `budget_minutes` of measuring are spent."""
    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import check_writable
    from cnnperf.measure.calibrate import CalibrationConfig
    from cnnperf.measure.calibrate import calibrate as _calibrate

    check_writable(out)
    if not threads:
        raise CnnperfError("the thread list is empty; give e.g. 1,2,4")
    if budget_minutes is not None and not budget_minutes > 0:
        raise CnnperfError(f"the budget must be a positive number of minutes, got {budget_minutes!r}")
    if not 0 < target_rel_ci < 1:
        raise CnnperfError(f"the interval target must be between 0 and 1 (e.g. 0.03), got {target_rel_ci!r}")
    if machine_model is None:
        machine_model = nets is None
    if nets is None:
        nets = ("small", "medium", "large")
    names = tuple(n.strip() for n in nets.split(",") if n.strip()) if isinstance(nets, str) else tuple(nets)
    config = CalibrationConfig(names, tuple(threads), quick, repeats, reference_threads,
                               None if budget_minutes is None else 60.0 * budget_minutes, target_rel_ci,
                               machine_model=machine_model)
    _check_calibration_memory(networks(names), config)  # every name resolves before any measuring starts
    return _calibrate(config, out, log or (lambda m: None), progress)


def _check_calibration_memory(specs, config) -> None:
    """The largest step of a calibration fits in memory: the most workers (thread counts, reference,
    the CPUs for TPrep) on `p x images` synthetic images of each network (measure.quantities)."""
    import os

    from cnnperf.parallel.memory import check_memory, estimate_memory

    p = max(*config.threads, config.reference_threads or 1, os.cpu_count() or 1)
    for spec in specs:
        check_memory(estimate_memory(spec, p, 4 * p * config.images(spec.name) * spec.shapes[0].neurons))


def calibrate_interconnect(out: str | Path, log: Callable[[str], None] = print) -> HardwareProfile:
    """Under mpiexec (>= 2 ranks): Hockney alpha, beta by ping-pong into the profile's [network]."""
    from cnnperf.measure.interconnect import calibrate_interconnect as _interconnect

    return _interconnect(out, log)


def is_rank0() -> bool:
    """True unless this process is an MPI rank other than 0 (mpi4py is imported only under mpiexec)."""
    from cnnperf.parallel.distributed import mpi_world

    comm = mpi_world()
    return comm is None or comm.rank == 0


def validate(prof: str | Path | HardwareProfile, nets: str | Sequence[str] = ("small", "medium", "large"),
             threads: Sequence[int] = CALIBRATION_THREADS, epochs: int = 1, images: int = 10000,
             test_images: int = 2000, repeat: int = 3, out: str | Path = "validation", data: str | Path | None = None,
             fit_threads: Sequence[int] | None = None, reuse: str | Path | None = None,
             log: Callable[[str], None] | None = None, progress: Callable[[str], None] | None = None,
             holdout: str | Sequence[str] = (), interval: float | None = 0.9, seed: int = 0) -> ValidationResult:
    """Train every (network, p) `repeat` times (seeded, interleaved order), predict the same runs
    with every strategy, and write results.json, results.csv, one PNG per network, report.md (and
    a profile with the empirical fits) to `out`. `fit_threads`: fit contention and the empirical
    strategies there only (the other thread counts test the extrapolation). `reuse`: analyse
    stored runs. `holdout`: networks the calibration never saw (predicted by strategies that need
    no entry of theirs, the layer model), trained as well and reported apart. `interval`: level of
    the prediction intervals whose coverage is reported."""
    from dataclasses import replace

    from cnnperf.hardware.topology import machine_mismatch
    from cnnperf.models.intervals import check_level
    from cnnperf.report.outputs import write_validation
    from cnnperf.validation.pipeline import ValidationRequest, measure_and_analyse
    from cnnperf.validation.sweep import SweepConfig

    names = tuple(n.strip() for n in nets.split(",") if n.strip()) if isinstance(nets, str) else tuple(nets)
    held = tuple(n.strip() for n in holdout.split(",") if n.strip()) if isinstance(holdout, str) else tuple(holdout)
    hp = profile(prof)
    sweep = SweepConfig(tuple(dict.fromkeys(names + held)), tuple(threads), epochs, images, test_images, repeat, seed)
    request = ValidationRequest(hp, sweep, Path(out), None if data is None else str(data),
                                None if fit_threads is None else tuple(fit_threads),
                                None if reuse is None else Path(reuse), held,
                                None if interval is None else check_level(interval))
    warnings = tuple(machine_mismatch(hp))
    result, runs, measured = measure_and_analyse(request, log or (lambda m: None), progress, warnings)
    result = replace(result, warnings=warnings)
    return replace(result, files=write_validation(Path(out), result, runs, measured))


def validate_ranks(prof: str | Path | HardwareProfile, nets: str | Sequence[str] = ("small", "medium"),
                   ranks: Sequence[int] = (1, 2, 4), sync_every: Sequence[int | None] = (1000, None), threads: int = 1,
                   epochs: int = 1, images: int = 10000, test_images: int = 2000, repeat: int = 3,
                   out: str | Path = "validation", data: str | Path | None = None, reuse: str | Path | None = None,
                   log: Callable[[str], None] | None = None, progress: Callable[[str], None] | None = None):
    """Distributed validation: `mpiexec -n R` for every (network, R, K) on this machine, predicted
    with the communication model (needs the profile's [network]). K = None: once per epoch."""
    from dataclasses import replace

    from cnnperf.report.outputs import write_mpi_validation
    from cnnperf.validation.mpi_sweep import validate_ranks as _validate_ranks

    names = tuple(n.strip() for n in nets.split(",") if n.strip()) if isinstance(nets, str) else tuple(nets)
    result = _validate_ranks(profile(prof), names, tuple(ranks), tuple(sync_every), threads=threads, epochs=epochs,
                             images=images, test_images=test_images, repeat=repeat,
                             data=None if data is None else str(data), out_dir=Path(out),
                             reuse=None if reuse is None else Path(reuse), log=log or (lambda m: None), tick=progress)
    return replace(result, files=write_mpi_validation(Path(out), result))


def export_extrap(results: str | Path, out: str | Path) -> int:
    """Write the runs of a validation results.json in Extra-P's text format. Returns the run count."""
    from cnnperf.fileio import atomic_write_text, check_writable
    from cnnperf.report.export import extrap_text
    from cnnperf.validation.store import load_runs
    from cnnperf.validation.sweep import Run

    check_writable(out)
    runs = load_runs(results, Run)
    atomic_write_text(out, extrap_text(runs))
    return len(runs)
