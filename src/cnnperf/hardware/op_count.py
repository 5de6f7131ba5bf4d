"""The Xeon Phi's layer model: an op-count machine model (seconds per operation of each layer
type) fitted to a profile's own networks (paper Tables III, IV, VII, VIII)."""

from __future__ import annotations

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware.machine_model import ContentionModel, KernelModel, LinearTerm, MachineModel

OP_TYPES = ("conv", "maxpool", "full")  # the paper's columns (its "fully connected" includes the output layer)
OP_FORMS = {"one factor": (("conv", "maxpool", "full"),), "conv and the rest": (("conv",), ("maxpool", "full"))}


def _ops_by_type(spec, direction: str) -> dict[str, float]:
    from cnnperf.opcount import count_ops

    out = dict.fromkeys(OP_TYPES, 0.0)
    for layer in count_ops(spec).layers:
        kind = "full" if layer.kind == "output" else layer.kind
        out[kind] += layer.fprop if direction == "forward" else layer.bprop
    return out


def _fit_groups(x: list[dict], y: np.ndarray, groups) -> np.ndarray:
    from cnnperf.lsq import nnls

    a = np.array([[sum(row[t] for t in g) for g in groups] for row in x]) / y[:, None]
    return nnls(a, np.ones(len(y)))


def _lono(x: list[dict], y: np.ndarray, groups) -> list[float]:
    """Leave-one-network-out relative errors of a per-type op-count form."""
    errors = []
    for k in range(len(y)):
        keep = [j for j in range(len(y)) if j != k]
        c = _fit_groups([x[j] for j in keep], y[keep], groups)
        errors.append(float(sum(ci * sum(x[k][t] for t in g) for ci, g in zip(c, groups)) / y[k] - 1))
    return errors


def fit_op_count(networks: dict, source: str) -> MachineModel:
    """Seconds per operation by layer type, per direction, fitted to the networks' measured TFprop
    and TBprop (our operation counts of their notation), the form chosen by leave-one-network-out
    error; TPrep = a + b * weights; MemoryContention(p) = c0(p) + c1(p) * W at every thread count
    measured for all of them. With 3 networks every form with > 2 coefficients is exact and
    untestable, so only one or two coefficients per direction are tried."""
    from cnnperf.lsq import nnls
    from cnnperf.networks import resolve_network

    params = [n for n in networks.values() if n.notation]
    if len(params) < 3:
        raise CnnperfError(f"[machine_model] fit = \"networks\" needs >= 3 networks with notation and measured times, "
                           f"the profile has {len(params)}; add networks or remove the [machine_model] table")
    specs = [resolve_network(n.notation) for n in params]
    kernels, notes = {}, []
    for direction, attr in (("forward", "t_fprop_s"), ("backward", "t_bprop_s")):
        x = [_ops_by_type(s, direction) for s in specs]
        y = np.array([getattr(n, attr) for n in params])
        scored = {name: _lono(x, y, g) for name, g in OP_FORMS.items()}
        name = min(scored, key=lambda k: np.mean(np.abs(scored[k])))
        coef = _fit_groups(x, y, OP_FORMS[name])
        per_type = {t: float(c) for c, g in zip(coef, OP_FORMS[name]) for t in g}
        err = float(np.mean(np.abs(scored[name])))
        notes.append(f"{direction} '{name}': leave-one-network-out " +
                     ", ".join(f"{n.name} {e:+.0%}" for n, e in zip(params, scored[name])))
        for t, c in per_type.items():
            kernels[f"{direction}:{t}"] = KernelModel(f"{direction}:{t}", "linear", ("ops",), (c,), err, 0.0,
                                                      len(params), {}, {k: float(np.mean(np.abs(v)))
                                                                        for k, v in scored.items()})
    w = np.array([4.0 * s.n_weights for s in specs])
    common = sorted(set.intersection(*({t for t, st in zip(n.contention.threads, n.contention.status)
                                        if st == "measured"} for n in params)))
    a = np.stack([np.ones_like(w), w], axis=1)
    c0, c1 = [], []
    for p in common:
        mc = np.array([n.contention.seconds[n.contention.threads.index(p)] for n in params])
        coef = nnls(a, mc)
        c0.append(float(coef[0]))
        c1.append(float(coef[1]))
    lono = [_contention_lono(a, np.array([n.contention.seconds[n.contention.threads.index(p)] for n in params]))
            for p in common if p > 1]
    contention = ContentionModel(tuple(common), tuple(c0), tuple(c1), float(np.mean(lono)) if lono else 1.0,
                                 len(params))
    prep = nnls(np.stack([np.ones_like(w), w / 4], axis=1), np.array([n.t_prep_s for n in params]))
    zero = LinearTerm(("one",), (0.0,))
    fitted = (f"{len(params)} networks ({', '.join(n.name for n in params)}; {source}); " + "; ".join(notes))
    return MachineModel("op-count", kernels, contention, LinearTerm(("one", "weights"), tuple(map(float, prep))),
                        zero, zero, source=source, fitted_to=fitted, fit="networks",
                        spread=float(np.mean([k.cv_error for k in kernels.values()])))


def _contention_lono(a: np.ndarray, mc: np.ndarray) -> float:
    from cnnperf.lsq import nnls

    errors = []
    for k in range(len(mc)):
        keep = np.arange(len(mc)) != k
        errors.append(abs(float(a[k] @ nnls(a[keep], mc[keep])) - mc[k]) / max(float(np.mean(mc)), 1e-12))
    return float(np.mean(errors))
