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
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cnnperf.fileio import atomic_write_json
from cnnperf.hardware import HardwareProfile, NetworkParams, save_profile
from cnnperf.hardware.detect import MachineInfo, detect_machine
from cnnperf.hardware.profile import Contention
from cnnperf.measure.timing import Measurement
from cnnperf.networks import NetworkSpec, resolve_network
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

    def images(self, net: str) -> int:
        n = TIMING_IMAGES.get(net, 300)
        return max(20, n // 4) if self.quick else n

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.nets, self.threads, self.quick, self.repeats,
                                          self.reference_threads]).encode()).hexdigest()[:16]


def synthetic_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-image time does not depend on pixel values; MNIST-like sparsity keeps it realistic."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 29, 29), dtype=np.float32)
    x[x < 0.8] = 0.0
    return x, rng.integers(0, 10, n)


class _State:
    """Step results persisted as JSON next to the output (atomic writes)."""

    def __init__(self, out: Path, fingerprint: str, log: Log):
        self.path = out.with_name(out.name + ".partial.json")
        self.data = {"fingerprint": fingerprint, "steps": {}}
        if self.path.is_file():
            try:
                old = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError):
                old = {}
            if old.get("fingerprint") == fingerprint:
                self.data = old
                log(f"resuming: {len(old['steps'])} step(s) done in {self.path}")
            else:
                log(f"ignoring {self.path}: it belongs to a calibration with other options")

    def get(self, key: str):
        return self.data["steps"].get(key)

    def put(self, key: str, value) -> None:
        self.data["steps"][key] = value
        atomic_write_json(self.path, self.data)

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


def _trainer(spec: NetworkSpec, threads: int):
    from cnnperf.parallel.trainer import TrainConfig, Trainer
    return Trainer(spec, TrainConfig(threads=threads, lr=1e-4))


def measure_times(spec: NetworkSpec, n: int, repeats: int) -> tuple[Measurement, Measurement]:
    """Single-thread per-image forward time and train-step time (forward + backward + update),
    measured interleaved (forward, train, forward, ...) so drifts hit both alike."""
    x, y = synthetic_images(n)
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
    x, y = synthetic_images(p * n)
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
    x, y = synthetic_images(n * len(siblings))

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

    alone = statistics_median([run(siblings[:1]) for _ in range(repeats)])
    together = statistics_median([run(siblings) for _ in range(repeats)])
    return together / alone


def statistics_median(values: list[float]) -> float:
    return float(np.median(values))


def core_siblings(cpu: int = 0) -> list[int]:
    """Logical CPUs sharing `cpu`'s core (sysfs), else just [cpu]."""
    try:
        text = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip()
    except OSError:
        return [cpu]
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def fit_operation_factor(spec: NetworkSpec, params: NetworkParams, profile: HardwareProfile, p_ref: int,
                         n: int, repeats: int) -> tuple[float, str]:
    """Strategy (a)'s OperationFactor from one short real run (1 epoch, all three phases) at p_ref:
    OF = (T_measured - Tmem) / (the Table V terms with OF = 1, without Tmem)."""
    from cnnperf.models import strategy_a
    from cnnperf.parallel.run import train
    from cnnperf.parallel.trainer import Dataset, TrainConfig

    x, y = synthetic_images(n + n // 5, seed=1)
    data = Dataset(x[:n], y[:n], x[n:], y[n:])
    totals = []
    for _ in range(repeats):
        result, _ = train(spec, data, TrainConfig(epochs=1, threads=p_ref, lr=1e-4))
        totals.append(result.prep_seconds + sum(e.seconds for e in result.epochs))
    measured = float(np.median(totals))
    unit = NetworkParams(**{**params.__dict__, "operation_factor": 1.0})
    pred = strategy_a.predict(unit, profile, p_ref, n, n // 5, 1)
    without_mem = float(pred.seconds - pred.terms["mem"])
    of = (measured - float(pred.terms["mem"])) / without_mem
    return of, f"fitted to a 1-epoch run of {n} images at p = {p_ref}: measured {measured:.6g} s (median of {repeats})"


def calibrate(config: CalibrationConfig, out: str | Path, log: Log = print,
              progress: Callable[[str], None] | None = None, machine: MachineInfo | None = None) -> HardwareProfile:
    """Measure every parameter, save the profile atomically at `out`, return it."""
    out = Path(out)
    state = _State(out, config.fingerprint(), log)
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
    for name in config.nets:
        networks[name] = _calibrate_network(name, config, state, base, hw, log, step)
    detected = {"model_name": machine.model_name, "logical_cpus": machine.logical_cpus,
                "sources": dict(machine.sources), "date": time.strftime("%Y-%m-%d"), "quick": config.quick}
    profile = HardwareProfile(name=out.stem, clock_hz=machine.clock_hz, cores=machine.cores,
                              threads_per_core=machine.threads_per_core, cpi=base.cpi, networks=networks,
                              description=f"{machine.model_name}, {machine.cores} cores x {machine.threads_per_core}"
                                          f" threads (cnnperf calibrate)",
                              source="cnnperf calibrate on this machine", extra={"detected": detected},
                              oversubscription="time-slicing")
    save_profile(out, profile)
    state.done()
    return profile


def _calibrate_network(name: str, config: CalibrationConfig, state: _State, base: HardwareProfile, hw: int,
                       log: Log, step) -> NetworkParams:
    spec = resolve_network(name)
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
    return NetworkParams(**{**params.__dict__, "operation_factor": of["operation_factor"], "sources": sources})
