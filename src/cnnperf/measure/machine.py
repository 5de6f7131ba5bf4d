"""Calibrating the machine model of strategy (d): time every kernel path of the engine over a
designed grid of layer shapes, once per machine, then fit `hardware.machine_model`.

The grid is made of small probe networks (`design`), each exercising a few kernel paths in
their real context: a first-layer direct convolution, an im2col + GEMM convolution at layer 2
(so it computes its input delta; a quarter with random fan-in, i.e. the connection-table
kernels; a tenth of them wide convolutions on small maps, the layers with the most weights),
max or average pooling after it or not, fully connected layers, the output.
Shapes are drawn (seeded) log-uniformly over what MNIST-scale CNNs use, their ends included:
1-128 input maps, 2-128 output maps, kernels 2-7, maps 3-29 wide, 10-512 neurons. Every probe
is timed with `engine.profile_layers` (a cycle counter around each layer's forward and backward,
training as usual) and an evaluation pass, both as tasks of the measurement protocol
(`measure.protocol`): interleaved with every other region of the calibration, repeated until
the median is precise enough; a layer's value is the median over the blocks the MAD rule kept
(scaled like the whole region when the protocol normalised it for drift). The contention model
and TPrep come from probes spread over weights and compute (`contention_specs`), measured as
the presets are (`measure.tasks.NetworkBench`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnperf.fileio import ResumableState
from cnnperf.hardware.machine_model import ContentionModel, MachineModel, features
from cnnperf.hardware.topology import simd_fp32_lanes
from cnnperf.measure.protocol import Estimates, Task
from cnnperf.measure.quantities import synthetic_images
from cnnperf.measure.robust import mad_keep
from cnnperf.measure.tasks import NetworkBench, contention_step
from cnnperf.networks import NetworkSpec, parse_notation

MAX_MACS = 40e6  # multiply-adds per train step of one probe (forward + backward): keeps each probe cheap
Log = Callable[[str], None]


@dataclass(frozen=True)
class GridConfig:
    probes: int = 240
    region_s: float = 0.04  # seconds per timed region of one probe
    contention_nets: int = 6
    prep_nets: int = 8
    seed: int = 0

    @classmethod
    def quick(cls) -> GridConfig:
        return cls(probes=120, region_s=0.02, contention_nets=5, prep_nets=6)


def _log_int(rng, lo: int, hi: int) -> int:
    """Log-uniform over [lo/1.25, 1.25 hi], clipped to [lo, hi]: the range's ends are drawn too."""
    v = float(np.exp(rng.uniform(np.log(lo / 1.25), np.log(hi * 1.25))))
    return int(np.clip(round(v), lo, hi))


def _tail(rng) -> list[str]:
    """An optional fully connected layer, then the output."""
    return ([f"{_log_int(rng, 10, 512)}N"] if rng.random() < 0.5 else []) + ["10N"]


def _gemm_probe(rng) -> str:
    """A direct first layer (C maps), then the probed im2col + GEMM convolution C -> M at layer 2."""
    k, c, m = int(rng.integers(2, 8)), _log_int(rng, 1, 128), _log_int(rng, 2, 128)
    h = _log_int(rng, k + 1, 28)  # small maps (after pooling) are common, and they carry the big-weight layers
    k1 = int(rng.integers(2, 5))
    conv = f"{m}C{k}"
    if c >= 2 and rng.random() < 0.25:  # random fan-in: the connection-table kernels
        conv += f"r{int(rng.integers(1, c))}"
    parts = [f"1x{h + k1 - 1}x{h + k1 - 1}", f"{c}C{k1}", conv]
    pools = [s for s in (2, 3) if (h - k + 1) % s == 0]
    if pools and rng.random() < 0.7:
        parts.append(f"{'AP' if rng.random() < 0.2 else 'MP'}{rng.choice(pools)}")
    return "-".join(parts + _tail(rng))


def _wide_probe(rng) -> str:
    """A late, wide convolution on a small map (48-128 maps in and out, kernels 4-7): the layers
    with the most weights per multiply-add, whose update dominates their backward."""
    k, c, m = int(rng.integers(4, 8)), _log_int(rng, 48, 128), _log_int(rng, 48, 128)
    h = k + int(rng.integers(1, 9))
    k1 = int(rng.integers(2, 4))
    parts = [f"1x{h + k1 - 1}x{h + k1 - 1}", f"{c}C{k1}", f"{m}C{k}"]
    pools = [s for s in (2, 3) if (h - k + 1) % s == 0]
    if pools and rng.random() < 0.6:
        parts.append(f"MP{rng.choice(pools)}")
    return "-".join(parts + _tail(rng))


def _direct_probe(rng) -> str:
    """A first-layer direct convolution, usually under max pooling (optionally pooled twice)."""
    k = int(rng.integers(2, 8))
    h = int(rng.integers(k + 3, 30))
    o = h - k + 1
    parts = [f"1x{h}x{h}", f"{_log_int(rng, 2, 64)}C{k}"]
    pools = [s for s in (2, 3, 4) if o % s == 0]
    if pools and rng.random() < 0.8:
        s = int(rng.choice(pools))
        parts.append(f"MP{s}")
        if (o // s) % 2 == 0 and o // s >= 4 and rng.random() < 0.2:  # pooling after pooling: its dense backward
            parts.append("MP2")
    return "-".join(parts + _tail(rng))


def _full_probe(rng) -> str:
    h = int(rng.integers(5, 30))
    layers = [f"{_log_int(rng, 10, 512)}N" for _ in range(int(rng.integers(1, 3)))]
    return "-".join([f"1x{h}x{h}", *layers, "10N"])


FAMILIES = ((_gemm_probe, 0.5), (_wide_probe, 0.1), (_direct_probe, 0.25), (_full_probe, 0.15))


def train_macs(spec: NetworkSpec) -> int:
    from cnnperf.engine.paths import layer_paths
    return sum(lp.macs_forward + lp.macs_backward for lp in layer_paths(spec))


# every kernel path the probes can take, (direction, path), each in at least MIN_PER_PATH probes
PATHS = (("forward", "conv_direct"), ("forward", "conv_gemm"), ("forward", "conv_table"), ("forward", "maxpool2"),
         ("forward", "maxpool"), ("forward", "avgpool2"), ("forward", "avgpool"), ("forward", "full"),
         ("forward", "output"),
         ("backward", "conv_direct_pooled"), ("backward", "conv_direct_dense"), ("backward", "conv_gemm_pooled"),
         ("backward", "conv_gemm_dense"), ("backward", "conv_table_pooled"), ("backward", "conv_table_dense"),
         ("backward", "full"), ("backward", "output"), ("backward", "maxpool"), ("backward", "avgpool2"),
         ("backward", "avgpool"))
MIN_PER_PATH = 5  # enough points for a cross-validated choice of form


def _paths(spec: NetworkSpec) -> set[tuple[str, str]]:
    from cnnperf.engine.paths import layer_paths
    return {p for lp in layer_paths(spec) for p in (("forward", lp.forward), ("backward", lp.backward))}


def design(n: int, seed: int = 0) -> list[NetworkSpec]:
    """`n` distinct valid probe networks drawn with `seed` (see the module docstring), plus as many
    as it takes for every kernel path to appear in at least MIN_PER_PATH of them."""
    from cnnperf.errors import CnnperfError

    rng = np.random.default_rng([seed, 14])
    out, seen = [], set()
    counts = dict.fromkeys(PATHS, 0)
    for _ in range(200 * n):
        if len(out) >= n and min(counts.values()) >= MIN_PER_PATH:
            break
        make = FAMILIES[int(rng.choice(len(FAMILIES), p=[w for _, w in FAMILIES]))][0]
        text = make(rng)
        if text in seen:
            continue
        try:
            spec = parse_notation(text)
        except CnnperfError:
            continue
        paths = _paths(spec)
        if train_macs(spec) > MAX_MACS or (len(out) >= n and not any(counts[p] < MIN_PER_PATH for p in
                                                                      paths & counts.keys())):
            continue
        seen.add(text)
        out.append(spec)
        for p in paths & counts.keys():
            counts[p] += 1
    return out


class _Probe:
    """One probe network's engine state (single thread), its region size and the per-layer
    times of every block measured (forward/backward seconds per image, the train-step remainder)."""

    def __init__(self, spec: NetworkSpec, images: dict, region_s: float):
        from cnnperf import engine
        from cnnperf.engine.paths import layer_paths

        self.spec, self.paths, self.engine = spec, layer_paths(spec), engine
        self.layout = engine.build_layout(spec)
        self.weights = engine.init_weights(self.layout, 0)
        self.ws = engine.new_workspace(self.layout)
        size = spec.shapes[0].size
        if size not in images:
            images[size] = synthetic_images(2048, spec, seed=size)
        self.x, self.y = images[size]
        warm = engine.profile_layers(self.layout, self.weights, self.ws, self.x, self.y, 0, 4, 1e-4)
        self.n = int(np.clip(region_s / max(warm.total_s / 4, 1e-7), 4, len(self.x)))
        self.layers: list[dict] = []

    def train(self) -> float:
        """One timed region: n images trained with the per-layer timer. Returns its seconds."""
        n = self.n
        t = self.engine.profile_layers(self.layout, self.weights, self.ws, self.x, self.y, 0, n, 1e-4)
        self.layers.append({"forward": [v / n for v in t.forward_s], "backward": [v / n for v in t.backward_s],
                            "remainder": t.remainder_s / n})
        return t.total_s

    def evaluate(self) -> float:
        t0 = time.perf_counter()
        self.engine.evaluate_images(self.layout, self.weights, self.ws, self.x, self.y, 0, self.n)
        return time.perf_counter() - t0


class MachineTasks:
    """The machine model's regions as protocol tasks (`tasks`), and the model from their
    estimates (`model`). Per-layer times of finished blocks are saved in the calibration state."""

    def __init__(self, config: GridConfig, threads: tuple[int, ...], hardware_threads: int, state: ResumableState):
        self.config, self.threads, self.hw, self.state = config, tuple(threads), hardware_threads, state
        self.specs = design(config.probes, config.seed)
        images: dict = {}
        self.probes = [_Probe(s, images, config.region_s) for s in self.specs]
        saved = state.get("machine/layers")
        if isinstance(saved, list) and len(saved) == len(self.probes):
            for probe, blocks in zip(self.probes, saved):
                probe.layers = list(blocks) if isinstance(blocks, list) else []
        self.contention = contention_specs(self.specs, config.contention_nets)
        self.prep = contention_specs(self.specs, config.prep_nets)
        nets = {s.name: s for s in self.contention + self.prep}
        self.benches = {name: NetworkBench(s, _contention_images(s), self.threads, hardware_threads)
                        for name, s in nets.items()}
        self._saved = time.perf_counter()

    def _train(self, j: int) -> float:
        seconds = self.probes[j].train()
        if time.perf_counter() - self._saved > 2.0:
            self.save()
        return seconds

    def save(self) -> None:
        self.state.put("machine/layers", [p.layers for p in self.probes])
        self._saved = time.perf_counter()

    def tasks(self) -> list[Task]:
        out = []
        for j, p in enumerate(self.probes):
            out += [Task(f"machine/{j}/train", lambda j=j: self._train(j), per=p.n),
                    Task(f"machine/{j}/eval", self.probes[j].evaluate, per=p.n)]
        team = tuple(p for p in self.threads if p > 1)
        contention = {s.name for s in self.contention}
        for name, bench in self.benches.items():
            out += [Task(f"machine/{t.key}", t.run, t.per) for t in
                    bench.tasks({"times": name in contention, "prep": name in {s.name for s in self.prep}},
                                team if name in contention else ())]
        return out

    def close(self) -> None:
        self.save()
        for bench in self.benches.values():
            bench.close()

    def _layers(self, j: int, est: Estimates) -> dict:
        """Probe j's per-layer medians over the blocks the MAD rule kept (the protocol's estimate)."""
        probe, e = self.probes[j], est[f"machine/{j}/train"]
        blocks = probe.layers
        raw = np.array([s for _, s, _ in est.blocks[f"machine/{j}/train"]]) / probe.n
        keep = mad_keep(raw) if len(raw) == len(blocks) and len(raw) else np.ones(len(blocks), bool)
        kept = [b for b, k in zip(blocks, keep) if k] or blocks
        scale = e.value / float(np.median(raw[keep])) if e.normalised and len(raw) == len(blocks) else 1.0
        out = {key: (np.median([b[key] for b in kept], axis=0) * scale).tolist() for key in ("forward", "backward")}
        out["remainder"] = float(np.median([b["remainder"] for b in kept])) * scale
        out["evaluation"] = est[f"machine/{j}/eval"].value
        return out

    def model(self, est: Estimates, quick: bool, log: Log, seconds: float, extra=()) -> MachineModel:
        """The fitted model. `extra`: (weight bytes, single-thread step, {p: contention}) of other
        calibrated networks (calibrate's presets), fitted with the probes' contention."""
        from cnnperf.models.machine_fit import fit_contention
        from cnnperf.models.strategy_d import prep_features

        medians = [self._layers(j, est) for j in range(len(self.probes))]
        measured = {p: [] for p in self.threads}
        for s in self.contention:
            for p in self.threads:
                measured[p].append(contention_step(est, f"machine/{s.name}", p, self.hw)["seconds"])
        weights = [4.0 * s.n_weights for s in self.contention]
        steps = [est[f"machine/{s.name}/train"].value for s in self.contention]
        for w, step, mc in extra:
            if all(p in mc for p in self.threads):
                weights.append(w)
                steps.append(step)
                for p in self.threads:
                    measured[p].append(mc[p])
        contention = fit_contention(weights, measured, steps)
        prep_rows = [{k: float(np.ravel(v)[0]) for k, v in prep_features(s, self.hw).items()} for s in self.prep]
        prep_s = [est[f"machine/{s.name}/prep"].value for s in self.prep]
        lanes = simd_fp32_lanes()
        c = self.config
        source = (f"cnnperf calibrate{' --quick' if quick else ''}: {c.probes} probe networks (seed {c.seed}) by the "
                  f"measurement protocol, contention of {len(weights)} networks at p = "
                  f"{','.join(map(str, self.threads))}, {lanes} fp32 lanes, measured in {seconds:.0f} s with the rest")
        model = fit_machine_model(self.specs, medians, contention, prep_rows, prep_s, lanes, source)
        log(f"machine model: {len(model.kernels)} kernel paths, median cross-validated error {model.spread:.1%}; "
            f"contention form {contention.form}, leave-one-network-out error {contention.cv_error:.0%}")
        return model


def grid_points(specs: list[NetworkSpec], medians: list[dict], lanes: int, l2_bytes: int = 0
                ) -> dict[str, tuple[list, list]]:
    """{"direction:path": (feature rows, seconds)} from the measured probes."""
    from cnnperf.engine.paths import layer_paths

    points: dict[str, tuple[list, list]] = {}
    for spec, m in zip(specs, medians):
        for lp in layer_paths(spec):
            for direction, path in (("forward", lp.forward), ("backward", lp.backward)):
                if direction == "backward" and path in ("fused", "none"):
                    continue
                rows, ys = points.setdefault(f"{direction}:{path}", ([], []))
                rows.append(features(direction, lp, lanes, l2_bytes))
                ys.append(m[direction][lp.index])
    return points


def _network_rows(model_like, specs, medians) -> tuple[list, list, list]:
    from cnnperf.engine.paths import layer_paths

    rows, evaluation, train = [], [], []
    for spec, m in zip(specs, medians):
        paths = layer_paths(spec)
        rows.append(model_like.network_features(spec, paths))
        forward = sum(m["forward"])
        evaluation.append(max(m["evaluation"] - forward, 1e-9))
        train.append(max(m["remainder"], 1e-9))
    return rows, evaluation, train


def fit_machine_model(specs, medians, contention: ContentionModel, prep_rows, prep_s, lanes: int,
                      source: str, l2_bytes: int | None = None) -> MachineModel:
    """The machine model from the grid (kernels, overheads), TPrep points and the contention fit.
    `l2_bytes`: the core's L2 (default: what this CPU reports)."""
    from cnnperf.engine.build import kernels_build
    from cnnperf.hardware.machine_model import LinearTerm
    from cnnperf.hardware.topology import cache_bytes
    from cnnperf.models.machine_fit import select_kernel, select_term

    l2 = cache_bytes(2) if l2_bytes is None else l2_bytes
    kernels = {key: select_kernel(key, rows, ys) for key, (rows, ys) in grid_points(specs, medians, lanes, l2).items()}
    shell = MachineModel("kernel-cost", kernels, contention, LinearTerm(("one",), (0.0,)),
                         LinearTerm(("one",), (0.0,)), LinearTerm(("one",), (0.0,)), lanes, l2_bytes=l2)
    rows, evaluation, train = _network_rows(shell, specs, medians)
    pool = ("inputs", "layers", "classes", "neurons", "weights")
    spread = float(np.median([k.cv_error for k in kernels.values()]))
    return MachineModel("kernel-cost", kernels, contention, select_term(prep_rows, prep_s, ("weights", "instance_p")),
                        select_term(rows, evaluation, pool), select_term(rows, train, pool), lanes,
                        source=source, fitted_to=f"a grid of {len(specs)} probe networks "
                                                 f"({sum(k.points for k in kernels.values())} kernel timings)",
                        spread=spread, l2_bytes=l2, engine=kernels_build())


def contention_specs(specs: list[NetworkSpec], n: int) -> list[NetworkSpec]:
    """`n` probes spread over (log weights, log multiply-adds), so that the contention model can
    tell a term in the weight bytes from one in the step time: the two extremes of weights, then
    each time the probe farthest from those already chosen."""
    x = np.array([[np.log(max(s.n_weights, 1)), np.log(max(train_macs(s), 1))] for s in specs])
    x = (x - x.min(axis=0)) / np.maximum(np.ptp(x, axis=0), 1e-9)
    picks = [int(np.argmin(x[:, 0])), int(np.argmax(x[:, 0]))]
    while len(picks) < min(n, len(specs)):
        d = np.min(np.linalg.norm(x[:, None, :] - x[picks][None, :, :], axis=2), axis=1)
        picks.append(int(np.argmax(d)))
    return [specs[k] for k in dict.fromkeys(picks)][:n]


def _contention_images(spec: NetworkSpec) -> int:
    """Images per worker for a region of about 0.1 s on a current core (from the multiply-adds)."""
    return int(np.clip(0.1 / (2 * train_macs(spec) / 20e9 + 5e-6), 20, 3000))




def calibrate_machine_model(threads, hardware_threads: int, quick: bool, state: ResumableState, log: Log,
                            progress=None, config: GridConfig | None = None) -> MachineModel:
    """The machine model alone (calibrate interleaves the same tasks with its other regions)."""
    from cnnperf.measure.protocol import measure

    config = config or (GridConfig.quick() if quick else GridConfig())
    tasks = MachineTasks(config, tuple(threads), hardware_threads, state)
    t0 = time.perf_counter()
    try:
        est = measure(tasks.tasks(), min_blocks=3, max_blocks=8 if quick else 20, seed=config.seed, state=state,
                      state_key="machine-protocol", log=log, progress=progress)
        return tasks.model(est, quick, log, time.perf_counter() - t0)
    finally:
        tasks.close()
