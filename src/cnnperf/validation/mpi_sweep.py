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
from cnnperf.validation import store


@dataclass(frozen=True)
class MpiRun:
    net: str
    ranks: int
    sync_every: int | None  # None: once per epoch
    repeat: int
    seconds: float  # TPrep + all phases (slowest rank per phase)
    comm_s: float
    test_error: float


@dataclass(frozen=True)
class MpiValidation:
    """A distributed validation: per (network, R, K, strategy) measured and predicted seconds."""

    rows: tuple[dict, ...]  # net, ranks, sync_every, strategy, measured_s, predicted_s, delta, error, comm_s, ...
    runs: tuple[MpiRun, ...]
    profile: str
    threads: int
    config: dict  # epochs, images, test_images, repeat
    files: tuple[str, ...] = ()


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


def mpiexec_run(ranks: int, request: dict, timeout: float = 3600) -> dict:
    """One distributed run: `mpiexec -n ranks python -m cnnperf.validation.mpi_worker`; its record."""
    with tempfile.TemporaryDirectory() as tmp:
        req, out = Path(tmp) / "request.json", Path(tmp) / "run.json"
        req.write_text(json.dumps(request), encoding="utf-8")
        cmd = [find_mpiexec(), "-n", str(ranks), "--oversubscribe", "--bind-to", "none", sys.executable, "-m",
               "cnnperf.validation.mpi_worker", str(req), str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=mpi_env())
        if r.returncode != 0 or not out.is_file():
            ours = [line for line in r.stderr.splitlines() if line.startswith("cnnperf")]
            last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "no output"
            raise CnnperfError(f"mpiexec -n {ranks} (distributed training) failed (exit {r.returncode}): "
                               + (ours[0] if ours else last))
        return store.read_mpi_run(out)


def run_mpi_sweep(nets, ranks, syncs, *, threads: int, epochs: int, images: int, test_images: int, repeat: int,
                  data: str | None, out_dir: Path, log=print, tick=None) -> list[MpiRun]:
    key = json.dumps([list(nets), list(ranks), [s or 0 for s in syncs], threads, epochs, images, test_images, repeat])
    def ours(name: str, r) -> bool:  # a run of this sweep, as stored below
        return store.valid_run(r, MpiRun) and r["net"] in nets and r["ranks"] in ranks and r["sync_every"] in syncs \
            and r["repeat"] < repeat

    state = store.mpi_state(out_dir, key, log, ours)
    runs = [MpiRun(**r) for r in state.steps.values()]
    done = {(r.net, r.ranks, r.sync_every, r.repeat) for r in runs}
    todo = [(k, n, r, s) for k in range(repeat) for n in nets for r in ranks for s in syncs if (n, r, s, k) not in done]
    for j, (k, net, r, s) in enumerate(todo, start=1):
        if tick:
            tick(f"MPI run {len(done) + j}/{len(done) + len(todo)}: {net}, R = {r}, K = {s or 'epoch'}")
        request = {"net": net, "threads": threads, "epochs": epochs, "images": images, "test_images": test_images,
                   "sync_every": s, "data": data}
        rec = mpiexec_run(r, request)
        run = MpiRun(net, r, s, k, rec["seconds"], rec["comm_s"], rec["test_error"])
        runs.append(run)
        state.put(f"{net}/{r}/{s or 0}/{k}", asdict(run))
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
    """Every strategy with separable terms plus the comm term, all ranks on this one node."""
    from cnnperf.models import distributable
    from cnnperf.models.comm import predict_distributed
    from cnnperf.networks import resolve_network

    spec = resolve_network(net)
    params = profile.params_for(spec)
    n_weights = spec.n_weights
    out = {}
    for s in distributable(params, profile):
        pred = predict_distributed(s, params, profile, threads, ranks, images, test_images, epochs,
                                   n_weights=n_weights, sync_every=sync_every, ranks_per_node=ranks)
        out[s.NAME] = float(np.ravel(pred.seconds)[0])
    return out


def mpi_rows(measured: dict, predict) -> list[dict]:
    """Measured medians beside every strategy's prediction `predict(net, R, K) -> {strategy: s}`."""
    rows = []
    for (net, r, k), m in measured.items():
        for s, p in predict(net, r, k).items():
            ms = m["seconds"]
            rows.append({"net": net, "ranks": r, "sync_every": k or "epoch", "strategy": s, "measured_s": ms,
                         "predicted_s": p, "delta": abs(ms - p) / p, "error": (p - ms) / ms,
                         "comm_s": m["comm_s"], "test_error": m["test_error"]})
    return rows


def validate_ranks(profile, nets, ranks, syncs, *, threads: int, epochs: int, images: int, test_images: int,
                   repeat: int, data: str | None, out_dir: Path, reuse: Path | None, log=print, tick=None
                   ) -> MpiValidation:
    """The sweep over (network, R, K) (or the runs stored under `reuse`), predicted per strategy."""
    from cnnperf.fileio import new_output_dir, output_dir
    from cnnperf.models.comm import interconnect
    from cnnperf.networks import resolve_network

    if not ranks or min(ranks) < 1:
        raise CnnperfError("--ranks needs positive rank counts, e.g. 1,2,4")
    for n in nets:
        profile.params_for(resolve_network(n))
    interconnect(profile)
    find_mpiexec()
    if reuse is not None:
        runs = store.load_runs(Path(reuse) / store.RESULTS_MPI, MpiRun,
                               lambda r: r.net in nets and r.ranks in ranks and r.sync_every in syncs)
        output_dir(out_dir, store.RESULTS_MPI)
    else:
        with new_output_dir(out_dir, store.RESULTS_MPI) as out:
            runs = run_mpi_sweep(nets, ranks, syncs, threads=threads, epochs=epochs, images=images,
                                 test_images=test_images, repeat=repeat, data=data, out_dir=out, log=log, tick=tick)
    rows = mpi_rows(mpi_medians(runs), lambda net, r, k: predict_mpi(profile, net, r, k or None, threads, images,
                                                                      test_images, epochs))
    config = {"epochs": epochs, "images": images, "test_images": test_images, "repeat": repeat}
    return MpiValidation(tuple(rows), tuple(runs), profile.name, threads, config)
