"""The validation's files: the sweep's resumable state (`runs.partial.json`) and the results
(`results.json`, `results-mpi.json`). The one owner of these formats: `validate --reuse` and
`export` read runs back through `load_runs`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path

from cnnperf.errors import CnnperfError
from cnnperf.fileio import ResumableState, atomic_write_json

RESULTS = "results.json"
RESULTS_MPI = "results-mpi.json"
SWEEP_STATE = "runs.partial.json"
MPI_STATE = "mpi-runs.partial.json"


def sweep_state(out_dir: Path, key: str, log, check=None) -> ResumableState:
    """`check(name, run)`: the stored run belongs to this sweep (else it starts over)."""
    return ResumableState(Path(out_dir) / SWEEP_STATE, key, log, check)


def mpi_state(out_dir: Path, key: str, log, check=None) -> ResumableState:
    return ResumableState(Path(out_dir) / MPI_STATE, key, log, check)


def write_results(path: Path, doc: dict) -> Path:
    return atomic_write_json(path, doc)


def _read(path: Path) -> dict:
    if path.is_dir():
        raise CnnperfError(f"{path} is a directory; give the results.json written by 'cnnperf validate'")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CnnperfError(f"{path} not found; run 'cnnperf validate --out DIR' first and use DIR") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CnnperfError(f"{path} is not a cnnperf validation result ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise CnnperfError(f"{path} is not a cnnperf validation result (no list 'runs')")
    return doc


_TYPES = {"int": (int,), "float": (int, float), "str": (str,)}
_AT_LEAST_ONE = ("p", "ranks", "sync_every")  # counts of threads, ranks, images: 0 is no run


def _typed(value, annotation: str) -> bool:
    """`value` fits a simple annotation ('int', 'float', 'str', 'int | None')."""
    options = [a.strip() for a in annotation.split("|")]
    if value is None:
        return "None" in options
    return not isinstance(value, bool) and any(isinstance(value, _TYPES.get(a, object)) for a in options)


def _bad_fields(r: dict, record) -> list[str]:
    """Fields of run `r` with the wrong type or an impossible value (negative, NaN, infinite, a count of 0)."""
    def ok(name, value, annotation) -> bool:
        if not _typed(value, annotation):
            return False
        if isinstance(value, str) or value is None:
            return True
        return math.isfinite(value) and value >= (1 if name in _AT_LEAST_ONE else 0)
    return [f.name for f in fields(record) if not ok(f.name, r[f.name], str(f.type))]


def valid_run(r, record) -> bool:
    """`r` (a dict from JSON) holds every field of `record` with a value of its type and range."""
    return isinstance(r, dict) and {f.name for f in fields(record)} <= set(r) and not _bad_fields(r, record)


def load_runs(path, record, keep=lambda r: True) -> list:
    """The runs stored in a results file as `record` dataclasses (one-line errors if absent or malformed)."""
    path = Path(path)
    names = {f.name for f in fields(record)}
    runs = []
    for k, r in enumerate(_read(path)["runs"]):
        if not isinstance(r, dict) or not names <= set(r):
            missing = sorted(names - set(r)) if isinstance(r, dict) else ["all"]
            raise CnnperfError(f"{path}: run {k} lacks {', '.join(missing)}; give a results file written by "
                               "'cnnperf validate'")
        bad = _bad_fields(r, record)
        if bad:
            raise CnnperfError(f"{path}: run {k} has values of the wrong type or range in {', '.join(bad)}; give a "
                               "results file written by 'cnnperf validate'")
        run = record(**{n: r[n] for n in names})
        if keep(run):
            runs.append(run)
    if not runs:
        raise CnnperfError(f"{path} holds no runs for these networks and thread counts")
    return runs


def stored_config(path) -> dict:
    """The run parameters (epochs, images, ...) stored with the results."""
    config = _read(Path(path)).get("config", {})
    return config if isinstance(config, dict) else {}


def runs_json(runs) -> list[dict]:
    return [asdict(r) for r in runs]


MPI_RUN_KEYS = ("seconds", "comm_s", "test_error")


def write_mpi_run(path, record: dict) -> Path:
    """One distributed run measured by `validation.mpi_worker` (rank 0): seconds, comm_s, test_error."""
    return atomic_write_json(path, {"format": "cnnperf-mpi-run", "version": 1,
                                    **{k: float(record[k]) for k in MPI_RUN_KEYS}})


def read_mpi_run(path) -> dict:
    """The record `write_mpi_run` wrote (one-line error if it is missing or malformed)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != "cnnperf-mpi-run":
            raise ValueError("not an MPI run record")
        return {k: float(doc[k]) for k in MPI_RUN_KEYS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CnnperfError(f"the distributed run wrote no readable result ({exc})") from None
