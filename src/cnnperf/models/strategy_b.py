"""Strategy (b), paper Table VI: measured per-image times TFprop, TBprop and TPrep. Returns seconds."""

from __future__ import annotations

from cnnperf.hardware import HardwareProfile, NetworkParams
from cnnperf.models.base import Prediction, as_arrays, contention_term, oversubscription_term

NAME = "b"
EQUATION = ("T = TPrep + [ (TFprop+TBprop) * i/p * ep + TFprop * i/p * ep + TFprop * it/p * ep ] * CPI(p)"
            " + MemoryContention(p) * i * ep / p")


def predict(net: NetworkParams, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (b), paper Table VI. With a profile's `oversub_s` a term `oversub` is added."""
    p, i, it, ep = as_arrays(p, i, it, ep)
    cpi = profile.cpi_at(p)
    terms = {
        "prep": net.t_prep_s + 0 * p,
        "train": (net.t_fprop_s + net.t_bprop_s) * i / p * ep * cpi,
        "validate": net.t_fprop_s * i / p * ep * cpi,
        "test": net.t_fprop_s * it / p * ep * cpi,
        "mem": contention_term(net, p, i, ep),
    }
    if net.oversub_s:
        terms["oversub"] = oversubscription_term(net, profile, p, i, it, ep)
    return Prediction(NAME, net.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION)
