"""calibrate -> validate -> export end-to-end on tiny settings (files, plots, tables consistent), bad input."""

import csv
import json
import subprocess
import sys

import pytest

from cnnperf.cli import main

pytestmark = pytest.mark.xdist_group("test_validate_cli")  # one worker: its module-scoped fixtures run once


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("v")
    prof = d / "m.toml"
    assert main(["calibrate", "--out", str(prof), "--nets", "small", "--threads", "1,2", "--quick", "--quiet"]) == 0
    return d, prof


def _tiny(tmp_path, make_mnist):
    return make_mnist(tmp_path / "mnist", 300, 100)


def test_validate_writes_consistent_outputs(calibrated, tmp_path, make_mnist, capsys):
    d, prof = calibrated
    data = _tiny(tmp_path, make_mnist)
    out = tmp_path / "val"
    code = main(["validate", "--profile", str(prof), "--nets", "small", "--threads", "1,2,3", "--images", "200",
                 "--test-images", "50", "--repeat", "2", "--out", str(out), "--data", str(data), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Delta" in text and "(c) empirical" in text
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["runs"]) == 3 * 2
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == len(doc["rows"]) == 3 * 3  # 3 p x strategies a, b, c
    for r, j in zip(rows, doc["rows"]):
        assert r["strategy"] == j["strategy"] and float(r["measured_s"]) == pytest.approx(j["measured_s"], rel=1e-5)
        m, p = j["measured_s"], j["predicted_s"]
        assert j["delta"] == pytest.approx(abs(m - p) / p) and j["error"] == pytest.approx((p - m) / m)
    png = (out / "small.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    md = (out / "report.md").read_text()
    assert "![small" in md and "| (b) measured times | small |" in md
    assert (out / "profile-with-empirical.toml").is_file() and not (out / "runs.partial.json").exists()
    # strategy (c) from the written profile is usable by predict
    assert main(["predict", "--profile", str(out / "profile-with-empirical.toml"), "--net", "small", "--strategy", "c",
                 "--threads", "1,2,4", "--images", "200", "--test-images", "50", "--epochs", "1"]) == 0
    assert "fitted: y(p)" in capsys.readouterr().out
    # the same runs analysed again (no training): fit on p = 1,2, errors on p = 3
    again = tmp_path / "again"
    assert main(["validate", "--profile", str(prof), "--nets", "small", "--fit-threads", "1,2", "--test-threads", "3",
                 "--reuse", str(out), "--out", str(again), "--quiet"]) == 0
    redo = json.loads((again / "results.json").read_text())
    assert redo["runs"] == doc["runs"] and redo["config"]["images"] == 200
    assert {r["split"] for r in redo["rows"]} == {"fit", "test"}
    # export for Extra-P
    x = tmp_path / "extrap.txt"
    assert main(["export", "--results", str(out / "results.json"), "--extrap", str(x)]) == 0
    lines = x.read_text().splitlines()
    assert "PARAMETER p" in lines and "POINTS ( 1 ) ( 2 ) ( 3 )" in lines and "REGION small" in lines
    assert sum(1 for line in lines if line.startswith("DATA")) == 4 * 3
    assert all(len(line.split()) == 3 for line in lines if line.startswith("DATA"))  # 2 repeats each


def test_fit_and_test_threads(calibrated, tmp_path, make_mnist, capsys):
    d, prof = calibrated
    data = _tiny(tmp_path, make_mnist)
    out = tmp_path / "ext"
    assert main(["validate", "--profile", str(prof), "--nets", "small", "--fit-threads", "1,2", "--test-threads", "4",
                 "--images", "200", "--test-images", "50", "--repeat", "1", "--out", str(out), "--data", str(data),
                 "--quiet"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["fit_threads"] == [1, 2]
    assert {r["split"] for r in doc["rows"]} == {"fit", "test"}
    assert all(s["n"] == 1 for s in doc["summaries"])  # errors reported on p = 4 only
    assert "fitted on p = 1,2" in capsys.readouterr().out


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], capture_output=True, text=True, timeout=300)


def test_bad_input(calibrated, tmp_path):
    d, prof = calibrated
    for argv, needle in [
        (["validate", "--profile", str(prof), "--nets", "medium"], "has no network 'medium'"),
        (["validate", "--profile", str(prof), "--nets", "small", "--threads", ""], "--threads"),
        (["validate", "--profile", str(prof), "--nets", "small", "--out", "/proc/no/such"], "cannot"),
        (["validate", "--profile", str(prof), "--nets", "small", "--fit-threads", "1"], "together"),
        (["calibrate", "--out", "/no/such/dir/p.toml"], "p.toml"),
        (["export", "--results", str(tmp_path / "nope.json"), "--extrap", str(tmp_path / "x.txt")], "not found"),
    ]:
        r = run_cli(*argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)


def test_profile_for_another_machine_warns_and_continues(calibrated, tmp_path, make_mnist):
    d, prof = calibrated
    other = tmp_path / "other.toml"
    other.write_text(prof.read_text().replace("\ncores = ", "\ncores = 6", 1))  # 2 cores -> 62 cores
    data = _tiny(tmp_path, make_mnist)
    r = run_cli("validate", "--profile", str(other), "--nets", "small", "--threads", "1", "--images", "100",
                "--test-images", "20", "--repeat", "1", "--out", str(tmp_path / "o"), "--data", str(data), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "warning: profile" in r.stderr and "predictions describe the other machine" in r.stderr


def test_validate_ranks_tiny(calibrated, tmp_path, make_mnist, capsys):
    from cnnperf.errors import CnnperfError
    from cnnperf.validation.mpi_sweep import find_mpiexec
    try:
        find_mpiexec()
    except CnnperfError as exc:
        pytest.skip(f"mpiexec cannot start: {exc}")
    d, prof = calibrated
    with_net = tmp_path / "net.toml"
    with_net.write_text(prof.read_text() + "\n[network]\nalpha_s = 1e-6\nbeta_bytes_per_s = 5e9\nsource = \"test\"\n")
    data = _tiny(tmp_path, make_mnist)
    out = tmp_path / "mv"
    assert main(["validate", "--profile", str(with_net), "--nets", "small", "--ranks", "1,2",
                 "--sync-every", "50,epoch",
                 "--images", "200", "--test-images", "50", "--repeat", "1", "--out", str(out), "--data", str(data),
                 "--quiet"]) == 0
    doc = json.loads((out / "results-mpi.json").read_text())
    assert {(r["ranks"], r["sync_every"]) for r in doc["rows"]} == {(1, 50), (1, "epoch"), (2, 50), (2, "epoch")}
    assert len(doc["runs"]) == 4 and (out / "mpi-small.png").read_bytes()[:4] == b"\x89PNG"
    assert "test error" in capsys.readouterr().out
    r = run_cli("validate", "--profile", str(prof), "--nets", "small", "--ranks", "2")
    assert r.returncode == 2 and "no [network] section" in r.stderr


def test_too_few_thread_counts_still_write_the_profile_and_say_why(calibrated, tmp_path, make_mnist, capsys):
    """validate --threads 1,2 cannot fit strategy (c); the profile is still written (the README's
    next command works) and predict says why (c) is missing. Every row carries its interval."""
    d, prof = calibrated
    data = _tiny(tmp_path, make_mnist)
    out = tmp_path / "two"
    assert main(["validate", "--profile", str(prof), "--nets", "small", "--threads", "1,2", "--images", "100",
                 "--test-images", "20", "--repeat", "2", "--out", str(out), "--data", str(data), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "not fitted for small" in text and "coverage" in text
    doc = json.loads((out / "results.json").read_text())
    assert doc["interval_level"] == 0.9 and {r["strategy"] for r in doc["rows"]} == {"a", "b"}
    assert all(r["predicted_low"] < r["predicted_high"] and isinstance(r["inside"], bool) for r in doc["rows"])
    assert all(s["coverage"] is not None for s in doc["summaries"])
    assert {(r["p"], r["repeat"]) for r in doc["runs"]} == {(1, 0), (1, 1), (2, 0), (2, 1)}  # each repeat stored
    written = out / "profile-with-empirical.toml"
    assert written.is_file()
    r = run_cli("predict", "--profile", str(written), "--net", "small", "--strategy", "c", "--threads", "1,2")
    assert r.returncode == 2 and "strategy (c) was not fitted for small" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert main(["predict", "--profile", str(written), "--net", "small", "--threads", "1,2"]) == 0
