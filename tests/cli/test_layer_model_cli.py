"""The layer model through the CLI: any network on the Xeon Phi, --by-layer, refusals that say
what to run, nets random, validate --holdout-nets with a small machine model."""

import dataclasses
import json
import subprocess
import sys

import pytest

from cnnperf.cli import main

pytestmark = pytest.mark.xdist_group("test_layer_model_cli")  # one worker: its module-scoped fixtures run once

NET = "29x29-10C4-MP2-20C4-MP2-100N-10N"  # in no profile


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], capture_output=True, text=True, timeout=300)


def test_any_network_on_the_xeon_phi_with_a_per_layer_breakdown(tmp_path, capsys):
    out = tmp_path / "d.json"
    assert main(["predict", "--net", NET, "--threads", "240,3840", "--epochs", "70", "--by-layer",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "(d) layer model" in text and "fitted to 3 networks" in text and "per layer, network" in text
    rows = json.loads(out.read_text())["predictions"]
    assert {r["strategy"] for r in rows} == {"d"}  # (a), (b) need an entry of the network; (d) does not
    layer_lines = [line.split()[1] for line in text.split("per layer, network")[1].splitlines() if line[:1].isdigit()]
    assert layer_lines == ["conv", "maxpool", "conv", "maxpool", "full", "output"]


def test_a_profile_without_machine_model_says_what_to_run(tmp_path):
    from cnnperf.hardware import load_profile, save_profile
    plain = tmp_path / "plain.toml"
    save_profile(plain, dataclasses.replace(load_profile("xeon-phi-7120p"), machine_model=None))
    r = run_cli("predict", "--profile", str(plain), "--net", "small", "--strategy", "d")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no machine model" in r.stderr and "cnnperf calibrate --out PROFILE" in r.stderr
    r = run_cli("predict", "--profile", str(plain), "--net", NET)
    assert r.returncode == 2 and "has no network" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("predict", "--profile", str(plain), "--net", "small", "--by-layer")
    assert r.returncode == 2 and "--by-layer needs the layer model" in r.stderr


def test_nets_random_is_seeded_and_valid(capsys):
    assert main(["nets", "random", "--seed", "5", "--count", "6"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["nets", "random", "--seed", "5", "--count", "6"]) == 0
    assert capsys.readouterr().out.splitlines() == first and len(first) == 6
    for line in first:
        assert main(["nets", "show", line.split()[0]]) == 0
    capsys.readouterr()
    r = run_cli("nets", "random", "--count", "0")
    assert r.returncode == 2 and "--count" in r.stderr and "positive integer" in r.stderr


@pytest.fixture(scope="module")
def model_profile(tmp_path_factory):
    """A calibrated small network plus a small machine model (a short grid)."""
    from cnnperf.fileio import ResumableState
    from cnnperf.hardware import load_profile, save_profile
    from cnnperf.measure.machine import GridConfig, calibrate_machine_model
    d = tmp_path_factory.mktemp("lm")
    prof = d / "m.toml"
    assert main(["calibrate", "--out", str(prof), "--nets", "small", "--threads", "1,2", "--quick", "--quiet"]) == 0
    model = calibrate_machine_model((1, 2), 2, True, ResumableState(d / "s.json", "k"), lambda m: None, None,
                                    GridConfig(probes=30, region_s=0.01, contention_nets=3, prep_nets=3))
    save_profile(prof, dataclasses.replace(load_profile(str(prof)), machine_model=model))
    return prof


def test_validate_holdout_nets_reports_them_apart(model_profile, tmp_path, make_mnist, capsys):
    data = make_mnist(tmp_path / "mnist", 200, 50)
    held = "29x29-4C4-MP2-8C2-MP3-10N"
    out = tmp_path / "val"
    assert main(["validate", "--profile", str(model_profile), "--nets", "small", "--holdout-nets", held,
                 "--threads", "1,2", "--images", "150", "--test-images", "40", "--repeat", "1", "--out", str(out),
                 "--data", str(data), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "held-out networks (not in the calibration)" in text
    doc = json.loads((out / "results.json").read_text())
    held_rows = [r for r in doc["rows"] if r["net"] == held]
    assert held_rows and {r["split"] for r in held_rows} == {"holdout"} and {r["strategy"] for r in held_rows} == {"d"}
    assert {g["net"] for g in doc["group_summaries"]} == {"calibrated", "held out"}
    r = run_cli("validate", "--profile", str(model_profile), "--nets", "small", "--holdout-nets", "small",
                "--out", str(tmp_path / "x"), "--data", str(data))
    assert r.returncode == 2 and "not held out" in r.stderr and not (tmp_path / "x").exists()


def test_a_layer_far_beyond_the_grid_is_predicted_with_a_warning_naming_it(model_profile):
    r = run_cli("predict", "--profile", str(model_profile), "--net", "1x120x120-64C7-10N", "--threads", "1,2",
                "--strategy", "d", "--epochs", "1")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: extrapolation")]
    assert warnings and "layer 1 (conv, forward conv_direct)" in warnings[0] and "calibrated maximum" in warnings[0]
    assert "predicted by extrapolation" in r.stdout  # also in the report's notes
    r = run_cli("predict", "--profile", str(model_profile), "--net", "29x29-4C4-MP2-8C2-MP3-10N", "--strategy", "d",
                "--threads", "1,2", "--epochs", "1")
    assert r.returncode == 0 and "warning" not in r.stderr  # inside the grid: no warning
