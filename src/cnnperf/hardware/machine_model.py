"""A machine model: what each kernel path of the engine costs on this machine, as a function of
the layer's shape, so that any network can be predicted (strategy (d)) without running it.

Two kinds. "kernel-cost" (calibrated here by `cnnperf calibrate`): per kernel path (e.g.
forward "conv_gemm", backward "conv_gemm_pooled") a cost in seconds per image,
`t = sum_k c_k * feature_k(layer)` with features from `engine.paths.LayerPath` (multiply-adds,
multiply-adds padded to the vector width, outputs, im2col floats, ...), or a roofline
`t = c0 + max(c1 * compute, c2 * memory)`; per-image overheads (copy-in, softmax); TPrep; and
MemoryContention as a function of the bytes of shared weights written per image.
"op-count" (fitted to the paper's Xeon Phi tables): seconds per operation of each layer type.

Pure data and evaluation (no Numba); fitting lives in `cnnperf.models.machine_fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from cnnperf.engine.paths import LayerPath, layer_paths, padded
from cnnperf.errors import CnnperfError

KINDS = ("kernel-cost", "op-count")
FLOAT_BYTES = 4
EXTRAPOLATION_FACTOR = 2.0  # a feature beyond 2x the calibrated range is reported as extrapolation


def _vec(n: int, lanes: int) -> int:
    """n rounded up to whole vectors of `lanes` floats."""
    return -(-n // lanes) * lanes


def features(direction: str, lp: LayerPath, lanes: int, l2_bytes: int = 0) -> dict[str, float]:
    """The candidate cost features of one layer's kernel in `direction` ("forward"/"backward").
    `l2_bytes`: the core's L2; a layer whose weights do not fit there streams them from further
    away, which `macs_spill` (its multiply-adds, else 0) lets a cost form price separately."""
    M, O, C, H, K, F, Q = lp.M, lp.O, lp.C, lp.H, lp.K, lp.F, lp.Q
    P = O * O
    dx = 2 if lp.input_delta else 1
    f: dict[str, float] = {"one": 1.0}
    path = lp.forward if direction == "forward" else lp.backward
    spill = 1.0 if l2_bytes and FLOAT_BYTES * lp.weights > l2_bytes else 0.0
    if path.startswith("conv_direct"):  # rows of padded(O) lanes; tiles of 4 maps (2 on AVX2) x 4 vectors / taps
        Os, mt = padded(O), 4 if lanes >= 16 else 2
        maps = -(-M // mt) * mt  # a tile past the last map computes copies of it
        if direction == "forward":  # 4 row vectors per tile, all taps
            slots = -(-O * Os // (4 * lanes))
            tiles, lanes_run = -(-M // mt) * slots, maps * K * K * slots * 4 * lanes
        else:  # 4 taps per tile, all rows
            taps = -(-K * K // 4)
            tiles, lanes_run = -(-M // mt) * taps, maps * taps * 4 * O * Os
        f.update(macs=M * K * K * O * O, macs_vec=lanes_run, rows=M * O * Os, outputs=M * P, pooled=M * Q * Q,
                 tiles=tiles)
    elif path == "conv_gemm":
        rem = ((M % 4) * P + (M - M % 4) * (P % 4)) * F
        f.update(macs=M * P * F, macs_vec=M * P * _vec(F, lanes), outputs=M * P, col=P * F, segments=P * C * K,
                 rem_macs=rem, macs_spill=M * P * F * spill)
    elif path == "conv_table":
        f.update(macs=lp.macs_forward, outputs=M * P, col=lp.col_bytes // FLOAT_BYTES, pairs=lp.connections * P)
    elif path.startswith("conv_table"):
        rows = Q * Q if path.endswith("pooled") else P
        f.update(macs=lp.macs_gradient + lp.macs_input_delta, weights=lp.weights_written,
                 dcol=lp.dcol_bytes // FLOAT_BYTES, pixels=M * rows, outputs=M * P,
                 col2im=(C * H * H if lp.input_delta else 0))
    elif path.startswith("conv_gemm"):
        rows = Q * Q if path.endswith("pooled") else P
        dcol = lp.dcol_bytes // FLOAT_BYTES
        f.update(macs=lp.macs_gradient + lp.macs_input_delta, macs_vec=M * rows * _vec(F, lanes) * dx,
                 weights=lp.weights_written, dcol=dcol, col2im=(C * H * H if lp.col2im else 0) + dcol,
                 pixels=M * rows, outputs=M * P, macs_spill=(lp.macs_gradient + lp.macs_input_delta) * spill,
                 # loop starts: col2im copies K-float runs (C*K per delta row); under pooling every window
                 # buckets its maps by arg-max pixel (S*S pixels per window)
                 segments=(dcol // F if F else 0) * C * K,
                 windows=Q * Q * lp.S * lp.S if path.endswith("pooled") else 0)
    elif path in ("full", "output"):
        macs = lp.macs_forward if direction == "forward" else lp.macs_gradient + lp.macs_input_delta
        f.update(macs=macs, macs_vec=M * _vec(F, lanes) * (1 if direction == "forward" else dx), outputs=M,
                 weights=lp.weights_written if direction == "backward" else M * (F + 1), macs_spill=macs * spill)
    elif path.startswith("maxpool") or path.startswith("avgpool"):
        f.update(inputs=C * H * H, outputs=M * O * O)
    return {k: float(v) for k, v in f.items()}


@dataclass(frozen=True)
class KernelModel:
    """The cost of one kernel path: seconds per image of one layer."""

    key: str  # "forward:conv_gemm"
    form: str  # "linear" or "roofline"
    features: tuple[str, ...]  # linear: summed terms; roofline: (one, compute, memory)
    coefficients: tuple[float, ...]
    cv_error: float  # mean |relative error| of K-fold cross-validation on the grid
    fit_error: float  # in-sample mean |relative error|
    points: int
    ranges: dict = field(default_factory=dict, compare=False)  # feature -> [min, max] on the grid
    alternatives: dict = field(default_factory=dict, compare=False)  # other forms tried -> their cv error

    def seconds(self, f: dict[str, float]) -> float:
        c = self.coefficients
        if self.form == "roofline":
            one, compute, memory = self.features
            return c[0] * f.get(one, 1.0) + max(c[1] * f.get(compute, 0.0), c[2] * f.get(memory, 0.0))
        return float(sum(ck * f.get(name, 0.0) for ck, name in zip(c, self.features)))

    def formula(self) -> str:
        if self.form == "roofline":
            return (f"{self.coefficients[0]:.3g} + max({self.coefficients[1]:.3g}*{self.features[1]}, "
                    f"{self.coefficients[2]:.3g}*{self.features[2]})")
        return " + ".join(f"{c:.3g}*{n}" if n != "one" else f"{c:.3g}" for c, n in zip(self.coefficients,
                                                                                        self.features))

    def beyond(self, f: dict[str, float]) -> list[str]:
        """Features of `f` outside the calibrated range by more than EXTRAPOLATION_FACTOR: every
        feature the grid recorded, also those the chosen form leaves out (the grid never tested
        that they do not matter there)."""
        out = []
        for name in dict.fromkeys([*self.features, *self.ranges]):
            lo, hi = self.ranges.get(name, (None, None))
            v = f.get(name, 0.0)
            if hi is not None and hi <= 0 < v:
                out.append(f"{name} {v:.3g} where every calibrated layer had 0")
            elif hi is not None and v > EXTRAPOLATION_FACTOR * hi:
                out.append(f"{name} {v:.3g} is {v / hi:.1f}x the calibrated maximum {hi:.3g}")
            elif lo is not None and 0 < v < lo / EXTRAPOLATION_FACTOR:
                out.append(f"{name} {v:.3g} is below the calibrated minimum {lo:.3g} / {EXTRAPOLATION_FACTOR:g}")
        return out


@dataclass(frozen=True)
class LinearTerm:
    """t = sum c_k * feature_k for network-level quantities (overheads, TPrep)."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    cv_error: float = 0.0

    def seconds(self, f: dict) -> float | np.ndarray:
        """A float, or an array where a feature is one (e.g. TPrep over thread counts)."""
        total = np.asarray(sum(c * np.asarray(f.get(n, 0.0), float) for c, n in zip(self.coefficients,
                                                                                   self.features)), float)
        return float(total) if total.ndim == 0 else total


@dataclass(frozen=True)
class ContentionModel:
    """MemoryContention(p, W, T) = c0(p) + c1(p) * W + c2(p) * T per image: W = bytes of shared
    weights written per image (every image writes every weight once, so the other workers miss on
    about W bytes), T = the network's single-thread train step in seconds (a slowdown of shared
    resources, e.g. a lower clock with every core busy, stretches each image's compute). Fitted
    per measured thread count over the calibration networks; `form` says which terms the
    leave-one-network-out choice kept ("W", "T" or "W+T"; a dropped term has c = 0)."""

    threads: tuple[int, ...]
    c0_s: tuple[float, ...]
    c1_s_per_byte: tuple[float, ...]
    cv_error: float = 0.0  # leave-one-network-out mean |error| as a share of each network's step time
    networks: int = 0
    c2_per_step: tuple[float, ...] = ()  # seconds of contention per second of single-thread step
    form: str = "W"

    def __post_init__(self):
        if not self.c2_per_step:  # no step term given: c2 = 0 at every thread count
            object.__setattr__(self, "c2_per_step", (0.0,) * len(self.threads))

    def at(self, weight_bytes: float, step_s: float = 0.0) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(threads, seconds per image) of a network writing `weight_bytes` per image whose
        single-thread train step takes `step_s`."""
        return self.threads, tuple(max(0.0, a + b * weight_bytes + c * step_s)
                                   for a, b, c in zip(self.c0_s, self.c1_s_per_byte, self.c2_per_step))


@dataclass(frozen=True)
class LayerCost:
    """Predicted seconds per image of one layer, forward and backward (with the update)."""

    index: int
    kind: str
    forward_path: str
    backward_path: str
    forward_s: float
    backward_s: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkCost:
    """A network's per-image times from the machine model: TFprop = sum forward + eval overhead,
    TBprop = sum backward + (train overhead - eval overhead)."""

    layers: tuple[LayerCost, ...]
    eval_overhead_s: float
    train_overhead_s: float
    weight_bytes: float

    @property
    def t_fprop_s(self) -> float:
        return sum(c.forward_s for c in self.layers) + self.eval_overhead_s

    @property
    def t_bprop_s(self) -> float:
        return sum(c.backward_s for c in self.layers) + self.train_overhead_s - self.eval_overhead_s

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(w for c in self.layers for w in c.warnings)


@dataclass(frozen=True)
class MachineModel:
    """The per-layer model of one machine (see the module docstring)."""

    kind: str
    kernels: dict[str, KernelModel]  # "direction:path" -> model; op-count: "direction:type"
    contention: ContentionModel
    prep: LinearTerm
    eval_overhead: LinearTerm
    train_overhead: LinearTerm
    lanes: int = 8
    activation: str = "scaled_tanh"  # the activation the grid was measured with
    source: str = ""
    fitted_to: str = ""  # e.g. "a grid of 212 layers" or "3 networks (paper Tables III, IV, VII, VIII)"
    spread: float = 0.0  # relative spread of the per-layer predictions (for intervals)
    fit: str = ""  # "networks": refitted to the profile's networks whenever it is loaded (the Xeon Phi)
    l2_bytes: int = 0  # the core's L2 cache of the calibrated machine (0: unknown; no spill features)
    engine: str = ""  # kernel-cost: the engine build it was measured with (engine.build.kernels_build)

    def network_features(self, spec, paths: tuple[LayerPath, ...]) -> dict[str, float]:
        first = spec.shapes[0]
        return {"one": 1.0, "inputs": float(first.neurons), "layers": float(len(paths)),
                "classes": float(spec.n_classes), "weights": float(spec.n_weights),
                "neurons": float(spec.n_neurons)}

    def network_cost(self, spec) -> NetworkCost:
        """Per-layer and per-image costs of `spec` (a NetworkSpec)."""
        paths = layer_paths(spec)
        layers = tuple(self._op_count(spec, paths) if self.kind == "op-count" else
                       (self._layer(spec, lp) for lp in paths))
        nf = self.network_features(spec, paths)
        weight_bytes = FLOAT_BYTES * sum(lp.weights_written for lp in paths)
        return NetworkCost(layers, self.eval_overhead.seconds(nf), self.train_overhead.seconds(nf), weight_bytes)

    def _layer(self, spec, lp: LayerPath) -> LayerCost:
        times, warnings = [], []
        for direction, path in (("forward", lp.forward), ("backward", lp.backward)):
            if direction == "backward" and path in ("fused", "none"):
                times.append(0.0)
                continue
            key = f"{direction}:{path}"
            model = self.kernels.get(key)
            if model is None:
                raise CnnperfError(f"the machine model has no cost for the {direction} kernel '{path}' of layer "
                                   f"{lp.index} ({lp.kind}); calibrate again with this version of cnnperf")
            f = features(direction, lp, self.lanes, self.l2_bytes)
            times.append(max(0.0, model.seconds(f)))
            warnings += [f"layer {lp.index} ({lp.kind}, {direction} {path}): {b}; predicted by extrapolation"
                         for b in model.beyond(f)]
        return LayerCost(lp.index, lp.kind, lp.forward, lp.backward, times[0], times[1], tuple(warnings))

    def _op_count(self, spec, paths):
        from cnnperf.opcount import count_ops

        counts = {layer.index: layer for layer in count_ops(spec).layers}
        for lp in paths:
            ops = counts[lp.index]
            kind = "full" if lp.kind == "output" else lp.kind
            fwd, bwd = self.kernels.get(f"forward:{kind}"), self.kernels.get(f"backward:{kind}")
            if fwd is None or bwd is None:
                raise CnnperfError(f"the machine model of {self.fitted_to} has no cost for {lp.kind} layers")
            yield LayerCost(lp.index, lp.kind, lp.forward, lp.backward, fwd.seconds({"ops": ops.fprop}),
                            bwd.seconds({"ops": ops.bprop}))

    def sample(self, rng: np.random.Generator) -> MachineModel:
        """A perturbed copy for Monte Carlo intervals: every kernel's costs scaled by one lognormal
        factor with its cross-validation error as spread, the contention by its own."""
        kernels = {k: replace(m, coefficients=tuple(c * _factor(rng, m.cv_error) for c in m.coefficients))
                   for k, m in self.kernels.items()}
        f, c = _factor(rng, self.contention.cv_error), self.contention
        contention = replace(c, c0_s=tuple(v * f for v in c.c0_s), c1_s_per_byte=tuple(v * f for v in c.c1_s_per_byte),
                             c2_per_step=tuple(v * f for v in c.c2_per_step))
        return replace(self, kernels=kernels, contention=contention)


def _factor(rng: np.random.Generator, rel: float) -> float:
    return float(math.exp(rng.normal(0.0, math.log1p(max(rel, 0.0)))))
