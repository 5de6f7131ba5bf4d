"""Hardware profile files: versioned TOML (`schema_version = 1`), units in the key names
(`_hz`, `_s`, `_ops`). Loading validates everything and fails with a one-line error."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_text
from cnnperf.hardware.profile import Contention, HardwareProfile, NetworkParams

SCHEMA_VERSION = 1
BUILTIN_DIR = Path(__file__).with_name("profiles")
MACHINE_KEYS = {"clock_hz": float, "cores": int, "threads_per_core": int}
NET_KEYS = {"epochs": int, "operation_factor": float, "prep_ops": float, "fprop_ops": float, "bprop_ops": float,
            "t_prep_s": float, "t_fprop_s": float, "t_bprop_s": float}
UNIT_HINT = {"_ms": "milliseconds", "_us": "microseconds", "_ns": "nanoseconds", "_ghz": "GHz", "_mhz": "MHz",
             "_min": "minutes", "_kops": "thousands of operations", "_gbit_per_s": "Gbit/s", "_gb_per_s": "GB/s"}
STATUS = ("measured", "extrapolated")
OVERSUBSCRIPTION = ("none", "time-slicing")


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def resolve_profile_path(name_or_path: str) -> Path:
    """A built-in profile name or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise CnnperfError(f"profile file {candidate} not found; give a TOML file or one of: {', '.join(builtin_profiles())}")
        return candidate
    builtin = BUILTIN_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        raise CnnperfError(f"unknown profile {name_or_path!r}; use one of {', '.join(builtin_profiles())} or a TOML file path")
    return builtin


def load_profile(name_or_path: str) -> HardwareProfile:
    path = resolve_profile_path(name_or_path)
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CnnperfError(f"{path}: malformed TOML ({exc}); fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnperfError(f"{path}: cannot read ({exc})") from None
    try:
        return profile_from_dict(doc)
    except CnnperfError as exc:
        raise CnnperfError(f"{path}: {exc}") from None


def _number(table: dict, key: str, kind, where: str, positive: bool = True, allow_zero: bool = False):
    if key not in table:
        base = key
        for u in ("_bytes_per_s", "_s", "_hz", "_ops"):
            if key.endswith(u):
                base = key[: -len(u)]
                break
        for suffix, unit in UNIT_HINT.items():
            if base + suffix in table:
                raise CnnperfError(f"{where}: wrong unit: '{base + suffix}' is in {unit}; give '{key}' instead")
        raise CnnperfError(f"{where}: missing key '{key}'")
    value = table[key]
    if isinstance(value, str):
        raise CnnperfError(f"{where}: '{key}' must be a plain number (unit in the key name), got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CnnperfError(f"{where}: '{key}' must be a finite number, got {value!r}")
    if kind is int and value != int(value):
        raise CnnperfError(f"{where}: '{key}' must be an integer, got {value!r}")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        raise CnnperfError(f"{where}: '{key}' must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return kind(value)


def _contention(table, where: str) -> Contention:
    if not isinstance(table, dict):
        raise CnnperfError(f"{where}: missing table 'memory_contention' (threads, seconds, status)")
    for key in ("threads", "seconds"):
        if key not in table:
            if key == "seconds" and any(k in table for k in ("ms", "milliseconds", "seconds_ms")):
                raise CnnperfError(f"{where}.memory_contention: wrong unit; give 'seconds'")
            raise CnnperfError(f"{where}.memory_contention: missing key '{key}'")
    threads, seconds = table["threads"], table["seconds"]
    status = table.get("status", ["measured"] * len(threads))
    if not (len(threads) == len(seconds) == len(status)) or not threads:
        raise CnnperfError(f"{where}.memory_contention: threads, seconds and status need the same non-zero length")
    if any(isinstance(t, bool) or not isinstance(t, int) or t <= 0 for t in threads) or list(threads) != sorted(set(threads)):
        raise CnnperfError(f"{where}.memory_contention: threads must be increasing positive integers")
    if any(isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0 for s in seconds):
        raise CnnperfError(f"{where}.memory_contention: seconds must be non-negative numbers (seconds per image)")
    if any(s not in STATUS for s in status):
        raise CnnperfError(f"{where}.memory_contention: status entries must be one of {', '.join(STATUS)}")
    if "measured" not in status:
        raise CnnperfError(f"{where}.memory_contention: needs at least one measured value")
    return Contention(tuple(threads), tuple(float(s) for s in seconds), tuple(status))


def _network(name: str, t: dict) -> NetworkParams:
    where = f"networks.{name}"
    if not isinstance(t, dict):
        raise CnnperfError(f"{where} must be a table")
    values = {k: _number(t, k, kind, where, allow_zero=k.startswith(("t_prep", "prep"))) for k, kind in NET_KEYS.items()}
    return NetworkParams(name=name, contention=_contention(t.get("memory_contention"), where),
                         notation=str(t.get("notation", "")), sources=dict(t.get("sources", {})),
                         empirical=dict(t.get("empirical", {})), **values)


def profile_from_dict(doc: dict) -> HardwareProfile:
    version = doc.get("schema_version")
    if version is None:
        raise CnnperfError("missing 'schema_version'; profiles start with schema_version = 1")
    if version != SCHEMA_VERSION:
        raise CnnperfError(f"unknown schema_version {version!r}; this cnnperf reads schema_version = {SCHEMA_VERSION}")
    machine = doc.get("machine")
    if not isinstance(machine, dict):
        raise CnnperfError("missing table [machine] (clock_hz, cores, threads_per_core)")
    m = {k: _number(machine, k, kind, "machine") for k, kind in MACHINE_KEYS.items()}
    m["oversubscription"] = machine.get("oversubscription", "none")
    if m["oversubscription"] not in OVERSUBSCRIPTION:
        raise CnnperfError(f"machine: oversubscription must be one of {', '.join(OVERSUBSCRIPTION)}, "
                           f"got {m['oversubscription']!r}")
    cpi_t = doc.get("cpi")
    if not isinstance(cpi_t, dict) or "threads_per_core" not in cpi_t or "cycles_per_instruction" not in cpi_t:
        raise CnnperfError("missing table [cpi] with threads_per_core and cycles_per_instruction lists")
    tpc, cpi = cpi_t["threads_per_core"], cpi_t["cycles_per_instruction"]
    if len(tpc) != len(cpi) or not tpc or any(not isinstance(v, (int, float)) or v <= 0 for v in [*tpc, *cpi]):
        raise CnnperfError("[cpi]: threads_per_core and cycles_per_instruction must be equal-length lists of positive numbers")
    nets = doc.get("networks")
    if not isinstance(nets, dict) or not nets:
        raise CnnperfError("missing [networks.NAME] tables; a profile needs at least one network")
    if "network" in doc:
        net = doc["network"]
        if not isinstance(net, dict):
            raise CnnperfError("[network] must be a table with alpha_s and beta_bytes_per_s")
        _number(net, "alpha_s", float, "network")
        _number(net, "beta_bytes_per_s", float, "network")
    known = {"schema_version", "name", "description", "source", "machine", "cpi", "networks"}
    return HardwareProfile(name=str(doc.get("name", "unnamed")), cpi={int(t): float(c) for t, c in zip(tpc, cpi)},
                           networks={name: _network(name, t) for name, t in nets.items()},
                           description=str(doc.get("description", "")), source=str(doc.get("source", "")),
                           extra={k: v for k, v in doc.items() if k not in known}, **m)


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table(lines: list[str], header: str, table: dict) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    lines.append(f"\n[{header}]")
    lines.extend(f"{k} = {_fmt(v)}" for k, v in scalars.items())
    for k, v in table.items():
        if isinstance(v, dict):
            _table(lines, f"{header}.{k}", v)


def profile_to_dict(profile: HardwareProfile) -> dict:
    doc = {"schema_version": SCHEMA_VERSION, "name": profile.name, "description": profile.description,
           "source": profile.source,
           "machine": {"clock_hz": profile.clock_hz, "cores": profile.cores, "threads_per_core": profile.threads_per_core,
                       "oversubscription": profile.oversubscription},
           "cpi": {"threads_per_core": list(profile.cpi), "cycles_per_instruction": list(profile.cpi.values())},
           "networks": {}}
    for name, n in profile.networks.items():
        entry = {"notation": n.notation, "epochs": n.epochs, "operation_factor": n.operation_factor,
                 "prep_ops": n.prep_ops, "fprop_ops": n.fprop_ops, "bprop_ops": n.bprop_ops, "t_prep_s": n.t_prep_s,
                 "t_fprop_s": n.t_fprop_s, "t_bprop_s": n.t_bprop_s}
        entry["memory_contention"] = {"threads": list(n.contention.threads), "seconds": list(n.contention.seconds),
                                      "status": list(n.contention.status)}
        if n.sources:
            entry["sources"] = dict(n.sources)
        if n.empirical:
            entry["empirical"] = dict(n.empirical)
        doc["networks"][name] = entry
    doc.update(profile.extra)
    return doc


def profile_to_toml(profile: HardwareProfile) -> str:
    doc = profile_to_dict(profile)
    lines = [f"{k} = {_fmt(doc[k])}" for k in ("schema_version", "name", "description", "source")]
    for key, value in doc.items():
        if isinstance(value, dict) and key != "networks":
            _table(lines, key, value)
    for name, entry in doc["networks"].items():
        _table(lines, f"networks.{name}", entry)
    return "\n".join(lines) + "\n"


def save_profile(path, profile: HardwareProfile) -> Path:
    """Write atomically (temp file, then rename)."""
    return atomic_write_text(path, profile_to_toml(profile))
