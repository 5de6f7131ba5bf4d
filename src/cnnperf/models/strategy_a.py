"""Strategy (a), paper Table V: operation counts, clock, CPI and OperationFactor. Returns seconds."""

from __future__ import annotations


from cnnperf.hardware import HardwareProfile, NetworkParams
from cnnperf.models.base import Prediction, as_arrays, contention_term

NAME = "a"
EQUATION = ("T = (Prep + 4i + 2it + 10ep)/s * OF"
            " + [ (FProp+BProp)/s * i/p * ep + FProp/s * i/p * ep + FProp/s * it/p * ep ] * CPI(p) * OF"
            " + MemoryContention(p) * i * ep / p")


def predict(net: NetworkParams, profile: HardwareProfile, p, i, it, ep, prep_ops: float | None = None) -> Prediction:
    """Strategy (a), paper Table V (NOTES.md: the preparation term is not multiplied by CPI)."""
    p, i, it, ep = as_arrays(p, i, it, ep)
    s, of = profile.clock_hz, net.operation_factor
    prep = net.prep_ops if prep_ops is None else prep_ops
    cpi = profile.cpi_at(p)
    slow = cpi * profile.time_slice_at(p)  # CPI, times the time-slicing factor on oversubscribed machines
    terms = {
        "prep": (prep + 4 * i + 2 * it + 10 * ep) / s * of,
        "train": (net.fprop_ops + net.bprop_ops) / s * i / p * ep * slow * of,
        "validate": net.fprop_ops / s * i / p * ep * slow * of,
        "test": net.fprop_ops / s * it / p * ep * slow * of,
        "mem": contention_term(net, profile, p, i, ep),
    }
    return Prediction(NAME, net.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION,
                      profile.time_slice_at(p))
