"""Strategy (d), "layer model": strategy (b)'s equation (paper Table VI) with TFprop, TBprop,
TPrep and MemoryContention taken from the profile's machine model instead of measurements of
the network, so any network is predicted without a profile entry. Returns seconds.

TFprop = sum over layers of the forward kernels' modelled times + the per-image overhead of
evaluation; TBprop = sum of the backward (+ update) kernels + the rest of the train step's
overhead; MemoryContention(p) = c0(p) + c1(p) * bytes of shared weights written per image +
c2(p) * the single-thread step (hardware.machine_model.ContentionModel).
"""

from __future__ import annotations

import numpy as np

from cnnperf.engine.build import kernels_build
from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile
from cnnperf.hardware.machine_model import NetworkCost
from cnnperf.hardware.profile import Contention
from cnnperf.models.base import Prediction, as_arrays, slowdown_text, total_text

NAME = "d"
LABEL = "(d) layer model"
EQUATION = ("T = TPrep(net, p) + [ (TFprop+TBprop) * i/p * ep + TFprop * i/p * ep + TFprop * it/p * ep ] * CPI(p)"
            " + MC(p, W) * i * ep / p,  TFprop = sum_l fwd_l + o_eval, TBprop = sum_l bwd_l + o_train - o_eval,"
            " MC(p) = c0(p) + c1(p) * W + c2(p) * (TFprop+TBprop)  (W: bytes of shared weights written per image)")


def _spec(net, profile: HardwareProfile):
    """The NetworkSpec of `net` (a spec, a network name/notation/file, or a profile entry)."""
    from cnnperf.hardware import NetworkParams
    from cnnperf.networks import NetworkSpec, resolve_network

    if isinstance(net, NetworkSpec):
        return net
    if isinstance(net, NetworkParams) or (isinstance(net, str) and net in profile.networks):
        params = net if isinstance(net, NetworkParams) else profile.networks[net]
        if not params.notation:
            raise CnnperfError(f"profile entry {params.name} has no notation; give the network itself")
        return resolve_network(params.notation)
    return resolve_network(str(net))


def requires(net, profile: HardwareProfile) -> str | None:
    if profile.machine_model is None:
        return (f"profile {profile.name} has no machine model for strategy {LABEL}; build one with 'cnnperf calibrate "
                "--out PROFILE' (without --nets; --quick for a first look)")
    try:
        _spec(net, profile)
    except CnnperfError as exc:
        return str(exc)
    return None


def instance_floats(spec) -> int:
    """Floats of one worker's network instance (activations, deltas, im2col and gradient buffers)."""
    from cnnperf.engine.paths import layer_paths

    paths = layer_paths(spec)
    col = sum(lp.col_bytes + lp.wide_bytes for lp in paths) // 4
    dcol = max((lp.dcol_bytes for lp in paths), default=0) // 4
    grad = max((lp.weights for lp in paths), default=0)
    return 2 * spec.n_neurons + col + dcol + grad


def prep_features(spec, p) -> dict:
    """TPrep's features: shared weights, and the instances the trainer creates (one per thread)."""
    return {"one": 1.0, "weights": float(spec.n_weights), "instance_p": instance_floats(spec) * np.asarray(p, float)}


def cost(net, profile: HardwareProfile) -> NetworkCost:
    return profile.machine_model.network_cost(_spec(net, profile))


def contention(cost_: NetworkCost, profile: HardwareProfile) -> Contention:
    threads, seconds = profile.machine_model.contention.at(cost_.weight_bytes, cost_.t_fprop_s + cost_.t_bprop_s)
    return Contention(threads, seconds, ("measured",) * len(threads))


def predict(net, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (d): the machine model's per-layer costs in Table VI's equation."""
    problem = requires(net, profile)
    if problem:
        raise CnnperfError(problem)
    spec = _spec(net, profile)
    model = profile.machine_model
    c = model.network_cost(spec)
    p, i, it, ep = as_arrays(p, i, it, ep)
    cpi = profile.cpi_at(p)
    slow = cpi * profile.time_slice_at(p)
    mc = contention(c, profile)
    tf, tb = c.t_fprop_s, c.t_bprop_s
    terms = {
        "prep": model.prep.seconds(prep_features(spec, p)) + 0 * p,
        "train": (tf + tb) * i / p * ep * slow,
        "validate": tf * i / p * ep * slow,
        "test": tf * it / p * ep * slow,
        "mem": mc(profile.contention_threads(mc, p)) * i * ep / p * profile.time_slice_at(p),
    }
    notes = tuple(f"extrapolation: {w}" for w in c.warnings)
    if model.kind == "op-count":
        notes += (f"layer model fitted to {model.fitted_to}",)
    if model.engine and model.engine != kernels_build():
        notes += (f"the machine model was measured with other engine kernels (build {model.engine}, this cnnperf "
                  f"has {kernels_build()}): its costs may be stale; run `cnnperf calibrate` again",)
    if spec.activation != model.activation:
        notes += (f"the machine model was measured with {model.activation}; {spec.activation} costs are assumed equal",)
    inputs = {"t_fprop_s": tf, "t_bprop_s": tb, "layers": c.layers, "cost": c, "contention": mc,
              "contention_regime": mc.regime(p), "weight_bytes": c.weight_bytes, "spec": spec}
    return Prediction(NAME, spec.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION,
                      profile.time_slice_at(p), notes, inputs)


def substitute(net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
    """Table VI with the machine model's numbers for row j."""
    p, i, it, ep = (pred.value(k, j) for k in ("p", "images", "test_images", "epochs"))
    cpi_s, mem_s = slowdown_text(pred, j)
    tf, tb, mc = pred.inputs["t_fprop_s"], pred.inputs["t_bprop_s"], pred.inputs["contention"]
    prep = float(np.ravel(pred.column(pred.terms["prep"]))[j])
    mc_p = float(mc(profile.contention_threads(mc, p)))
    return (f"T = {prep:.4g} + [ ({tf:.4g}+{tb:.4g}) * {i:.0f}/{p:.0f} * {ep:.0f} + {tf:.4g} * ({i:.0f}+{it:.0f})/"
            f"{p:.0f} * {ep:.0f} ] * {cpi_s} + {mc_p:.4g} * {i:.0f} * {ep:.0f}/{p:.0f}{mem_s}\n" + total_text(pred, j))
