"""Calibrate this machine: the hardware-dependent parameters of NOTES.md, measured on the
real engine and trainer by the measurement protocol (`measure.protocol`), saved step by step
so an interrupted calibration resumes.

Every timed region of every network (forward and train step on one thread, p workers on shared
weights, TPrep, one short real run for OperationFactor) is a protocol task: all are measured in
interleaved, seeded rounds over the whole calibration, with the drift probe between them, until
each median's 95 % interval is within the target or the budget is spent. Derived values
(TBprop = train step - forward, MemoryContention(p), OperationFactor, CPI) carry the propagated
uncertainty. The profile stores every value with its Spread and the machine's noise ([noise]).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from cnnperf.fileio import ResumableState
from cnnperf.hardware import HardwareProfile, NetworkParams, save_profile
from cnnperf.hardware.profile import Contention, Noise, ReferenceRuns, Spread
from cnnperf.hardware.topology import MachineInfo, core_siblings, detect_machine
from cnnperf.measure.protocol import Estimates, measure
from cnnperf.measure.quantities import fit_operation_factor, operation_factor_from
from cnnperf.measure.robust import derive
from cnnperf.measure.tasks import NetworkBench, contention_step, cpi_tasks, pilot_images
from cnnperf.networks import resolve_network
from cnnperf.opcount import count_ops

__all__ = ["CalibrationConfig", "calibrate", "fit_operation_factor", "noise_line"]
PAPER_EPOCHS = {"small": 70, "medium": 70, "large": 15}
# images per timed region of the presets: long enough for >= ~0.1 s on a current core; other
# networks get theirs from a pilot region on this machine (REGION_S)
TIMING_IMAGES = {"small": 3000, "medium": 600, "large": 240}
REGION_S = 0.1
Log = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationConfig:
    nets: tuple[str, ...] = ("small", "medium", "large")
    threads: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    quick: bool = False
    repeats: int = 5  # blocks per region at least (the protocol's min_blocks; 3 with quick)
    reference_threads: int | None = None  # OperationFactor fit (default: the cores)
    budget_s: float | None = None  # measurement time after which no more blocks start (None: no limit)
    target_rel_ci: float = 0.03  # each median's 95 % interval within +-3 % ends its repeats
    max_blocks: int | None = None  # default: 8 with quick, else 20
    seed: int = 0  # of the interleaved order
    machine_model: bool = False  # also build the per-layer machine model of strategy (d)

    def images(self, net: str, pilot: int | None = None) -> int:
        """Images per timed region: the preset's, else `pilot` (the count a pilot region found)."""
        n = TIMING_IMAGES.get(net, pilot or 300)
        return max(20, n // 4) if self.quick else n

    @property
    def min_blocks(self) -> int:
        return 3 if self.quick else self.repeats

    @property
    def blocks_cap(self) -> int:
        return max(self.max_blocks or (8 if self.quick else 20), self.min_blocks)

    def fingerprint(self) -> str:
        """The options that decide what is measured (not the budget: a resumed run may get more time)."""
        return hashlib.sha256(json.dumps([self.nets, self.threads, self.quick, self.repeats, self.reference_threads,
                                          self.target_rel_ci, self.blocks_cap, self.seed,
                                          self.machine_model]).encode()).hexdigest()[:16]


def single_thread(key: str) -> bool:
    """A calibration task that times one thread: the machine's noise is read from these alone
    (p workers, real runs at p > 1 and CPI regions carry their own spread: time slicing, sharing)."""
    parts = key.split("/")
    return not ("team" in parts or "cpi" in parts or ("run" in parts and parts[-1] != "1"))


def _number(v, positive: bool = False) -> bool:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return ok and (v > 0 if positive else v >= 0)


def _record(v, positive: tuple = (), numbers: tuple = (), texts: tuple = ("src",)) -> bool:
    return (isinstance(v, dict) and all(_number(v.get(k), True) for k in positive)
            and all(_number(v.get(k)) for k in numbers) and all(isinstance(v.get(k), str) for k in texts))


def _layer_blocks(v) -> bool:
    """The machine model's per-layer times: per probe a list of blocks (forward, backward, remainder)."""
    return isinstance(v, list) and all(isinstance(blocks, list) and all(
        isinstance(b, dict) and isinstance(b.get("remainder"), (int, float)) and not isinstance(b["remainder"], bool)
        and all(isinstance(b.get(k), list) and all(isinstance(x, (int, float)) and math.isfinite(x) for x in b[k])
                for k in ("forward", "backward"))
        for b in blocks) for blocks in v)


def _machine_model(v) -> bool:
    from cnnperf.errors import CnnperfError
    from cnnperf.hardware.machine_model_io import from_dict
    try:
        from_dict(v)
    except CnnperfError:
        return False
    return True


def step_ok(name: str, value) -> bool:
    """A saved step holds what the calibration reads back from it (a hand-edited or damaged state
    file then means starting over, not a traceback or a profile that does not load); steps of
    other kinds pass."""
    if name == "cpi":  # {"1": CPI, ..., "spread": {"1": Spread fields, ...}}
        return isinstance(value, dict) and bool(value) and all(
            (k.isdigit() and _number(c, True)) or (k == "spread" and isinstance(c, dict)) for k, c in value.items())
    if name == "machine/layers":
        return _layer_blocks(value)
    if name == "machine/model":
        return _machine_model(value)
    if name.endswith("/times"):
        return _record(value, ("t_fprop_s", "t_bprop_s"), texts=("src_f", "src_t"))
    if name.endswith("/prep"):
        return _record(value, numbers=("t_prep_s",))
    if name.endswith("/operation_factor"):
        return _record(value, ("operation_factor",))
    if name.rsplit("/", 2)[-2:-1] == ["contention"]:
        return _record(value, numbers=("seconds",))
    return True


def calibrate(config: CalibrationConfig, out: str | Path, log: Log = print,
              progress: Callable[[str], None] | None = None, machine: MachineInfo | None = None) -> HardwareProfile:
    """Measure every parameter, save the profile atomically at `out`, return it."""
    out = Path(out)
    state = ResumableState(out.with_name(out.name + ".partial.json"), config.fingerprint(), log, step_ok)
    machine = machine or detect_machine()
    hw = machine.cores * machine.threads_per_core
    log(f"machine: {machine.model_name}, {machine.cores} cores x {machine.threads_per_core} threads, "
        f"{machine.clock_hz / 1e9:.3g} GHz ({machine.sources['clock_hz']})")
    specs = [resolve_network(n) for n in config.nets]
    p_ref = config.reference_threads or machine.cores
    siblings = core_siblings(0)
    smt = machine.threads_per_core > 1 and len(siblings) > 1
    sizes = {spec.name: _images(spec, config, state) for spec in specs}
    machine_tasks = None
    if config.machine_model and state.get("machine/model") is None:
        from cnnperf.measure.machine import GridConfig, MachineTasks
        machine_tasks = MachineTasks(GridConfig.quick() if config.quick else GridConfig(), tuple(config.threads), hw,
                                     state)
    t0 = time.perf_counter()
    try:
        est = _measure(config, specs, sizes, state, hw, p_ref, siblings if smt and state.get("cpi") is None else [],
                       log, progress, machine_tasks.tasks() if machine_tasks else [])
        seconds = time.perf_counter() - t0
        return _finish(config, out, state, est, machine, specs, sizes, hw, p_ref, log, machine_tasks, seconds,
                       siblings if smt else [])
    finally:
        if machine_tasks is not None:
            machine_tasks.close()


def _finish(config: CalibrationConfig, out: Path, state: ResumableState, est, machine: MachineInfo, specs,
            sizes: dict, hw: int, p_ref: int, log: Log, machine_tasks, seconds: float,
            cpi_siblings: list[int]) -> HardwareProfile:
    """The profile from the measurements: CPI, every network, the machine model; saved at `out`."""
    if est is not None:
        state.put("noise", _noise_dict(est.noise(single_thread)))
    if state.get("cpi") is None:
        state.put("cpi", _cpi_step(est, cpi_siblings))
    cpi_step = state.get("cpi")
    cpi = {int(k): float(v) for k, v in cpi_step.items() if k != "spread"}
    cpi_spread = {int(k): Spread(**v) for k, v in cpi_step.get("spread", {}).items()}
    log("CPI by threads per core: " + ", ".join(f"{t}: {c:.2f}" for t, c in cpi.items()) +
        ("" if machine.threads_per_core > 1 else " (one hardware thread per core: CPI(1) = 1 by definition)"))
    base = HardwareProfile(name="calibrating", clock_hz=machine.clock_hz, cores=machine.cores,
                           threads_per_core=machine.threads_per_core, cpi=cpi, networks={},
                           oversubscription="time-slicing")
    networks = {}
    for spec in specs:
        params = _network(spec, sizes[spec.name], config, state, est, base, hw, p_ref, log)
        networks[params.name] = params
    model = None
    if config.machine_model:
        from cnnperf.hardware.machine_model_io import from_dict, to_dict
        if machine_tasks is not None:  # the calibrated networks' contention joins the probes' in its fit
            extra = [(4.0 * spec.n_weights, n.t_fprop_s + n.t_bprop_s, dict(zip(n.contention.threads,
                                                                                n.contention.seconds)))
                     for spec, n in zip(specs, networks.values())]
            state.put("machine/model", to_dict(machine_tasks.model(est, config.quick, log, seconds, extra)))
        model = from_dict(state.get("machine/model"))
    detected = {"model_name": machine.model_name, "logical_cpus": machine.logical_cpus,
                "sources": dict(machine.sources), "date": time.strftime("%Y-%m-%d"), "quick": config.quick}
    noise = state.get("noise")
    profile = HardwareProfile(name=out.stem, clock_hz=machine.clock_hz, cores=machine.cores,
                              threads_per_core=machine.threads_per_core, cpi=base.cpi, networks=networks,
                              description=f"{machine.model_name}, {machine.cores} cores x {machine.threads_per_core}"
                                          f" threads (cnnperf calibrate)",
                              source="cnnperf calibrate on this machine", extra={"detected": detected},
                              oversubscription="time-slicing", cpi_spread=cpi_spread,
                              noise=None if noise is None else _noise_of(noise), machine_model=model)
    save_profile(out, profile)
    state.done()
    return profile


def _images(spec, config: CalibrationConfig, state: ResumableState) -> int:
    """Images per timed region of `spec` (a preset's, or from a pilot region, saved as a step)."""
    if spec.name in TIMING_IMAGES:
        return config.images(spec.name)
    key = f"{spec.name}/images"
    if state.get(key) is None:
        state.put(key, pilot_images(spec, REGION_S))
    return config.images(spec.name, state.get(key))


def _measure(config: CalibrationConfig, specs, sizes: dict, state: ResumableState, hw: int, p_ref: int,
             cpi_siblings: list[int], log: Log, progress, extra: list | None = None) -> Estimates | None:
    """Every region whose step is not saved yet, by the protocol (one interleaved measurement),
    with the `extra` tasks (the machine model's) interleaved among them."""
    benches, tasks = [], list(extra or [])
    if cpi_siblings:
        tasks += cpi_tasks(specs[0], cpi_siblings, sizes[specs[0].name] // 2)
    for spec in specs:
        want = {k: state.get(f"{spec.name}/{k}") is None for k in ("times", "prep")}
        team = tuple(p for p in config.threads if p > 1 and state.get(f"{spec.name}/contention/{p}") is None)
        runs = _run_threads(config, p_ref) if state.get(f"{spec.name}/runs") is None else ()
        if any(want.values()) or team or runs:
            bench = NetworkBench(spec, sizes[spec.name], tuple(config.threads), hw)
            benches.append(bench)
            tasks += bench.tasks(want, team, runs)
    if not tasks:
        return None
    try:
        return measure(tasks, min_blocks=config.min_blocks, max_blocks=config.blocks_cap,
                       target_rel_ci=config.target_rel_ci, budget_s=config.budget_s, seed=config.seed, state=state,
                       state_key="protocol", log=log, progress=progress)
    finally:
        for bench in benches:
            bench.close()


def _run_threads(config: CalibrationConfig, p_ref: int) -> tuple[int, ...]:
    """The thread counts of the reference runs: the calibrated ones and the reference thread count."""
    return tuple(sorted(set(config.threads) | {p_ref}))


def _cpi_step(est: Estimates, siblings: list[int]) -> dict:
    step: dict = {"1": 1.0, "spread": {}}
    for k in range(2, len(siblings) + 1):
        one, many = est["cpi/1"], est[f"cpi/{k}"]
        step[str(k)] = many.value / one.value
        step["spread"][str(k)] = asdict(derive(lambda a, b: b / a, [one, many]))
    return step


def _noise_dict(noise: Noise) -> dict:
    return {**asdict(noise), "window_s": list(noise.window_s), "levels": list(noise.levels),
            "factors": [list(r) for r in noise.factors]}


def _noise_of(d: dict) -> Noise:
    return Noise(**{**d, "window_s": tuple(d["window_s"]), "levels": tuple(d["levels"]),
                    "factors": tuple(tuple(r) for r in d["factors"])})


def _put(state: ResumableState, key: str, make) -> dict:
    """The saved step `key`, or make() saved now."""
    if state.get(key) is None:
        state.put(key, make())
    return state.get(key)


def _network(spec, n: int, config: CalibrationConfig, state: ResumableState, est: Estimates | None,
             base: HardwareProfile, hw: int, p_ref: int, log: Log) -> NetworkParams:
    name = spec.name
    times = _put(state, f"{name}/times", lambda: _times(est, name))
    prep = _put(state, f"{name}/prep", lambda: {"t_prep_s": est[f"{name}/prep"].value,
                                                 "src": est[f"{name}/prep"].describe(),
                                                 "spread": asdict(est[f"{name}/prep"].spread())})
    rows = [(p, _put(state, f"{name}/contention/{p}", lambda p=p: contention_step(est, name, p, hw)))
            for p in config.threads]
    spreads = tuple(Spread(**v["spread"]) if "spread" in v else Spread(v["seconds"], v["seconds"], v["seconds"],
                                                                         v["seconds"], 0) for _, v in rows)
    contention = Contention(tuple(p for p, _ in rows), tuple(v["seconds"] for _, v in rows),
                            ("measured",) * len(rows), spreads if any("spread" in v for _, v in rows) else ())
    counts = count_ops(spec, executed=True)
    params = NetworkParams(name=name, epochs=PAPER_EPOCHS.get(name, 1), operation_factor=1.0,
                           prep_ops=float(counts.prep(p_ref)), fprop_ops=float(counts.fprop),
                           bprop_ops=float(counts.bprop), t_prep_s=prep["t_prep_s"], t_fprop_s=times["t_fprop_s"],
                           t_bprop_s=times["t_bprop_s"], contention=contention, notation=spec.notation())
    runs = _put(state, f"{name}/runs", lambda: _runs(est, name, _run_threads(config, p_ref), 2 * n))
    of = _put(state, f"{name}/operation_factor", lambda: _operation_factor(runs, params, base, p_ref))
    sources = {"t_fprop_s": times["src_f"], "t_bprop_s": "train step minus forward; train step " + times["src_t"],
               "t_prep_s": prep["src"], "operation_factor": of["src"],
               "fprop_ops": "cnnperf count --executed", "bprop_ops": "cnnperf count --executed",
               "prep_ops": f"cnnperf count: weights + {p_ref} instances",
               "memory_contention": "; ".join(f"p={p}: {v['src']}" for p, v in rows)}
    uncertainty = {k: Spread(**step[s]) for k, step, s in (("t_fprop_s", times, "spread_f"),
                                                           ("t_bprop_s", times, "spread_b"),
                                                           ("t_prep_s", prep, "spread"),
                                                           ("operation_factor", of, "spread")) if s in step}
    reference = ReferenceRuns(tuple(runs["threads"]), tuple(runs["seconds"]), runs["images"], runs["test_images"], 1,
                              tuple(Spread(**v) for v in runs["spread"]))
    for line in (f"{k}: {v}" for k, v in sources.items() if "noisy" in v or "short" in v):
        log(f"warning: {name} {line}")
    log(f"{name}: TFprop {times['t_fprop_s'] * 1e6:.1f} us, TBprop {times['t_bprop_s'] * 1e6:.1f} us, "
        f"TPrep {prep['t_prep_s'] * 1e3:.2f} ms, OF {of['operation_factor']:.3g}, MC " +
        ", ".join(f"{p}: {v['seconds'] * 1e6:.2f} us" for p, v in rows))
    return replace(params, operation_factor=of["operation_factor"], sources=sources, uncertainty=uncertainty,
                   reference_runs=reference)


def _times(est: Estimates, name: str) -> dict:
    fwd, train = est[f"{name}/forward"], est[f"{name}/train"]
    bprop, note = train.value - fwd.value, ""
    if bprop <= 0.05 * train.value:  # noise can invert a small difference; keep the profile valid
        bprop, note = 0.05 * train.value, f" (difference {train.value - fwd.value:.3g} s, noisy: clamped)"
    return {"t_fprop_s": fwd.value, "t_bprop_s": bprop, "src_f": fwd.describe(), "src_t": train.describe() + note,
            "spread_f": asdict(fwd.spread()), "spread_b": asdict(derive(lambda t, f: t - f, [train, fwd], bprop))}


def _runs(est: Estimates, name: str, threads: tuple[int, ...], n: int) -> dict:
    """The reference runs (1 epoch of n training and n // 5 test images at each p) as a step."""
    runs = [est[f"{name}/run/{p}"] for p in threads]
    return {"threads": list(threads), "seconds": [r.value for r in runs], "images": n, "test_images": n // 5,
            "spread": [asdict(r.spread()) for r in runs], "src": [r.describe() for r in runs]}


def _operation_factor(runs: dict, params: NetworkParams, base: HardwareProfile, p_ref: int) -> dict:
    """OF from the reference run at p_ref; affine in the run's seconds, so its Spread maps directly."""
    k = runs["threads"].index(p_ref)
    t, n = runs["seconds"][k], runs["images"]
    of = float(operation_factor_from(params, base, p_ref, n, t))
    sp = runs.get("spread", [None] * len(runs["threads"]))[k]
    spread = None if sp is None else {key: max(0.0, float(operation_factor_from(params, base, p_ref, n, v))) if
                                      key != "samples" else v for key, v in sp.items()}
    src = runs.get("src", ["saved"] * len(runs["threads"]))[k]
    return {"operation_factor": of, **({"spread": spread} if spread else {}),
            "src": f"fitted to a 1-epoch run of {n} images at p = {p_ref}: measured {t:.6g} s ({src})"}


def noise_line(profile: HardwareProfile, level: float = 0.9, images: int = 10000, test_images: int = 2000) -> str:
    """One line on the machine's noise during calibration and what it means for predictions: the
    median over networks and calibrated p of the intervals of the default strategy for one epoch."""
    from cnnperf.models import DEFAULT_STRATEGY, STRATEGIES
    from cnnperf.models.intervals import model_discrepancy, with_interval

    if profile.noise is None:
        return "machine noise: not measured (profile without [noise]; calibrate again with this cnnperf)"
    model, lows, highs = STRATEGIES[DEFAULT_STRATEGY], [], []
    for entry in profile.networks.values():
        p = np.array(entry.contention.threads)
        pred = model.predict(entry.name, profile, p, images, test_images, 1)
        pred = with_interval(pred, lambda h, e=entry, p=p: model.predict(e.name, h, p, images, test_images, 1),
                             profile, level, [entry.name], model_error=model_discrepancy(model, entry.name, profile))
        if pred.seconds_low is not None:
            lows += list(1 - pred.seconds_low / pred.seconds)
            highs += list(pred.seconds_high / pred.seconds - 1)
    n = profile.noise
    expect = (f"expect predictions within {-np.median(lows):+.0%}/{np.median(highs):+.0%} ({level:.0%} intervals, "
              f"1 epoch of {images:,} images, median over networks and p)") if lows else "no interval"
    return (f"drift {n.region_drift:.0%} during calibration (95th percentile of {n.regions} timed regions over their "
            f"quiet mode; drift probe {n.probe_drift:+.0%}): {expect}")
