"""Checkpoints: the shared weights plus what is needed to resume a run exactly.

Stored as an uncompressed `.npz` (weights as float32, metadata as a JSON string), written
atomically, so an interrupted write never leaves a broken checkpoint behind.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_bytes

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


def load_checkpoint(path: str | Path) -> Checkpoint:
    p = Path(path)
    if not p.is_file():
        raise CnnperfError(f"checkpoint {p} not found; give the path written by --checkpoint")
    try:
        with np.load(p, allow_pickle=False) as z:
            weights = np.array(z["weights"])
            meta = json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CnnperfError(f"{p} is not a readable cnnperf checkpoint ({exc}); give a file written by --checkpoint") from None
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise CnnperfError(f"{p} is not a cnnperf checkpoint of version {FORMAT_VERSION}")
    if weights.dtype != np.float32 or weights.ndim != 1:
        raise CnnperfError(f"{p}: weights must be a 1-D float32 array, got {weights.dtype} {weights.shape}")
    return Checkpoint(meta["notation"], meta["activation"], int(meta["epochs_done"]), weights, meta["run"])
