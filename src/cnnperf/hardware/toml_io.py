"""Hardware profile files: versioned TOML, units in the key names (`_hz`, `_s`, `_ops`). The
one owner of the format: read with `tomllib`, written with `tomli-w`; the keys are the fields
of `HardwareProfile` / `NetworkParams` / `Spread` / `Noise` (their metadata says how each is
checked). Loading checks types, not only keys, and fails with one line.

Schema 2 (written) adds the uncertainty of every measured value: `[networks.NAME.uncertainty.KEY]`
tables (the fields of `Spread`), the same fields as parallel lists in `memory_contention` and
`[cpi]`, and the machine's noise `[noise]`. Schema 1 files (no uncertainty) still load."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import tomli_w

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_text, read_toml
from cnnperf.hardware import machine_model_io as machine_model
from cnnperf.hardware.profile import (
    OVERSUBSCRIPTION,
    Contention,
    HardwareProfile,
    NetworkParams,
    Noise,
    ReferenceRuns,
    Spread,
)

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
BUILTIN_DIR = Path(__file__).with_name("profiles")
UNIT_HINT = {"_ms": "milliseconds", "_us": "microseconds", "_ns": "nanoseconds", "_ghz": "GHz", "_mhz": "MHz",
             "_min": "minutes", "_kops": "thousands of operations", "_gbit_per_s": "Gbit/s", "_gb_per_s": "GB/s"}
STATUS = ("measured", "extrapolated")
TOP_KEYS = ("schema_version", "name", "description", "source", "machine", "cpi", "networks", "noise", "machine_model")
SPREAD_KEYS = tuple(f.name for f in fields(Spread))


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def resolve_profile_path(name_or_path: str) -> Path:
    """A built-in profile name or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.is_dir():
        raise CnnperfError(f"profile {candidate} is a directory; give a TOML file or one of: "
                           f"{', '.join(builtin_profiles())}")
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise CnnperfError(f"profile file {candidate} not found; give a TOML file or one of: "
                               f"{', '.join(builtin_profiles())}")
        return candidate
    builtin = BUILTIN_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        raise CnnperfError(f"unknown profile {name_or_path!r}; use one of {', '.join(builtin_profiles())} or a TOML "
                           "file path")
    return builtin


def load_profile(name_or_path: str) -> HardwareProfile:
    path = resolve_profile_path(str(name_or_path))
    doc = read_toml(path, "profile")
    try:
        return profile_from_dict(doc)
    except CnnperfError as exc:
        raise CnnperfError(f"{path}: {exc}") from None


def _key(name: str) -> str:
    """A key as TOML writes it (quoted when it is not a bare key)."""
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return name if bare else tomli_w.dumps({name: 0}).split(" = ")[0]


def _number(table: dict, key: str, kind: type, where: str, allow_zero: bool = False):
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
    if value < 0 or (value == 0 and not allow_zero):
        raise CnnperfError(f"{where}: '{key}' must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return kind(value)


def _list(table: dict, key: str, where: str, check, what: str) -> list:
    value = table.get(key)
    if not isinstance(value, list) or not value or not all(check(v) for v in value):
        raise CnnperfError(f"{where}: '{key}' must be a non-empty list of {what}, got {value!r}")
    return value


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _nonneg_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _str_table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise CnnperfError(f"{where} must be a table, got {value!r}")
    return dict(value)


def _contention(table, where: str) -> Contention:
    where = f"{where}.memory_contention"
    if not isinstance(table, dict):
        raise CnnperfError(f"{where}: missing table (threads, seconds, status)")
    if "seconds" not in table and any(k in table for k in ("ms", "milliseconds", "seconds_ms")):
        raise CnnperfError(f"{where}: wrong unit; give 'seconds'")
    for key in ("threads", "seconds"):
        if key not in table:
            raise CnnperfError(f"{where}: missing key '{key}'")
    threads = _list(table, "threads", where, _positive_int, "positive integers")
    seconds = _list(table, "seconds", where, _nonneg_number, "non-negative numbers (seconds per image)")
    status = table.get("status", ["measured"] * len(threads))
    if not isinstance(status, list) or any(s not in STATUS for s in status):
        raise CnnperfError(f"{where}: status must be a list of {' or '.join(STATUS)}, got {status!r}")
    if not (len(threads) == len(seconds) == len(status)):
        raise CnnperfError(f"{where}: threads, seconds and status need the same length")
    if threads != sorted(set(threads)):
        raise CnnperfError(f"{where}: threads must be increasing positive integers")
    if "measured" not in status:
        raise CnnperfError(f"{where}: needs at least one measured value")
    return Contention(tuple(threads), tuple(float(s) for s in seconds), tuple(status),
                      _spread_rows(table, len(threads), where))


def _checked_spread(values: dict, where: str) -> Spread:
    spread = Spread(**values)
    if spread.ci_low > spread.ci_high or spread.low > spread.high:
        raise CnnperfError(f"{where}: needs ci_low <= ci_high and low <= high, got {values}")
    return spread


def _spread(table, where: str) -> Spread:
    """One `Spread` table (schema 2), every key checked like a profile number."""
    if not isinstance(table, dict):
        raise CnnperfError(f"{where} must be a table with {', '.join(SPREAD_KEYS)}")
    return _checked_spread({f.name: _number(table, f.name, f.metadata["kind"], where, f.metadata["zero_ok"])
                            for f in fields(Spread)}, where)


def _spread_rows(table: dict, n: int, where: str) -> tuple[Spread, ...]:
    """The fields of `Spread` as parallel lists of length n beside a table's values (schema 2)."""
    present = [k for k in SPREAD_KEYS if k in table]
    if not present:
        return ()
    if len(present) != len(SPREAD_KEYS):
        raise CnnperfError(f"{where}: the uncertainty lists {', '.join(SPREAD_KEYS)} go together; missing "
                           f"{', '.join(k for k in SPREAD_KEYS if k not in present)}")
    cols = {}
    for f in fields(Spread):
        values = table[f.name]
        if not isinstance(values, list) or len(values) != n:
            raise CnnperfError(f"{where}: '{f.name}' must be a list of {n} numbers, got {values!r}")
        cols[f.name] = [_number({f.name: v}, f.name, f.metadata["kind"], where, True) for v in values]
    return tuple(_checked_spread({k: cols[k][j] for k in SPREAD_KEYS}, where) for j in range(n))


def _spread_lists(spreads) -> dict:
    return {k: [getattr(s, k) for s in spreads] for k in SPREAD_KEYS} if spreads else {}


def _uncertainty(table, where: str) -> dict[str, Spread]:
    where = f"{where}.uncertainty"
    if not isinstance(table, dict):
        raise CnnperfError(f"{where} must be a table of tables (one per measured key)")
    numeric = {f.name for f in fields(NetworkParams) if f.metadata.get("toml") == "number"}
    for key in table:
        if key not in numeric:
            raise CnnperfError(f"{where}: '{key}' is not a measured number of a network; use one of "
                               f"{', '.join(sorted(numeric))}")
    return {key: _spread(t, f"{where}.{_key(key)}") for key, t in table.items()}


def _network(name: str, t) -> NetworkParams:
    where = f"networks.{_key(name)}"
    if not isinstance(t, dict):
        raise CnnperfError(f"{where} must be a table")
    values: dict = {}
    for f in fields(NetworkParams):
        how = f.metadata.get("toml")
        if how == "key":
            values[f.name] = name
        elif how == "number":
            values[f.name] = _number(t, f.name, f.metadata["kind"], where, f.metadata["zero_ok"])
        elif how == "memory_contention":
            values[f.name] = _contention(t.get("memory_contention"), where)
        elif how == "str" and f.name in t:
            if not isinstance(t[f.name], str):
                raise CnnperfError(f"{where}: '{f.name}' must be a string, got {t[f.name]!r}")
            values[f.name] = t[f.name]
        elif how == "table" and f.name in t:
            values[f.name] = _str_table(t[f.name], f"{where}.{f.name}")
        elif how == "uncertainty" and f.name in t:
            values[f.name] = _uncertainty(t[f.name], where)
        elif how == "reference_runs" and f.name in t:
            values[f.name] = _reference_runs(t[f.name], f"{where}.reference_runs")
    return NetworkParams(**values)


def _reference_runs(t, where: str) -> ReferenceRuns:
    if not isinstance(t, dict):
        raise CnnperfError(f"{where} must be a table (threads, seconds, images, test_images, epochs)")
    threads = _list(t, "threads", where, _positive_int, "positive integers")
    seconds = _list(t, "seconds", where, lambda v: _nonneg_number(v) and v > 0, "positive seconds")
    if len(threads) != len(seconds) or threads != sorted(set(threads)):
        raise CnnperfError(f"{where}: threads (increasing) and seconds need the same length")
    sizes = {k: _number(t, k, int, where, k == "test_images") for k in ("images", "test_images", "epochs")}
    return ReferenceRuns(tuple(threads), tuple(float(v) for v in seconds), spread=_spread_rows(t, len(threads), where),
                         **sizes)


def _cpi(doc: dict) -> dict[int, float]:
    t = doc.get("cpi")
    if not isinstance(t, dict) or "threads_per_core" not in t or "cycles_per_instruction" not in t:
        raise CnnperfError("missing table [cpi] with threads_per_core and cycles_per_instruction lists")
    tpc = _list(t, "threads_per_core", "cpi", _positive_int, "positive integers")
    cpi = _list(t, "cycles_per_instruction", "cpi", lambda v: _nonneg_number(v) and v > 0, "positive numbers")
    if len(tpc) != len(cpi) or tpc != sorted(set(tpc)):
        raise CnnperfError("[cpi]: threads_per_core (increasing) and cycles_per_instruction need the same length")
    return {int(k): float(c) for k, c in zip(tpc, cpi)}


def _cpi_spread(doc: dict) -> dict[int, Spread]:
    t = doc["cpi"]
    return dict(zip(t["threads_per_core"], _spread_rows(t, len(t["threads_per_core"]), "cpi")))


def _float_list(value, where: str, key: str, check, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value or not all(_nonneg_number(v) and check(v) for v in value):
        raise CnnperfError(f"{where}: '{key}' must be a non-empty list of {what}, got {value!r}")
    return tuple(float(v) for v in value)


def _noise(doc: dict) -> Noise | None:
    """[noise] (schema 2): the machine's slow-down quantiles by run length."""
    t = doc.get("noise")
    if t is None:
        return None
    if not isinstance(t, dict):
        raise CnnperfError("[noise] must be a table (window_s, levels, factors, ...)")
    windows = _float_list(t.get("window_s"), "noise", "window_s", lambda v: v > 0, "positive seconds")
    levels = _float_list(t.get("levels"), "noise", "levels", lambda v: v <= 1, "quantile levels in [0, 1]")
    rows = t.get("factors")
    if not isinstance(rows, list) or len(rows) != len(windows):
        raise CnnperfError(f"noise: 'factors' must hold one list per window ({len(windows)}), got {rows!r}")
    factors = tuple(_float_list(r, "noise", "factors", lambda v: v > 0, "positive factors") for r in rows)
    if any(len(r) != len(levels) for r in factors) or len(levels) < 2 or list(levels) != sorted(set(levels)) \
            or list(windows) != sorted(set(windows)):
        raise CnnperfError("noise: window_s and levels must increase and every factors row needs one value per level")
    probe = t.get("probe", "")
    if not isinstance(probe, str):
        raise CnnperfError(f"noise: 'probe' must be a string, got {probe!r}")
    numbers = {f.name: _number(t, f.name, int if f.type in (int, "int") else float, "noise", True)
               for f in fields(Noise) if f.name in ("region_drift", "probe_drift", "duration_s", "regions")}
    return Noise(windows, levels, factors, probe=probe, **numbers)


def _machine(doc: dict) -> dict:
    machine = doc.get("machine")
    if not isinstance(machine, dict):
        raise CnnperfError("missing table [machine] (clock_hz, cores, threads_per_core)")
    out = {}
    for f in fields(HardwareProfile):
        if f.metadata.get("toml") != "machine":
            continue
        if f.metadata["kind"] is str:
            value = machine.get(f.name, f.default)
            if value not in OVERSUBSCRIPTION:
                raise CnnperfError(f"machine: {f.name} must be one of {', '.join(OVERSUBSCRIPTION)}, got {value!r}")
            out[f.name] = value
        else:
            out[f.name] = _number(machine, f.name, f.metadata["kind"], "machine")
    return out


def _extra(doc: dict) -> dict:
    extra = {k: v for k, v in doc.items() if k not in TOP_KEYS}
    if "network" in extra:
        net = extra["network"]
        if not isinstance(net, dict):
            raise CnnperfError("[network] must be a table with alpha_s and beta_bytes_per_s")
        _number(net, "alpha_s", float, "network", allow_zero=True)
        _number(net, "beta_bytes_per_s", float, "network")
    return extra


def profile_from_dict(doc: dict) -> HardwareProfile:
    version = doc.get("schema_version")
    if version is None:
        raise CnnperfError(f"missing 'schema_version'; profiles start with schema_version = {SCHEMA_VERSION}")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise CnnperfError(f"unknown schema_version {version!r}; this cnnperf reads schema_version = "
                           f"{' or '.join(map(str, READABLE_VERSIONS))}")
    for key in ("name", "description", "source"):
        if not isinstance(doc.get(key, ""), str):
            raise CnnperfError(f"'{key}' must be a string, got {doc[key]!r}")
    nets = doc.get("networks", {})
    if not isinstance(nets, dict) or (not nets and "machine_model" not in doc):
        raise CnnperfError("missing [networks.NAME] tables; a profile needs at least one network or a "
                           "[machine_model]")
    networks = {name: _network(name, t) for name, t in nets.items()}
    model = machine_model.from_dict(doc["machine_model"], networks) if "machine_model" in doc else None
    return HardwareProfile(name=str(doc.get("name", "unnamed")), cpi=_cpi(doc), networks=networks,
                           description=doc.get("description", ""), source=doc.get("source", ""),
                           extra=_extra(doc), cpi_spread=_cpi_spread(doc), noise=_noise(doc), machine_model=model,
                           **_machine(doc))


def _network_to_dict(n: NetworkParams) -> dict:
    entry: dict = {}
    for f in fields(NetworkParams):
        how, value = f.metadata.get("toml"), getattr(n, f.name)
        if how in ("number", "str"):
            entry[f.name] = value
        elif how == "memory_contention":
            entry["memory_contention"] = {"threads": list(value.threads), "seconds": list(value.seconds),
                                          "status": list(value.status), **_spread_lists(value.spread)}
        elif how == "table" and value:
            entry[f.name] = dict(value)
        elif how == "uncertainty" and value:
            entry[f.name] = {k: asdict(s) for k, s in value.items()}
        elif how == "reference_runs" and value is not None:
            entry[f.name] = {"threads": list(value.threads), "seconds": list(value.seconds), "images": value.images,
                             "test_images": value.test_images, "epochs": value.epochs, **_spread_lists(value.spread)}
    return entry


def profile_to_dict(profile: HardwareProfile) -> dict:
    machine = {f.name: getattr(profile, f.name) for f in fields(HardwareProfile) if f.metadata.get("toml") == "machine"}
    doc = {"schema_version": SCHEMA_VERSION, "name": profile.name, "description": profile.description,
           "source": profile.source, "machine": machine,
           "cpi": {"threads_per_core": list(profile.cpi), "cycles_per_instruction": list(profile.cpi.values()),
                   **_spread_lists([profile.cpi_spread.get(t, Spread(c, c, c, c, 0)) for t, c in profile.cpi.items()]
                                   if profile.cpi_spread else [])},
           "networks": {name: _network_to_dict(n) for name, n in profile.networks.items()}}
    if profile.noise is not None:
        n = profile.noise
        doc["noise"] = {**asdict(n), "window_s": list(n.window_s), "levels": list(n.levels),
                        "factors": [list(r) for r in n.factors]}
    if profile.machine_model is not None:
        doc["machine_model"] = machine_model.to_dict(profile.machine_model)
    doc.update({k: v for k, v in profile.extra.items() if k not in TOP_KEYS})
    return doc


def profile_to_toml(profile: HardwareProfile) -> str:
    try:
        return tomli_w.dumps(profile_to_dict(profile))
    except TypeError as exc:  # a value TOML cannot hold (e.g. None) in an extra section
        raise CnnperfError(f"profile {profile.name} cannot be written as TOML ({exc})") from None


def save_profile(path, profile: HardwareProfile) -> Path:
    """Write atomically (temp file, then rename), after checking that the text reads back."""
    text = profile_to_toml(profile)
    profile_from_dict(tomllib.loads(text))
    return atomic_write_text(path, text)
