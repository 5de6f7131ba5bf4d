"""Distributed validation: `mpiexec -n R cnnperf train` for every (network, R, K) on this
machine (ranks as local processes), predicted with the communication model, and the test
error against the synchronisation period K."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.fileio import atomic_write_json


@dataclass(frozen=True)
class MpiRun:
    net: str
    ranks: int
    sync_every: int | None  # None: once per epoch
    repeat: int
    seconds: float  # TPrep + all phases (slowest rank per phase)
    comm_s: float
    test_error: float


def find_mpiexec() -> str:
    """mpiexec next to this Python (the cnnperf[mpi] extra installs it there), else on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    exe = shutil.which("mpiexec", path=path)
    if exe is None:
        raise CnnperfError("mpiexec not found; install the MPI extra: pip install 'cnnperf[mpi]'")
    return exe


def mpi_env() -> dict:
    """Environment for our own mpiexec children (Open MPI refuses root unless told)."""
    return {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def mpiexec_train(ranks: int, args: list[str], timeout: float = 3600) -> dict:
    """Run `mpiexec -n ranks cnnperf train ARGS --json tmp` and return its JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [find_mpiexec(), "-n", str(ranks), "--oversubscribe", "--bind-to", "none", sys.executable, "-m", "cnnperf", "train",
               *args, "--quiet", "--json", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mpi_env())
        if r.returncode != 0 or not out.is_file():
            ours = [line for line in r.stderr.splitlines() if line.startswith("cnnperf")]
            raise CnnperfError(f"mpiexec -n {ranks} cnnperf train failed (exit {r.returncode}): "
                               + (ours[0] if ours else r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "no output"))
        return json.loads(out.read_text())


def run_mpi_sweep(nets, ranks, syncs, *, threads: int, epochs: int, images: int, test_images: int, repeat: int,
                  data: str | None, out_dir: Path, log=print, tick=None) -> list[MpiRun]:
    state = out_dir / "mpi-runs.partial.json"
    key = json.dumps([list(nets), list(ranks), [s or 0 for s in syncs], threads, epochs, images, test_images, repeat])
    runs: list[MpiRun] = []
    if state.is_file():
        old = json.loads(state.read_text())
        if old.get("key") == key:
            runs = [MpiRun(**r) for r in old["runs"]]
            log(f"resuming: {len(runs)} finished MPI run(s)")
    done = {(r.net, r.ranks, r.sync_every, r.repeat) for r in runs}
    todo = [(k, n, r, s) for k in range(repeat) for n in nets for r in ranks for s in syncs if (n, r, s, k) not in done]
    for j, (k, net, r, s) in enumerate(todo, start=1):
        if tick:
            tick(f"MPI run {len(done) + j}/{len(done) + len(todo)}: {net}, R = {r}, K = {s or 'epoch'}")
        args = ["--net", net, "--threads", str(threads), "--epochs", str(epochs), "--train-images", str(images),
                "--test-images", str(test_images)] + (["--sync-every", str(s)] if s else []) + \
               (["--data", data] if data else [])
        doc = mpiexec_train(r, args)
        ep = doc["epochs"]
        total = doc["prep_seconds"] + sum(e["seconds"] for e in ep)
        runs.append(MpiRun(net, r, s, k, total, sum(e["train"].get("comm_seconds", 0.0) for e in ep),
                           ep[-1]["test"]["error_rate"]))
        atomic_write_json(state, {"key": key, "runs": [asdict(x) for x in runs]})
    return runs


def mpi_medians(runs: list[MpiRun]) -> dict:
    out = {}
    for key in sorted({(r.net, r.ranks, r.sync_every or 0) for r in runs}):
        sel = [r for r in runs if (r.net, r.ranks, r.sync_every or 0) == key]
        out[key] = {"seconds": float(np.median([r.seconds for r in sel])),
                    "comm_s": float(np.median([r.comm_s for r in sel])),
                    "test_error": float(np.median([r.test_error for r in sel])), "repeats": len(sel)}
    return out


def predict_mpi(profile, net: str, ranks: int, sync_every, threads: int, images: int, test_images: int,
                epochs: int) -> dict[str, float]:
    """Strategies (a) and (b) plus the comm term, all ranks on this one node."""
    from cnnperf.models import STRATEGIES
    from cnnperf.models.comm import predict_distributed
    from cnnperf.networks import resolve_network

    params = profile.network(net)
    n_weights = resolve_network(params.notation or net).n_weights
    out = {}
    for s in ("a", "b"):
        pred = predict_distributed(STRATEGIES[s], params, profile, threads, ranks, images, test_images, epochs,
                                   n_weights=n_weights, sync_every=sync_every, ranks_per_node=ranks)
        out[s] = float(np.ravel(pred.seconds)[0])
    return out
