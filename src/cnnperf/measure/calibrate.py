"""Calibrate this machine: the hardware-dependent parameters of NOTES.md, measured on the
real engine and trainer, saved step by step so an interrupted calibration resumes.

Steps per network: TFprop/TBprop (one thread, median of repeats), TPrep, MemoryContention(p)
(the paper's "small script for different thread counts": p workers train on shared weights,
the extra time per image over one worker alone, after time slicing), and OperationFactor of
strategy (a), fitted to one short real run at a reference thread count, as the paper did.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cnnperf.fileio import ResumableState
from cnnperf.hardware import HardwareProfile, NetworkParams, save_profile
from cnnperf.hardware.profile import Contention
from cnnperf.hardware.topology import MachineInfo, core_siblings, detect_machine
from cnnperf.measure.quantities import (
    fit_operation_factor,
    measure_contention,
    measure_cpi,
    measure_prep,
    measure_times,
)
from cnnperf.networks import resolve_network
from cnnperf.opcount import count_ops

PAPER_EPOCHS = {"small": 70, "medium": 70, "large": 15}
# images per timed region: long enough for >= ~0.1 s on a current core
TIMING_IMAGES = {"small": 3000, "medium": 600, "large": 240}
Log = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationConfig:
    nets: tuple[str, ...] = ("small", "medium", "large")
    threads: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    quick: bool = False
    repeats: int = 5
    reference_threads: int | None = None  # OperationFactor fit (default: the cores)
    machine_model: bool = False  # also build the per-layer machine model of strategy (d)

    def images(self, net: str) -> int:
        n = TIMING_IMAGES.get(net, 300)
        return max(20, n // 4) if self.quick else n

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.nets, self.threads, self.quick, self.repeats,
                                          self.reference_threads, self.machine_model]).encode()).hexdigest()[:16]


def _number(v, positive: bool = False) -> bool:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return ok and (v > 0 if positive else v >= 0)


def _record(v, positive: tuple = (), numbers: tuple = (), texts: tuple = ("src",)) -> bool:
    return (isinstance(v, dict) and all(_number(v.get(k), True) for k in positive)
            and all(_number(v.get(k)) for k in numbers) and all(isinstance(v.get(k), str) for k in texts))


def _grid_round(v) -> bool:
    return isinstance(v, list) and all(
        isinstance(b, dict) and _number(b.get("remainder")) and _number(b.get("evaluation"))
        and all(isinstance(b.get(k), list) and all(_number(x) for x in b[k]) for k in ("forward", "backward"))
        for b in v)


def step_ok(name: str, value) -> bool:
    """A saved step holds what the calibration reads back from it (a hand-edited or damaged state
    file then means starting over, not a traceback or a profile that does not load); steps of
    other kinds pass."""
    if name == "cpi":
        return isinstance(value, dict) and bool(value) and all(k.isdigit() and _number(c, True)
                                                               for k, c in value.items())
    if name.startswith("machine/grid/"):
        return _grid_round(value)
    if name.startswith("machine/contention/"):
        return isinstance(value, dict) and all(_number(c) for c in value.values())
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
    step = progress or (lambda s: None)
    log(f"machine: {machine.model_name}, {machine.cores} cores x {machine.threads_per_core} threads, "
        f"{machine.clock_hz / 1e9:.3g} GHz ({machine.sources['clock_hz']})")
    cpi = state.get("cpi")
    if cpi is None:
        step("CPI by threads per core")
        sib = core_siblings(0)
        cpi = {"1": 1.0}
        if machine.threads_per_core > 1 and len(sib) > 1:
            spec = resolve_network(config.nets[0])
            for t in range(2, len(sib) + 1):
                cpi[str(t)] = measure_cpi(spec, sib[:t], config.images(config.nets[0]) // 2, 3)
        state.put("cpi", cpi)
    log("CPI by threads per core: " + ", ".join(f"{t}: {c:.2f}" for t, c in cpi.items()) +
        ("" if machine.threads_per_core > 1 else " (one hardware thread per core: CPI(1) = 1 by definition)"))
    base = HardwareProfile(name="calibrating", clock_hz=machine.clock_hz, cores=machine.cores,
                           threads_per_core=machine.threads_per_core, cpi={int(k): float(v) for k, v in cpi.items()},
                           networks={}, oversubscription="time-slicing")
    networks = {}
    for net in config.nets:
        params = _calibrate_network(net, config, state, base, hw, log, step)
        networks[params.name] = params
    model = None
    if config.machine_model:
        from cnnperf.measure.machine import calibrate_machine_model
        model = calibrate_machine_model(config.threads, hw, config.quick, state, log, step)
    detected = {"model_name": machine.model_name, "logical_cpus": machine.logical_cpus,
                "sources": dict(machine.sources), "date": time.strftime("%Y-%m-%d"), "quick": config.quick}
    profile = HardwareProfile(name=out.stem, clock_hz=machine.clock_hz, cores=machine.cores,
                              threads_per_core=machine.threads_per_core, cpi=base.cpi, networks=networks,
                              description=f"{machine.model_name}, {machine.cores} cores x {machine.threads_per_core}"
                                          f" threads (cnnperf calibrate)",
                              source="cnnperf calibrate on this machine", extra={"detected": detected},
                              oversubscription="time-slicing", machine_model=model)
    save_profile(out, profile)
    state.done()
    return profile


def _calibrate_network(net: str, config: CalibrationConfig, state: ResumableState, base: HardwareProfile, hw: int,
                       log: Log, step) -> NetworkParams:
    spec = resolve_network(net)
    name = spec.name
    n, r = config.images(name), (3 if config.quick else config.repeats)
    key = f"{name}/times"
    if state.get(key) is None:
        step(f"{name}: TFprop, TBprop (1 thread)")
        fwd, train = measure_times(spec, n, r)
        bprop, note = train.value - fwd.value, ""
        if bprop <= 0.05 * train.value:  # noise can invert a small difference; keep the profile valid
            bprop, note = 0.05 * train.value, f" (difference {train.value - fwd.value:.3g} s, noisy: clamped)"
        state.put(key, {"t_fprop_s": fwd.value, "t_bprop_s": bprop,
                        "src_f": fwd.describe(), "src_t": train.describe() + note})
    times = state.get(key)
    key = f"{name}/prep"
    if state.get(key) is None:
        step(f"{name}: TPrep")
        m = measure_prep(spec, base.cores * base.threads_per_core, r)
        state.put(key, {"t_prep_s": m.value, "src": m.describe()})
    prep = state.get(key)
    rows = []
    for p in config.threads:
        key = f"{name}/contention/{p}"
        if state.get(key) is None:
            step(f"{name}: MemoryContention(p={p})")
            if p == 1:
                state.put(key, {"seconds": 0.0, "src": "p = 1: no other worker (0 by definition)"})
            else:
                mc, walls = measure_contention(spec, p, n, 3 if config.quick else r + 2, hw)
                note = "" if mc >= 0 else f", measured {mc * 1e6:.2f} us (below zero: noise), stored as 0"
                state.put(key, {"seconds": max(0.0, mc), "raw": mc, "src": "wall " + walls.describe() + note})
        rows.append((p, state.get(key)))
    contention = Contention(tuple(p for p, _ in rows), tuple(v["seconds"] for _, v in rows), ("measured",) * len(rows))
    counts = count_ops(spec, executed=True)
    p_ref = config.reference_threads or base.cores
    params = NetworkParams(name=name, epochs=PAPER_EPOCHS.get(name, 1), operation_factor=1.0,
                           prep_ops=float(counts.prep(p_ref)), fprop_ops=float(counts.fprop),
                           bprop_ops=float(counts.bprop), t_prep_s=prep["t_prep_s"], t_fprop_s=times["t_fprop_s"],
                           t_bprop_s=times["t_bprop_s"], contention=contention, notation=spec.notation())
    key = f"{name}/operation_factor"
    if state.get(key) is None:
        step(f"{name}: OperationFactor at p = {p_ref}")
        of, src = fit_operation_factor(spec, params, base, p_ref, 2 * n, 3)
        state.put(key, {"operation_factor": of, "src": src})
    of = state.get(key)
    sources = {"t_fprop_s": times["src_f"], "t_bprop_s": "train step minus forward; train step " + times["src_t"],
               "t_prep_s": prep["src"], "operation_factor": of["src"],
               "fprop_ops": "cnnperf count --executed", "bprop_ops": "cnnperf count --executed",
               "prep_ops": f"cnnperf count: weights + {p_ref} instances",
               "memory_contention": "; ".join(f"p={p}: {v['src']}" for p, v in rows)}
    noisy = [f"{k}: {v}" for k, v in sources.items() if "noisy" in v or "short" in v]
    for line in noisy:
        log(f"warning: {name} {line}")
    log(f"{name}: TFprop {times['t_fprop_s'] * 1e6:.1f} us, TBprop {times['t_bprop_s'] * 1e6:.1f} us, "
        f"TPrep {prep['t_prep_s'] * 1e3:.2f} ms, OF {of['operation_factor']:.3g}, MC " +
        ", ".join(f"{p}: {v['seconds'] * 1e6:.2f} us" for p, v in rows))
    return replace(params, operation_factor=of["operation_factor"], sources=sources)
