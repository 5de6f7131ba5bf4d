"""The [machine_model] section of a profile: to and from the TOML document (read and written
only through `hardware.toml_io`); every value type-checked, one-line errors."""

from __future__ import annotations

import math

from cnnperf.errors import CnnperfError
from cnnperf.hardware.machine_model import KINDS, ContentionModel, KernelModel, LinearTerm, MachineModel
from cnnperf.hardware.op_count import fit_op_count

MODEL_VERSION = 1


def _kernel_to_dict(m: KernelModel) -> dict:
    return {"form": m.form, "features": list(m.features), "coefficients": list(m.coefficients),
            "cv_error": m.cv_error, "fit_error": m.fit_error, "points": m.points,
            "ranges": {k: list(v) for k, v in m.ranges.items()},
            "alternatives": {k: dict(v) for k, v in m.alternatives.items()}}


def _term_to_dict(t: LinearTerm) -> dict:
    return {"features": list(t.features), "coefficients": list(t.coefficients), "cv_error": t.cv_error}


def to_dict(m: MachineModel) -> dict:
    if m.fit == "networks":  # a recipe, not numbers: refitted on load
        return {"version": MODEL_VERSION, "kind": m.kind, "fit": m.fit, "source": m.source}
    c = m.contention
    return {"version": MODEL_VERSION, "kind": m.kind, "lanes": m.lanes, "l2_bytes": m.l2_bytes,
            "activation": m.activation, "engine": m.engine,
            "source": m.source, "fitted_to": m.fitted_to, "spread": m.spread,
            "kernels": {k: _kernel_to_dict(v) for k, v in m.kernels.items()},
            "prep": _term_to_dict(m.prep), "eval_overhead": _term_to_dict(m.eval_overhead),
            "train_overhead": _term_to_dict(m.train_overhead),
            "contention": {"threads": list(c.threads), "c0_s": list(c.c0_s), "c1_s_per_byte": list(c.c1_s_per_byte),
                           "c2_per_step": list(c.c2_per_step), "form": c.form,
                           "cv_error": c.cv_error, "networks": c.networks}}


def _numbers(value, where: str, length: int | None = None) -> tuple[float, ...]:
    ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in value)
    if not ok or (length is not None and len(value) != length):
        raise CnnperfError(f"machine_model.{where} must be a list of {length or 'some'} finite numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _names(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CnnperfError(f"machine_model.{where} must be a non-empty list of feature names, got {value!r}")
    return tuple(value)


def _table(doc: dict, key: str, where: str) -> dict:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise CnnperfError(f"machine_model{where}: missing table '{key}'")
    return value


def _number(doc: dict, key: str, where: str, default=None) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CnnperfError(f"machine_model{where}: '{key}' must be a non-negative number, got {value!r}")
    return float(value)


def _term(doc: dict, key: str) -> LinearTerm:
    t = _table(doc, key, "")
    names = _names(t.get("features"), f"{key}.features")
    return LinearTerm(names, _numbers(t.get("coefficients"), f"{key}.coefficients", len(names)),
                      _number(t, "cv_error", f".{key}", 0.0))


def _kernel(key: str, t) -> KernelModel:
    where = f".kernels.{key!r}"
    if not isinstance(t, dict):
        raise CnnperfError(f"machine_model{where} must be a table")
    form = t.get("form")
    if form not in ("linear", "roofline"):
        raise CnnperfError(f"machine_model{where}: form must be linear or roofline, got {form!r}")
    names = _names(t.get("features"), f"kernels.{key}.features")
    if form == "roofline" and len(names) != 3:
        raise CnnperfError(f"machine_model{where}: a roofline has three features (one, compute, memory)")
    coef = _numbers(t.get("coefficients"), f"kernels.{key}.coefficients", len(names))
    ranges = t.get("ranges", {})
    if not isinstance(ranges, dict):
        raise CnnperfError(f"machine_model{where}.ranges must be a table")
    points = t.get("points", 0)
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise CnnperfError(f"machine_model{where}: points must be a non-negative integer, got {points!r}")
    return KernelModel(key, form, names, coef, _number(t, "cv_error", where, 0.0), _number(t, "fit_error", where, 0.0),
                       points, {k: _numbers(v, f"kernels.{key}.ranges.{k}", 2) for k, v in ranges.items()},
                       dict(t.get("alternatives", {})) if isinstance(t.get("alternatives", {}), dict) else {})


def from_dict(doc, networks: dict | None = None) -> MachineModel:
    """The machine model of a profile's [machine_model] table; one-line errors on bad content.
    `fit = "networks"` (op-count kind): fitted now to `networks`, the profile's entries."""
    if not isinstance(doc, dict):
        raise CnnperfError("[machine_model] must be a table")
    if doc.get("version") != MODEL_VERSION:
        raise CnnperfError(f"machine_model: unknown version {doc.get('version')!r}; this cnnperf reads version "
                           f"{MODEL_VERSION} (calibrate again)")
    if doc.get("kind") not in KINDS:
        raise CnnperfError(f"machine_model: kind must be one of {', '.join(KINDS)}, got {doc.get('kind')!r}")
    if "fit" in doc:
        if doc["fit"] != "networks" or doc["kind"] != "op-count":
            raise CnnperfError(f"machine_model: fit = {doc['fit']!r} is not known; only op-count models fit "
                               "'networks'")
        return fit_op_count(networks or {}, str(doc.get("source", "")))
    kernels = _table(doc, "kernels", "")
    c = _table(doc, "contention", "")
    threads = c.get("threads")
    if not isinstance(threads, list) or not threads or not all(isinstance(t, int) and t > 0 for t in threads):
        raise CnnperfError(f"machine_model.contention: threads must be positive integers, got {threads!r}")
    lanes = doc.get("lanes", 8)
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise CnnperfError(f"machine_model: lanes must be a positive integer, got {lanes!r}")
    for key in ("source", "fitted_to", "activation", "engine"):
        if not isinstance(doc.get(key, ""), str):
            raise CnnperfError(f"machine_model: {key} must be a string")
    form = c.get("form", "W")
    if form not in ("W", "T", "W+T"):
        raise CnnperfError(f"machine_model.contention: form must be W, T or W+T, got {form!r}")
    contention = ContentionModel(tuple(threads), _numbers(c.get("c0_s"), "contention.c0_s", len(threads)),
                                 _numbers(c.get("c1_s_per_byte"), "contention.c1_s_per_byte", len(threads)),
                                 _number(c, "cv_error", ".contention", 0.0), int(c.get("networks", 0)),
                                 _numbers(c.get("c2_per_step", [0.0] * len(threads)), "contention.c2_per_step",
                                          len(threads)), form)
    return MachineModel(doc["kind"], {k: _kernel(k, v) for k, v in kernels.items()}, contention,
                        _term(doc, "prep"), _term(doc, "eval_overhead"), _term(doc, "train_overhead"), lanes=lanes,
                        activation=doc.get("activation", "scaled_tanh"), source=doc.get("source", ""),
                        fitted_to=doc.get("fitted_to", ""), spread=_number(doc, "spread", "", 0.0),
                        l2_bytes=int(_number(doc, "l2_bytes", "", 0)), engine=doc.get("engine", ""))


