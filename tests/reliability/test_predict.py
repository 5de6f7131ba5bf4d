"""Reliability of `cnnperf predict` through the CLI (issue 12): bad option values, networks,
profiles and output paths are refused with one line (exit 2), nothing written; absurd networks
and sizes are answered with finite numbers or refused, never an overflow or a hang."""

import json
import math

import pytest

from .harness import (
    ABSURD_NETWORKS,
    BAD_NETWORKS,
    BAD_OUTPUTS,
    BAD_PROFILE_EDITS,
    BAD_PROFILE_FILES,
    HUGE,
    check_refused,
    cli,
    phi_with,
    survived,
    write_network_files,
    write_output_obstacles,
    write_profile_files,
)

OPTIONS = {  # id -> (options, words of the error)
    "threads-negative": (["--threads", "-1"], ["'-1': counts must be positive integers"]),
    "threads-zero": (["--threads", "0"], ["'0' must be a positive integer"]),
    "threads-1e27": (["--threads", "1e27"], ["'1e27' is not an integer"]),
    "threads-10**30": (["--threads", str(10**30)], ["is too large", "give at most 1,000,000,000,000,000"]),
    "threads-5001-digits": (["--threads", HUGE], ["is too large", "give at most"]),
    "threads-word": (["--threads", "many"], ["'many' is not an integer"]),
    "threads-empty": (["--threads", ""], ["empty item in list ''"]),
    "threads-empty-item": (["--threads", "1,,2"], ["empty item in list '1,,2'"]),
    "threads-10**10-values": (["--threads", "1-10000000000:+1"], ["10,000,000,000+ values", "give at most 10,000",
                                                                   "coarser step"]),
    "threads-10001-values": (["--threads", "1-10001"], ["10,001+ values", "give at most 10,000"]),
    "threads-backwards": (["--threads", "8-2"], ["range '8-2' ends before it starts"]),
    "threads-step-x1": (["--threads", "1-8:x1"], ["bad step 'x1'", "use :x2 (multiply) or :+15 (add)"]),
    "threads-step-zero": (["--threads", "1-8:+0"], ["bad step '+0'"]),
    "threads-step-huge": (["--threads", f"1-8:+{HUGE}"], ["bad step", "use :x2"]),
    "threads-geometric-from-0": (["--threads", "0-8:x2"], ["'0' must be a positive integer"]),
    "images-zero": (["--images", "0"], ["'0' must be a positive integer"]),
    "images-negative": (["--images", "-5"], ["'-5' must be a positive integer"]),
    "images-1e27": (["--images", "1e27"], ["'1e27' is not an integer"]),
    "images-10**30": (["--images", str(10**30)], ["is too large"]),
    "images-5001-digits": (["--images", HUGE], ["is too large"]),
    "test-images-negative": (["--test-images", "-1"], ["'-1' must be >= 0"]),
    "test-images-5001-digits": (["--test-images", HUGE], ["is too large"]),
    "epochs-zero": (["--epochs", "0"], ["'0' must be a positive integer"]),
    "epochs-word": (["--epochs", "abc"], ["'abc' is not an integer"]),
    "epochs-5001-digits": (["--epochs", HUGE], ["is too large"]),
    "ranks-zero": (["--ranks", "0"], ["'0' must be a positive integer"]),
    "ranks-10**10-values": (["--ranks", "1-10000000000:+1"], ["give at most 10,000"]),
    "ranks-without-network": (["--ranks", "2"], ["has no [network] section",
                                                 "mpiexec -n 2 cnnperf calibrate --mpi"]),
    "ranks-per-node-zero": (["--ranks-per-node", "0"], ["'0' must be a positive integer"]),
    "ranks-per-node-5001-digits": (["--profile", "phi-cluster-fdr", "--ranks", "2", "--ranks-per-node", HUGE],
                                   ["is too large"]),
    "sync-every-zero": (["--sync-every", "0"], ["'0' must be a positive integer"]),
    "sync-every-5001-digits": (["--profile", "phi-cluster-fdr", "--ranks", "2", "--sync-every", HUGE],
                               ["is too large"]),
    "strategy-unknown": (["--strategy", "z"], ["unknown strategy 'z'", "or all"]),
    "by-layer-without-layer-model": (["--by-layer", "--strategy", "a"], ["--by-layer needs the layer model"]),
    "profile-overflows": (["--profile", "overflow.toml"], ["predicts no finite time", "the numbers overflow",
                                                           "check the profile's values"]),
}


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_bad_option_value_is_refused(case, tmp_path):
    argv, needles = OPTIONS[case]
    phi_with(tmp_path, "t_fprop_s = 1.45e-3", "t_fprop_s = 1.7e308", "overflow.toml")
    check_refused(tmp_path, ["predict", *argv, "--json", "p.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_NETWORKS))
def test_bad_network_is_refused(case, tmp_path):
    net, needles = BAD_NETWORKS[case]
    write_network_files(tmp_path)
    check_refused(tmp_path, ["predict", "--net", net, "--json", "p.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_PROFILE_EDITS))
def test_broken_profile_is_refused(case, tmp_path):
    old, new, needles = BAD_PROFILE_EDITS[case]
    line = check_refused(tmp_path, ["predict", "--profile", phi_with(tmp_path, old, new), "--json", "p.json"], needles)
    assert "bad.toml" in line  # names the file


@pytest.mark.parametrize("case", sorted(BAD_PROFILE_FILES))
def test_no_profile_is_refused(case, tmp_path):
    path, needles = BAD_PROFILE_FILES[case]
    write_profile_files(tmp_path)
    check_refused(tmp_path, ["predict", "--profile", path, "--json", "p.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_unwritable_json_is_refused(case, tmp_path):
    path, needles = BAD_OUTPUTS[case]
    write_output_obstacles(tmp_path)
    check_refused(tmp_path, ["predict", "--json", path], needles)


def _rows(tmp_path, *argv) -> list[dict]:
    r = cli(tmp_path, "predict", *argv, "--json", "p.json")
    assert survived(r) == ""
    return json.loads((tmp_path / "p.json").read_text())["predictions"]


@pytest.mark.parametrize("net", ABSURD_NETWORKS)
def test_absurd_network_is_answered_with_finite_numbers(net, tmp_path):
    rows = _rows(tmp_path, "--net", net, "--threads", "1,240,3840")
    assert rows and all(math.isfinite(r["seconds"]) and r["seconds"] > 0 for r in rows)
    assert all(math.isfinite(v) for r in rows for v in r["terms"].values())


def test_largest_counts_are_answered_with_finite_numbers(tmp_path):
    """The largest values the options take, on the largest network the notation takes: finite, no warning."""
    big = str(10**15)
    rows = _rows(tmp_path, "--net", "1000000000000000000000000000000x1000000000000000000000000000000-10N",
                 "--threads", big, "--images", big, "--test-images", big, "--epochs", big)
    assert rows and all(math.isfinite(r["seconds"]) for r in rows)


def test_documented_range_from_zero_skips_the_zero(tmp_path):
    """`--help` gives 0-240:+15 as an example: it is 15, 30, ..., 240 (0 threads is no run)."""
    rows = _rows(tmp_path, "--strategy", "b", "--threads", "0-240:+15")
    assert [r["p"] for r in rows] == list(range(15, 241, 15))
