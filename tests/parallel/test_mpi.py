"""Distributed CHAOS over MPI: a real `mpiexec -n 2` job on tiny data; mismatched options and a
failing rank end the job with a one-line error (no hang); the comm model against hand values."""

import json
import subprocess
import sys

import pytest

from cnnperf.hardware import load_profile
from cnnperf.models import STRATEGIES
from cnnperf.models.comm import allreduce_seconds, predict_distributed, syncs_per_epoch


def _mpiexec_or_skip():
    from cnnperf.errors import CnnperfError
    from cnnperf.validation.mpi_sweep import find_mpiexec, mpi_env
    try:
        exe = find_mpiexec()
    except CnnperfError as exc:
        pytest.skip(f"mpiexec cannot start: {exc}")
    probe = subprocess.run([exe, "-n", "1", sys.executable, "-c", "import mpi4py.MPI"], check=False,
                           capture_output=True, text=True, timeout=120, env=mpi_env())
    if probe.returncode != 0:
        pytest.skip(f"mpiexec cannot start here: {probe.stderr.strip().splitlines()[-1:]} (install cnnperf[mpi])")
    return exe, mpi_env()


def mpirun(n_or_args, *argv, timeout=300):
    exe, env = _mpiexec_or_skip()
    head = [exe, "-n", str(n_or_args), "--bind-to", "none"] if isinstance(n_or_args, int) else [exe, *n_or_args]
    return subprocess.run([*head, *argv], check=False, capture_output=True, text=True, timeout=timeout, env=env)


PY = [sys.executable, "-m", "cnnperf", "train"]


def test_two_ranks_train_one_model(tiny_mnist, tmp_path):
    out = tmp_path / "r.json"
    ck = tmp_path / "ck.npz"
    r = mpirun(2, *PY, "--data", str(tiny_mnist), "--epochs", "2", "--threads", "1", "--sync-every", "30",
               "--json", str(out), "--checkpoint", str(ck), "--quiet", "--lr", "0.05")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["ranks"] == 2 and doc["sync_every"] == 30
    e = doc["epochs"][0]
    assert e["train"]["images"] == 200 and e["validation"]["images"] == 200 and e["test"]["images"] == 100
    assert e["train"]["comm_seconds"] > 0 and "comm_seconds" in e["test"]
    assert r.stdout.count("2 MPI ranks") == 1  # only rank 0 prints
    assert e["lr"] == pytest.approx(2 * 0.05)  # linear scaling: R x --lr
    assert doc["epochs"][-1]["validation"]["error_rate"] < 0.6  # the averaged model learns the bars


def test_single_process_without_mpiexec_is_unchanged(tiny_mnist, tmp_path):
    out = tmp_path / "s.json"
    r = subprocess.run([*PY, "--data", str(tiny_mnist), "--threads", "1", "--json", str(out), "--quiet"], check=False,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and json.loads(out.read_text())["ranks"] == 1
    assert "mpi4py" not in r.stderr


def test_ranks_with_different_networks_are_refused(tiny_mnist):
    common = ["--data", str(tiny_mnist), "--quiet"]
    r = mpirun(["-n", "1", "--bind-to", "none"], *PY, "--net", "small", *common, ":", "-n", "1", *PY, "--net", "medium",
               *common, timeout=120)
    assert r.returncode != 0
    ours = [line for line in r.stderr.splitlines() if line.startswith("cnnperf train: error")]
    assert len(ours) == 1 and "ranks disagree" in ours[0] and "rank 1" in ours[0]


def test_failing_rank_brings_the_job_down(tiny_mnist, tmp_path):
    bad = ["-x", "CNNPERF_MNIST_MIRRORS=http://127.0.0.1:9/", "-x", f"CNNPERF_CACHE_DIR={tmp_path / 'cache'}",
           "-x", "CNNPERF_DATA="]  # no fallback to real data
    r = mpirun(["-n", "1", "--bind-to", "none"], *PY, "--data", str(tiny_mnist), "--quiet", ":", "-n", "1", *bad,
               *PY, "--data", str(tmp_path / "missing"), "--quiet", timeout=120)
    assert r.returncode != 0
    ours = [line for line in r.stderr.splitlines() if line.startswith("cnnperf train: error")]
    assert len(ours) == 1 and "rank 1 of 2" in ours[0] and "MNIST not found" in ours[0]


def test_divergence_is_decided_by_all_ranks(tiny_mnist):
    r = mpirun(2, *PY, "--data", str(tiny_mnist), "--threads", "1", "--lr", "50", "--epochs", "5", "--quiet",
               "--sync-every", "50")
    assert r.returncode == 3, r.stderr
    ours = [line for line in r.stderr.splitlines() if line.startswith("cnnperf train: error")]
    assert len(ours) == 1 and "diverged" in ours[0] and "rule:" in ours[0] and "Traceback" not in r.stderr


def test_comm_model_hand_values():
    # ring allreduce: 2(R-1) alpha + 2(R-1)/R * B / beta
    assert allreduce_seconds(1, 1e6, 1e-6, 1e9) == 0
    assert allreduce_seconds(2, 1e6, 1e-6, 1e9) == pytest.approx(2e-6 + 1e-3)
    assert allreduce_seconds(4, 4e6, 2e-6, 1e9) == pytest.approx(6 * 2e-6 + 1.5 * 4e-3)
    assert list(syncs_per_epoch(60000, [1, 2, 4], None)) == [1, 1, 1]
    assert list(syncs_per_epoch(60000, [1, 2, 4], 1000)) == [60, 30, 15]
    assert syncs_per_epoch(10, 4, 1) == 3  # ceil(10/4) images per rank, one sync after each


def test_distributed_prediction_adds_comm_and_splits_images():
    profile = load_profile("phi-cluster-fdr")
    net = profile.network("medium")
    one = STRATEGIES["b"].predict(net, profile, 240, 30000, 5000, 70)
    two = predict_distributed(STRATEGIES["b"], net, profile, 240, 2, 60000, 10000, 70, n_weights=76040,
                              sync_every=1000)
    comm = 70 * 30 * (2 * 1e-6 + 2 * 0.5 * 4 * 76040 / 6.8e9)
    assert two.terms["comm"] == pytest.approx(comm)
    assert float(two.seconds) == pytest.approx(float(one.seconds) + comm)
    # 4 ranks x 1 thread on one node: computes like 4 threads, but each rank has its own weights,
    # so the contention is that of 1 thread per weight store: MC(1) * i * ep / 4
    local = predict_distributed(STRATEGIES["b"], net, profile, 1, 4, 60000, 10000, 1, n_weights=76040,
                                ranks_per_node=4)
    threads = STRATEGIES["b"].predict(net, profile, 4, 60000, 10000, 1)
    for term in ("prep", "train", "validate", "test"):
        assert float(local.terms[term]) == pytest.approx(float(threads.terms[term]))
    assert float(local.terms["mem"]) == pytest.approx(1.56e-4 * 60000 / 4)
