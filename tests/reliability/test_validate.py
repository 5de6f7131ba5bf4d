"""Reliability of `cnnperf validate` through the CLI (issue 12): bad profiles, networks, thread lists,
data, stored results (--reuse) and output folders are refused with one line (exit 2) before the
output folder is created (no empty folder is left); runs that do not fit in memory or not the
images are refused before training; a damaged `runs.partial.json` means starting over, with a
message. Ctrl-C during a run with worker threads: tests/reliability/test_train.py."""

import json
import signal
import time

import pytest

from .harness import HUGE, TINY, check_refused, cli, phi_with, popen, snapshot, survived

pytestmark = pytest.mark.xdist_group("test_validate")  # one worker: its module-scoped fixtures run once

SMALL_RUN = ["--nets", TINY, "--threads", "1,2", "--images", "200", "--test-images", "100", "--repeat", "1",
             "--quiet"]


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    """A calibrated profile of the tiny network and of one with a 5x5 input (outside the test folders)."""
    d = tmp_path_factory.mktemp("profile")
    r = cli(d, "calibrate", "--out", "m.toml", "--nets", f"{TINY},5x5-10N", "--threads", "1,2", "--quick", "--quiet")
    survived(r)
    return d / "m.toml"


@pytest.fixture
def here(tmp_path, make_mnist):
    """The test's folder with tiny MNIST in mnist/ and stored runs to --reuse in folders (see _stored)."""
    make_mnist(tmp_path / "mnist", n_train=200, n_test=100)
    return tmp_path


def _run(p: int, **kw) -> dict:
    return {"net": TINY, "p": p, "repeat": 0, "seconds": 0.01, "train_s": 0.006, "validation_s": 0.002,
            "test_s": 0.001, "prep_s": 0.001, "test_error": 0.5, **kw}


STORED = {  # folder -> its results.json (for --reuse)
    "garbage": "garbage{",
    "a-list": "[1, 2]",
    "lacks-p": json.dumps({"runs": [_run(1), {k: v for k, v in _run(2).items() if k != "p"}]}),
    "nan-seconds": json.dumps({"runs": [_run(1), _run(2, seconds=float("nan"))]}),
    "other-network": json.dumps({"runs": [_run(1, net="other"), _run(2, net="other")]}),
}


def _stored(here) -> None:
    for name, text in STORED.items():
        (here / name).mkdir()
        (here / name / "results.json").write_text(text)
    (here / "dir-results" / "results.json").mkdir(parents=True)
    (here / "afile").write_text("x")


CASES = {  # id -> (options beside SMALL_RUN and --profile, words of the error); the output folder is NEW
    "data-missing": (["--data", "nonexistent"], ["MNIST not found", "put train-images-idx3-ubyte.gz"]),
    "data-a-file": (["--data", "afile"], ["is not a directory"]),
    "images-more-than-data": (["--images", "100000"], ["asked for 100000 training images", "use 1..200"]),
    "reuse-missing": (["--reuse", "nonexistent"], ["nonexistent/results.json not found",
                                                   "run 'cnnperf validate --out DIR' first"]),
    "reuse-garbage": (["--reuse", "garbage"], ["garbage/results.json is not a cnnperf validation result"]),
    "reuse-a-list": (["--reuse", "a-list"], ["is not a cnnperf validation result (no list 'runs')"]),
    "reuse-run-lacks-p": (["--reuse", "lacks-p"], ["run 1 lacks p", "written by 'cnnperf validate'"]),
    "reuse-nan-seconds": (["--reuse", "nan-seconds"], ["wrong type or range in seconds"]),
    "reuse-no-matching-runs": (["--reuse", "other-network"], ["holds no runs for these networks and thread counts"]),
    "reuse-results-a-directory": (["--reuse", "dir-results"], ["results.json is a directory"]),
    "reuse-a-file": (["--reuse", "afile"], ["afile/results.json is not a cnnperf validation result"]),
    "nets-unknown": (["--nets", "bogus"], ["unknown network 'bogus'"]),
    "nets-empty": (["--nets", ","], ["the list is empty"]),
    "nets-not-in-profile": (["--nets", "small"], ["has no network 'small'", "cnnperf calibrate --nets"]),
    "nets-5001-digits": (["--nets", f"29x29-{HUGE}N-10N"], ["(5001 digits)", "at most 1e30"]),
    "nets-input-not-mnist": (["--nets", "5x5-10N", "--threads", "1"], ["input layer 1x5x5", "use a network with a "
                                                                                            "29x29 input"]),
    "holdout-in-profile": (["--holdout-nets", TINY], ["is in profile m: it is not held out"]),
    "holdout-unknown": (["--holdout-nets", "bogus"], ["unknown network 'bogus'"]),
    "profile-unknown": (["--profile", "nope"], ["unknown profile 'nope'"]),
    "profile-broken": (["--profile", "bad.toml"], ["bad.toml: machine: 'cores' must be positive, got 0"]),
    "profile-mismatch-and-refused": (["--profile", "xeon-phi-7120p", "--nets", "small", "--reuse", "other-network"],
                                     ["holds no runs"]),  # the machine-mismatch warning is not printed too
    "threads-10**10-values": (["--threads", "1-10000000000:+1"], ["give at most 10,000"]),
    "threads-zero": (["--threads", "0"], ["'0' must be a positive integer"]),
    "threads-100000": (["--threads", "1,100000"], ["this run needs about", "available", "use fewer --threads"]),
    "fit-threads-alone": (["--fit-threads", "1"], ["give --fit-threads and --test-threads together"]),
    "fit-threads-all": (["--fit-threads", "1,2", "--test-threads", "2"], ["fit threads must be a non-empty subset"]),
    "images-zero": (["--images", "0"], ["'0' must be a positive integer"]),
    "epochs-zero": (["--epochs", "0"], ["'0' must be a positive integer"]),
    "repeat-10**30": (["--repeat", str(10**30)], ["is too large"]),
    "ranks-without-network": (["--ranks", "2"], ["has no [network] section"]),
    "sync-every-word": (["--ranks", "2", "--sync-every", "often"], ["--sync-every: 'often' is not a positive integer "
                                                                    "or 'epoch'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_without_an_output_folder(case, here, profile):
    argv, needles = CASES[case]
    _stored(here)
    phi_with(here, "cores = 61", "cores = 0")
    check_refused(here, ["validate", "--profile", profile, *SMALL_RUN, "--data", "mnist", *argv,
                         "--out", "NEW/deeper"], needles)  # neither NEW nor NEW/deeper is created


@pytest.mark.parametrize("out,needles", [
    ("/proc/cnnperf-validation", ["cannot create output directory /proc/cnnperf-validation", "choose another --out"]),
    ("afile", ["cannot create output directory afile", "choose another --out"]),
    ("afile/sub", ["cannot create output directory afile/sub", "choose another --out"]),
])
def test_unusable_output_folder_is_refused(out, needles, here, profile):
    (here / "afile").write_text("x")
    check_refused(here, ["validate", "--profile", profile, *SMALL_RUN, "--data", "mnist", "--out", out], needles)


def _key() -> str:
    """The resume key of SMALL_RUN (what its runs.partial.json holds)."""
    from cnnperf.validation.sweep import SweepConfig

    return SweepConfig((TINY,), (1, 2), 1, 200, 100, 1).fingerprint()


def _state(steps) -> str:
    return json.dumps({"key": _key(), "steps": steps})


STATES = {  # id -> (content of OUT/runs.partial.json, words of the message)
    "a-list": ("[1, 2]", "not a readable state file"),
    "garbage": ("{garbage", "not a readable state file"),
    "other-options": (json.dumps({"key": "0123", "steps": {}}), "it belongs to a job with other options"),
    "steps-a-list": (_state([1]), "its steps are not a table"),
    "run-a-number": (_state({f"{TINY}/1/0": 5}), f"its step '{TINY}/1/0' is malformed"),
    "seconds-text": (_state({f"{TINY}/1/0": _run(1, seconds="x")}), f"its step '{TINY}/1/0' is malformed"),
    "seconds-negative": (_state({f"{TINY}/1/0": _run(1, seconds=-1.0)}), f"its step '{TINY}/1/0' is malformed"),
    "other-thread-count": (_state({f"{TINY}/7/0": _run(7)}), f"its step '{TINY}/7/0' is malformed"),
}


@pytest.mark.parametrize("case", sorted(STATES))
def test_damaged_resume_file_means_starting_over(case, here, profile):
    content, words = STATES[case]
    (here / "val").mkdir()
    (here / "val" / "runs.partial.json").write_text(content)
    r = cli(here, "validate", "--profile", profile, *SMALL_RUN, "--data", "mnist", "--out", "val")
    err = survived(r)
    lines = err.strip().splitlines()  # then the measurement protocol's summary lines
    assert lines[0] == f"ignoring val/runs.partial.json: {words}; starting over" and "resuming" not in err, err
    assert "Traceback" not in err
    runs = json.loads((here / "val" / "results.json").read_text())["runs"]
    assert sorted(x["p"] for x in runs) == [1, 2] and all(x["seconds"] > 0 for x in runs)  # trained again
    assert "runs.partial.json" not in {p.name for p in (here / "val").iterdir()}


def test_interrupted_first_run_leaves_no_empty_folder(here, profile):
    """Ctrl-C before the first run finished: no run saved, so no folder is left behind."""
    out = here / "NEW"
    proc = popen(here, "validate", "--profile", str(profile), "--nets", TINY, "--threads", "1", "--images", "200",
                 "--test-images", "100", "--epochs", "100000", "--repeat", "1", "--data", "mnist", "--out", "NEW",
                 "--quiet")
    deadline = time.monotonic() + 120
    while not out.exists() and time.monotonic() < deadline:  # the folder exists while the run trains
        time.sleep(0.01)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert not out.exists()


def test_good_input_validates(here, profile):
    """The command the cases above break, unbroken, validates (the refusals are about the damage)."""
    before = set(snapshot(here))
    r = cli(here, "validate", "--profile", profile, *SMALL_RUN, "--data", "mnist", "--out", "NEW/deeper")
    err = survived(r)  # the measurement protocol's summary lines only: no warning, no traceback
    assert all(line.startswith(("protocol:", "machine noise during the sweep")) for line in err.splitlines()), err
    assert {"results.json", "report.md"} <= {p.name for p in (here / "NEW" / "deeper").iterdir()}
    assert set(snapshot(here)) - before >= {"NEW", "NEW/deeper"}
