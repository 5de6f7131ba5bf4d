"""Reliability of `cnnperf calibrate` through the CLI (issue 12): bad output paths, networks, thread
lists and runs too big for memory are refused with one line (exit 2) before anything is measured
or written; a damaged resume file (`PROFILE.toml.partial.json`) means starting over, with a
message; Ctrl-C and kill -9 lose only the running step, and the same command resumes."""

import json
import os
import signal
import time

import pytest

from .harness import (
    BAD_NETWORKS,
    BAD_OUTPUTS,
    TINY,
    check_refused,
    cli,
    popen,
    refused,
    snapshot,
    survived,
    write_network_files,
)

QUICK = ["--quick", "--quiet"]
NETS = ["unknown-name", "trailing-dash", "kernel-too-big", "5001-digits", "directory-x.toml", "missing-toml",
        "malformed-toml", "toml-size-text"]

CASES = {  # id -> (options, words of the error)
    **{f"nets-{k}": (["--out", "m.toml", "--nets", BAD_NETWORKS[k][0]], BAD_NETWORKS[k][1]) for k in NETS},
    "nets-empty": (["--out", "m.toml", "--nets", ","], ["the list is empty"]),
    "threads-10**10-values": (["--out", "m.toml", "--nets", TINY, "--threads", "1-10000000000:+1"],
                              ["give at most 10,000"]),
    "threads-zero": (["--out", "m.toml", "--nets", TINY, "--threads", "0"], ["'0' must be a positive integer"]),
    "threads-empty": (["--out", "m.toml", "--nets", TINY, "--threads", ""], ["empty item in list"]),
    "threads-100000": (["--out", "m.toml", "--nets", TINY, "--threads", "1,100000"],
                       ["this run needs about", "available", "use fewer --threads"]),
    "reference-threads-100000": (["--out", "m.toml", "--nets", TINY, "--reference-threads", "100000"],
                                 ["this run needs about", "use fewer --threads"]),
    "repeats-zero": (["--out", "m.toml", "--nets", TINY, "--repeats", "0"], ["'0' must be a positive integer"]),
    "mpi-without-mpiexec": (["--out", "m.toml", "--mpi"], ["start it as 'mpiexec -n 2 cnnperf calibrate --mpi"]),
    "out-missing": (["--nets", TINY], ["the following arguments are required: --out"]),
    "state-is-a-directory": (["--out", "m.toml", "--nets", TINY], ["m.toml.partial.json is a directory"]),
    **{f"out-{k}": (["--out", path, "--nets", TINY], needles) for k, (path, needles) in BAD_OUTPUTS.items()},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_before_measuring(case, tmp_path):
    argv, needles = CASES[case]
    write_network_files(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    if case == "state-is-a-directory":
        (tmp_path / "m.toml.partial.json").mkdir()
    check_refused(tmp_path, ["calibrate", *argv, *QUICK], needles)


def test_network_too_big_for_memory_is_refused(tmp_path):
    from cnnperf.networks import parse_notation
    from cnnperf.parallel.memory import available_bytes, estimate_memory

    have = available_bytes()
    if have is None:
        pytest.skip("MemAvailable unknown (not Linux)")
    spec = parse_notation("29x29-100000C4-10N")
    threads = max(8, have // estimate_memory(spec, 2, 0).workspace_bytes + 1)  # more than fit, whatever the machine
    check_refused(tmp_path, ["calibrate", "--out", "m.toml", "--nets", spec.notation(), "--threads", f"1,{threads}",
                             *QUICK], ["this run needs about", "available", "fewer --threads"])


def _key() -> str:
    """The resume key of `calibrate --nets TINY --threads 1,2 --quick` (what its state file holds)."""
    from cnnperf.measure.calibrate import CalibrationConfig

    return CalibrationConfig((TINY,), (1, 2), True, 5, None, False).fingerprint()


def _state(steps) -> str:
    return json.dumps({"key": _key(), "steps": steps})


TIMES = f"{TINY}/times"
STATES = {  # id -> (content of m.toml.partial.json, words of the message)
    "a-list": ("[1, 2]", "not a readable state file"),
    "garbage": ("{garbage", "not a readable state file"),
    "empty": ("", "not a readable state file"),
    "binary": (b"\xff\xfe\x00", "not a readable state file"),
    "other-options": (json.dumps({"key": "0123", "steps": {}}), "it belongs to a job with other options"),
    "steps-a-list": (_state([1, 2]), "its steps are not a table"),
    "cpi-a-number": (_state({"cpi": 5}), "its step 'cpi' is malformed"),
    "times-a-number": (_state({"cpi": {"1": 1.0}, TIMES: 3}), f"its step '{TIMES}' is malformed"),
    "time-text": (_state({"cpi": {"1": 1.0}, TIMES: {"t_fprop_s": "a"}}), f"its step '{TIMES}' is malformed"),
    "time-negative": (_state({"cpi": {"1": 1.0}, TIMES: {"t_fprop_s": -1.0, "t_bprop_s": 1e-6, "src_f": "a",
                                                        "src_t": "b"}}), f"its step '{TIMES}' is malformed"),
    "contention-negative": (_state({f"{TINY}/contention/2": {"seconds": -1.0, "src": "x"}}),
                            f"its step '{TINY}/contention/2' is malformed"),
}


@pytest.mark.parametrize("case", sorted(STATES))
def test_damaged_resume_file_means_starting_over(case, tmp_path):
    content, words = STATES[case]
    state = tmp_path / "m.toml.partial.json"
    state.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = cli(tmp_path, "calibrate", "--out", "m.toml", "--nets", TINY, "--threads", "1,2", *QUICK)
    err = survived(r)
    assert f"ignoring m.toml.partial.json: {words}; starting over" in err.splitlines()[0], err
    assert "resuming" not in err
    assert {p for p in snapshot(tmp_path) if not p.startswith(".cache")} == {"m.toml"}  # the state file is gone
    from cnnperf.hardware import load_profile
    assert load_profile(str(tmp_path / "m.toml")).networks[TINY].t_fprop_s > 0  # a profile that loads


# --- faults: Ctrl-C and kill -9 during a calibration; the same command resumes ------------------------

SLOW = ["calibrate", "--out", "m.toml", "--nets", "small", "--threads", "1,2", "--repeats", "3", "--quiet"]


def _blocks(steps: dict) -> int:
    """Timed blocks the measurement protocol saved (it saves its record while it measures)."""
    record = steps.get("protocol", {})
    return sum(len(b) for b in record.get("blocks", {}).values()) if isinstance(record, dict) else 0


def _interrupt(tmp_path, sig) -> tuple[int, str, dict]:
    """Start SLOW, send `sig` once the protocol has saved some measured blocks; exit code, stderr,
    saved steps."""
    state = tmp_path / "m.toml.partial.json"
    proc = popen(tmp_path, *SLOW)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if _blocks(json.loads(state.read_text())["steps"]) >= 6:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, err, json.loads(state.read_text())["steps"]


def _resume(tmp_path, steps: dict) -> None:
    """The same command again: it resumes (says so), continues from the saved blocks (its protocol
    run counts them too: nothing measured is thrown away), writes a profile that loads."""
    import re
    saved = _blocks(steps)
    r = cli(tmp_path, *SLOW, timeout=300)
    err = survived(r)
    assert f"resuming: {len(steps)} step(s) done in m.toml.partial.json" in err, err
    total = int(re.search(r"protocol: \d+ tasks, \d+ rounds, (\d+) blocks", err).group(1))
    assert total >= saved > 0, err
    from cnnperf.hardware import load_profile
    small = load_profile(str(tmp_path / "m.toml")).networks["small"]
    assert small.t_fprop_s > 0 and small.t_prep_s > 0
    assert not (tmp_path / "m.toml.partial.json").exists()


def test_ctrl_c_keeps_finished_steps_and_the_same_command_resumes(tmp_path):
    code, err, steps = _interrupt(tmp_path, signal.SIGINT)
    assert code == 130 and err.strip().splitlines()[-1] == "cnnperf calibrate: interrupted", err
    assert "Traceback" not in err
    left = {p for p in snapshot(tmp_path) if not p.startswith(".cache")}
    assert left == {"m.toml.partial.json"}  # no profile, no temporary file
    _resume(tmp_path, steps)


def test_after_kill_9_the_same_command_resumes(tmp_path):
    code, _, steps = _interrupt(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (tmp_path / "m.toml").exists()
    _resume(tmp_path, steps)


def test_refusal_leaves_a_resume_file_alone(tmp_path):
    """A refused command (here: a thread list too long) neither reads nor rewrites the resume state."""
    (tmp_path / "m.toml.partial.json").write_text(_state({"cpi": {"1": 1.0}}))
    before = snapshot(tmp_path)
    refused(cli(tmp_path, "calibrate", "--out", "m.toml", "--nets", TINY, "--threads", "1-20000", *QUICK),
            "give at most 10,000")
    assert snapshot(tmp_path) == before
