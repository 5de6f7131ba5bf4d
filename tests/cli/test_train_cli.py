"""`cnnperf train` end-to-end on tiny IDX files: JSON contract, threads, bad input, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cnnperf.cli import main
from cnnperf.parallel.checkpoint import load_checkpoint


def cli(*argv, env=None, timeout=300):
    full = {k: v for k, v in os.environ.items() if k != "CNNPERF_DATA"}  # no fallback to the real data
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], capture_output=True, text=True, timeout=timeout,
                          env={**full, **(env or {})})


def test_train_writes_the_documented_json(tiny_mnist, tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["train", "--net", "small", "--data", str(tiny_mnist), "--epochs", "2", "--threads", "3",
                 "--json", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "epoch" in text and "test" in text and "wrote" in text
    doc = json.loads(out.read_text())
    assert doc["net"] == "small" and doc["threads"] == 3 and doc["prep_seconds"] >= 0
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    for e in doc["epochs"]:
        for phase, n in (("train", 200), ("validation", 200), ("test", 100)):
            assert e[phase]["images"] == n
            assert e[phase]["seconds"] > 0
            assert 0 <= e[phase]["error_rate"] <= 1
            assert len(e[phase]["worker_seconds"]) == 3
            assert e[phase]["slowest_worker_seconds"] >= e[phase]["fastest_worker_seconds"]
    assert doc["epochs"][1]["lr"] == pytest.approx(0.001 * 0.993)


def test_subsets_and_learning_on_tiny_data(tiny_mnist, tmp_path):
    out = tmp_path / "r.json"
    assert main(["train", "--data", str(tiny_mnist), "--train-images", "150", "--test-images", "40", "--epochs", "3",
                 "--lr", "0.05", "--threads", "1", "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["epochs"][0]["train"]["images"] == 150 and doc["epochs"][0]["test"]["images"] == 40
    assert doc["epochs"][-1]["validation"]["error_rate"] < 0.5  # the bars are learnable


@pytest.mark.parametrize("argv,needle", [
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "two"], "--epochs"),
    (["--lr", "-1"], "--lr"),
    (["--threads", "0"], "--threads"),
    (["--net", "29x29-20C30-10N"], "larger than"),
    (["--net", "29x29-20X4-10N"], "layer"),
    (["--net", "29x29-20C4-MP3-10N"], "does not divide"),
    (["--net", "29x29-20C4-MP2"], "output"),
    (["--train-images", "500"], "500"),
])
def test_bad_input_one_line_exit_2(tiny_mnist, argv, needle):
    r = cli("train", "--data", str(tiny_mnist), "--quiet", *argv)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_unwritable_json_fails_before_training(tiny_mnist, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "r.json"
    r = cli("train", "--data", str(tiny_mnist), "--quiet", "--json", str(target))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "r.json" in r.stderr and not target.exists() and "epoch" not in r.stdout


def test_missing_data_names_the_files_and_both_ways(tmp_path):
    r = cli("train", "--data", str(tmp_path / "empty"), "--quiet",
            env={"CNNPERF_MNIST_MIRRORS": "http://127.0.0.1:9/", "CNNPERF_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "train-images-idx3-ubyte" in line and "t10k-labels-idx1-ubyte" in line
    assert "--data" in line and "CNNPERF_DATA" in line


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, make_mnist):
    data = make_mnist(tmp_path / "mnist", n_train=1500, n_test=500)
    common = ["--data", str(data), "--threads", "1", "--seed", "4", "--lr", "0.01", "--quiet"]
    epochs = "25"
    whole = tmp_path / "whole.npz"
    assert cli("train", *common, "--epochs", epochs, "--checkpoint", str(whole)).returncode == 0

    ck = tmp_path / "ck.npz"
    proc = subprocess.Popen([sys.executable, "-m", "cnnperf", "train", *common, "--epochs", epochs,
                             "--checkpoint", str(ck)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if ck.exists() and load_checkpoint(ck).epochs_done >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(ck).epochs_done
    assert 2 <= killed_at < int(epochs), "the run finished before it could be killed"

    r = cli("train", *common, "--epochs", epochs, "--checkpoint", str(ck), "--resume", str(ck))
    assert r.returncode == 0, r.stderr
    a, b = load_checkpoint(whole), load_checkpoint(ck)
    assert b.epochs_done == a.epochs_done == int(epochs)
    assert np.array_equal(a.weights, b.weights)
    assert [e["epoch"] for e in b.run["epochs"]] == list(range(1, int(epochs) + 1))
    assert b.run["epochs"][-1]["lr"] == a.run["epochs"][-1]["lr"]
