"""Strategy (b), paper Table VI: measured per-image times TFprop, TBprop and TPrep. Returns seconds."""

from __future__ import annotations

from cnnperf.hardware import HardwareProfile
from cnnperf.models.base import (
    Prediction,
    as_arrays,
    contention_at,
    contention_term,
    missing_entry,
    params_of,
    slowdown_text,
    total_text,
)

NAME = "b"
LABEL = "(b) measured times"
EQUATION = ("T = TPrep + [ (TFprop+TBprop) * i/p * ep + TFprop * i/p * ep + TFprop * it/p * ep ] * CPI(p)"
            " + MemoryContention(p) * i * ep / p")


def requires(net, profile: HardwareProfile) -> str | None:
    return missing_entry(net, profile)


def predict(net, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (b), paper Table VI."""
    params = params_of(net, profile)
    p, i, it, ep = as_arrays(p, i, it, ep)
    cpi = profile.cpi_at(p)
    slow = cpi * profile.time_slice_at(p)  # CPI, times the time-slicing factor on oversubscribed machines
    terms = {
        "prep": params.t_prep_s + 0 * p,
        "train": (params.t_fprop_s + params.t_bprop_s) * i / p * ep * slow,
        "validate": params.t_fprop_s * i / p * ep * slow,
        "test": params.t_fprop_s * it / p * ep * slow,
        "mem": contention_term(params, profile, p, i, ep),
    }
    return Prediction(NAME, params.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION,
                      profile.time_slice_at(p), inputs={"contention_regime": params.contention.regime(p)})


def substitute(net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
    """Table VI with row j's numbers."""
    n = params_of(net, profile)
    p, i, it, ep = (pred.value(k, j) for k in ("p", "images", "test_images", "epochs"))
    cpi_s, mem_s = slowdown_text(pred, j)
    return (f"T = {n.t_prep_s:.4g} + [ ({n.t_fprop_s:.4g}+{n.t_bprop_s:.4g}) * {i:.0f}/{p:.0f} * {ep:.0f}"
            f" + {n.t_fprop_s:.4g} * ({i:.0f}+{it:.0f})/{p:.0f} * {ep:.0f} ] * {cpi_s}"
            f" + {contention_at(n, profile, p):.4g} * {i:.0f} * {ep:.0f}/{p:.0f}{mem_s}\n" + total_text(pred, j))
