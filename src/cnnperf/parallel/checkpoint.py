"""Checkpoints: the shared weights plus what is needed to resume a run exactly.

Stored as an uncompressed `.npz` (weights as float32, metadata as a JSON string), written
atomically, so an interrupted write never leaves a broken checkpoint behind.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_bytes
from cnnperf.parallel.results import EpochResult

FORMAT = "cnnperf-checkpoint"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """State after `epochs_done` complete epochs. `run` holds the config and finished epochs (JSON)."""

    notation: str
    activation: str
    epochs_done: int
    weights: np.ndarray
    run: dict


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> Path:
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "notation": ckpt.notation,
            "activation": ckpt.activation, "epochs_done": ckpt.epochs_done, "run": ckpt.run}
    buf = io.BytesIO()
    np.savez(buf, weights=np.ascontiguousarray(ckpt.weights), meta=np.array(json.dumps(meta)))
    return atomic_write_bytes(path, buf.getvalue())


FIX = "give a file written by --checkpoint, or start over without --resume"


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint (structure, types, epoch records, weights) before any use;
    any defect is a one-line CnnperfError naming the file, the defect and the fix."""
    p = Path(path)
    if not p.is_file():
        raise CnnperfError(f"checkpoint {p} not found; give the path written by --checkpoint")
    if p.stat().st_size == 0:
        raise CnnperfError(f"checkpoint {p} is empty (0 bytes); {FIX}")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = {"weights", "meta"} - set(z.files)
            if missing:
                raise CnnperfError(f"checkpoint {p} lacks {', '.join(sorted(missing))}; {FIX}")
            weights = np.array(z["weights"])
            meta = json.loads(str(z["meta"]))
    except CnnperfError:
        raise
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
        raise CnnperfError(f"{p} is not a readable cnnperf checkpoint ({_one_line(exc)}); {FIX}") from None
    problem = _meta_problem(meta) or _weights_problem(weights)
    if problem:
        raise CnnperfError(f"checkpoint {p} is not usable: {problem}; {FIX}")
    return Checkpoint(meta["notation"], meta["activation"], meta["epochs_done"], weights, meta["run"])


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _is_int(v, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


CONFIG_RULES = {  # run.config key -> (check, what it must be)
    "lr": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "lr_decay": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "seed": (lambda v: _is_int(v, 0), "an integer >= 0"),
    "shuffle": (lambda v: isinstance(v, bool), "true or false"),
    "threads": (lambda v: _is_int(v, 1), "a positive integer"),
}


def _meta_problem(meta) -> str | None:
    """The first defect of the metadata, or None."""
    if not isinstance(meta, dict):
        return f"its metadata is a {type(meta).__name__}, not an object"
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        return (f"it is not a {FORMAT} of version {FORMAT_VERSION} (format {meta.get('format')!r}, "
                f"version {meta.get('version')!r})")
    for key, ok, what in (("notation", lambda v: isinstance(v, str) and v, "a network notation"),
                          ("activation", lambda v: isinstance(v, str) and v, "an activation name"),
                          ("epochs_done", lambda v: _is_int(v, 0), "an integer >= 0"),
                          ("run", lambda v: isinstance(v, dict), "an object")):
        if key not in meta:
            return f"its metadata lacks {key!r}"
        if not ok(meta[key]):
            return f"metadata {key!r} must be {what}, got {meta[key]!r:.40}"
    run = meta["run"]
    config, epochs = run.get("config"), run.get("epochs")
    if not isinstance(config, dict):
        return "metadata 'run' lacks the 'config' object"
    for key, (ok, what) in CONFIG_RULES.items():
        if key not in config or not ok(config[key]):
            return f"run config {key!r} must be {what}, got {config.get(key, 'nothing')!r:.40}"
    if not isinstance(epochs, list) or len(epochs) != meta["epochs_done"]:
        got = f"{len(epochs)} records" if isinstance(epochs, list) else repr(epochs)[:40]
        return f"'run' must hold one record per finished epoch ({meta['epochs_done']}), got {got}"
    for k, doc in enumerate(epochs, start=1):
        try:
            e = EpochResult.from_json(doc)
            ok = e.epoch == k and all(_is_int(getattr(e, ph).images, 0) for ph in ("train", "validation", "test"))
        except (KeyError, TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            return f"the record of epoch {k} is malformed"
    return None


def _weights_problem(weights: np.ndarray) -> str | None:
    if weights.dtype != np.float32 or weights.ndim != 1:
        return f"weights must be a 1-D float32 array, got {weights.dtype} {weights.shape}"
    if not np.isfinite(weights).all():
        return "its weights hold NaN or infinite values"
    return None
