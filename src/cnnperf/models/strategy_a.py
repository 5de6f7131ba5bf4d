"""Strategy (a), paper Table V: operation counts, clock, CPI and OperationFactor. Returns seconds."""

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

NAME = "a"
LABEL = "(a) op counts"
EQUATION = ("T = (Prep + 4i + 2it + 10ep)/s * OF"
            " + [ (FProp+BProp)/s * i/p * ep + FProp/s * i/p * ep + FProp/s * it/p * ep ] * CPI(p) * OF"
            " + MemoryContention(p) * i * ep / p")


def requires(net, profile: HardwareProfile) -> str | None:
    return missing_entry(net, profile)


def predict(net, profile: HardwareProfile, p, i, it, ep, prep_ops: float | None = None) -> Prediction:
    """Strategy (a), paper Table V (NOTES.md: the preparation term is not multiplied by CPI)."""
    params = params_of(net, profile)
    p, i, it, ep = as_arrays(p, i, it, ep)
    s, of = profile.clock_hz, params.operation_factor
    prep = params.prep_ops if prep_ops is None else prep_ops
    cpi = profile.cpi_at(p)
    slow = cpi * profile.time_slice_at(p)  # CPI, times the time-slicing factor on oversubscribed machines
    terms = {
        "prep": (prep + 4 * i + 2 * it + 10 * ep) / s * of,
        "train": (params.fprop_ops + params.bprop_ops) / s * i / p * ep * slow * of,
        "validate": params.fprop_ops / s * i / p * ep * slow * of,
        "test": params.fprop_ops / s * it / p * ep * slow * of,
        "mem": contention_term(params, profile, p, i, ep),
    }
    notes = (f"Prep = {prep:.3g} operations given (the profile has {params.prep_ops:.3g})",) if prep_ops else ()
    return Prediction(NAME, params.name, p, i, it, ep, terms, cpi, profile.threads_per_core_at(p), EQUATION,
                      profile.time_slice_at(p), notes,
                      {"prep_ops": prep, "contention_regime": params.contention.regime(p)})


def substitute(net, profile: HardwareProfile, pred: Prediction, j: int = 0) -> str:
    """Table V with row j's numbers."""
    n = params_of(net, profile)
    p, i, it, ep = (pred.value(k, j) for k in ("p", "images", "test_images", "epochs"))
    cpi_s, mem_s = slowdown_text(pred, j)
    s, of = f"{profile.clock_hz:.4g}", f"{n.operation_factor:g}"
    prep = f"{pred.inputs.get('prep_ops', n.prep_ops):.3g}"
    return (f"T = ({prep} + 4*{i:.0f} + 2*{it:.0f} + 10*{ep:.0f})/{s} * {of}"
            f" + [ ({n.fprop_ops:.4g}+{n.bprop_ops:.4g})/{s} * {i:.0f}/{p:.0f} * {ep:.0f}"
            f" + {n.fprop_ops:.4g}/{s} * ({i:.0f}+{it:.0f})/{p:.0f} * {ep:.0f} ] * {cpi_s}"
            f" * {of} + {contention_at(n, profile, p):.4g} * {i:.0f} * {ep:.0f}/{p:.0f}{mem_s}\n" + total_text(pred, j))
