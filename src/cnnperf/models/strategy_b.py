"""Strategy (b), paper Table VI: measured per-image times TFprop, TBprop and TPrep. Returns seconds."""

from __future__ import annotations

from cnnperf.hardware import HardwareProfile, NetworkParams
from cnnperf.models.base import Prediction, as_arrays, contention_term

NAME = "b"
EQUATION = ("T = TPrep + [ (TFprop+TBprop) * i/p * ep + TFprop * i/p * ep + TFprop * it/p * ep ] * CPI(p)"
            " + MemoryContention(p) * i * ep / p")


def predict(net: NetworkParams, profile: HardwareProfile, p, i, it, ep) -> Prediction:
    """Strategy (b), paper Table VI."""
    p, i, it, ep = as_arrays(p, i, it, ep)
    cpi = profile.cpi_at(p)
    slow = cpi * profile.time_slice_at(p)  # CPI, times the time-slicing factor on oversubscribed machines
    terms = {
        "prep": net.t_prep_s + 0 * p,
        "train": (net.t_fprop_s + net.t_bprop_s) * i / p * ep * slow,
        "validate": net.t_fprop_s * i / p * ep * slow,
        "test": net.t_fprop_s * it / p * ep * slow,
        "mem": contention_term(net, profile, p, i, ep),
    }
    return Prediction(NAME, net.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION,
                      profile.time_slice_at(p))
