"""Reliability of `cnnperf train` through the CLI (issue 12): bad input and absurd sizes are refused
with one line (exit 2), divergence stops with exit 3, Ctrl-C never hangs (exit 130), broken
checkpoints are refused before use, the first-run compile shows a spinner outside the timed
regions. Every refusal: the exit code, one line on stderr, no traceback, nothing left behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .harness import refused, tree

REAL = os.environ.get("CNNPERF_DATA")
QUIET_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # no BLAS threads


def env_of(extra=None) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("CNNPERF_DATA", "CNNPERF_MNIST_MIRRORS")}
    return {**base, "CNNPERF_MNIST_MIRRORS": "http://127.0.0.1:9/", **QUIET_ENV, **(extra or {})}


def cli(*argv, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=False, capture_output=True, text=True,
                          timeout=timeout, env=env_of(env))


def popen(*argv, env=None):
    return subprocess.Popen([sys.executable, "-m", "cnnperf", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env_of(env))


@pytest.fixture
def out(tmp_path):
    """An empty output directory; tests check that a refused run leaves it empty."""
    d = tmp_path / "out"
    d.mkdir()
    return d


def worker_threads_started(proc, timeout=300) -> None:
    """Wait until the process runs more than 2 threads (main + the pool's workers; BLAS threads are off)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if len(os.listdir(f"/proc/{proc.pid}/task")) >= 3:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError("the workers never started")


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc (Linux)")


# --- Ctrl-C ---------------------------------------------------------------------------------------

def test_one_sigint_keeps_finished_epochs_and_exits_130(out, make_mnist, tmp_path):
    data = make_mnist(tmp_path / "mnist", n_train=600, n_test=100)
    ck, js = out / "ck.npz", out / "run.json"
    proc = popen("train", "--data", str(data), "--threads", "2", "--epochs", "100000", "--quiet",
                 "--checkpoint", str(ck), "--json", str(js))
    deadline = time.monotonic() + 300
    while not ck.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)  # ends after the running phase: well within 30 s
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopping after the current phase" in lines[0] and "Traceback" not in err
    doc = json.loads(js.read_text())
    assert doc["stopped"] == "interrupted" and len(doc["epochs"]) >= 1
    assert [e["epoch"] for e in doc["epochs"]] == list(range(1, len(doc["epochs"]) + 1))
    assert tree(out) == {"ck.npz", "run.json"}  # no temp file left


@needs_proc
def test_second_sigint_ends_within_2_s(out, make_mnist, tmp_path):
    """The training phase would take many seconds (large network, 20,000 images): the second
    Ctrl-C must end the process at once, without waiting for the phase."""
    data = make_mnist(tmp_path / "mnist", n_train=20000, n_test=100)
    ck = out / "ck.npz"
    proc = popen("train", "--net", "large", "--data", str(data), "--threads", "2", "--quiet", "--checkpoint", str(ck))
    worker_threads_started(proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    ended = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert ended < 2.0, f"ended {ended:.1f} s after the second Ctrl-C"
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "cnnperf train: interrupted"
    assert tree(out) == set()  # epoch 1 never finished: no checkpoint, no temp file


@needs_proc
def test_sigint_during_validate_with_two_threads_ends(tmp_path, make_mnist):
    data = make_mnist(tmp_path / "mnist", n_train=20000, n_test=100)
    profile = tmp_path / "tiny.toml"
    r = cli("calibrate", "--out", str(profile), "--nets", "small", "--threads", "1,2", "--quick", "--quiet")
    assert r.returncode == 0, r.stderr
    proc = popen("validate", "--profile", str(profile), "--nets", "small", "--threads", "2", "--images", "20000",
                 "--test-images", "100", "--epochs", "200", "--repeat", "1", "--data", str(data),
                 "--out", str(tmp_path / "val"), "--quiet")
    worker_threads_started(proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)  # 200 epochs would take minutes; a hang never ends
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- first run: the kernel compile shows a spinner, outside the timed regions ----------------------

def in_pty(argv: list[str], env: dict, timeout: float = 600) -> tuple[int, str]:
    """Run argv with a terminal as stdout/stderr (rich animates only on a terminal); exit code and output."""
    import pty
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(argv[0], argv, env)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


SPINNER = "compiling kernels (first run only"
SNIPPET = ("import sys, time\nfrom cnnperf.report.progress import TrainingDisplay as _Display\n"
           "with _Display(quiet=sys.argv[1] == 'quiet').compiling():\n    time.sleep(float(sys.argv[2]))\n")


@pytest.mark.parametrize("mode,seconds,shown", [("loud", 2.0, True), ("loud", 0.1, False), ("quiet", 2.0, False)])
def test_spinner_only_when_slow_and_not_quiet(mode, seconds, shown):
    code, text = in_pty([sys.executable, "-c", SNIPPET, mode, str(seconds)], env_of())
    assert code == 0, text
    assert (SPINNER in text) == shown, text
    if mode == "quiet":
        assert text == ""


def test_cold_compile_shows_the_spinner_outside_timed_regions(tmp_path, make_mnist):
    data = make_mnist(tmp_path / "mnist", n_train=300, n_test=50)
    js = tmp_path / "run.json"
    code, text = in_pty([sys.executable, "-m", "cnnperf", "train", "--data", str(data), "--threads", "2",
                         "--json", str(js)], env_of({"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}))
    assert code == 0, text
    assert SPINNER in text and "Traceback" not in text
    doc = json.loads(js.read_text())
    assert doc["compile_seconds"] > 1.0  # a cold compile
    assert doc["total_seconds"] < doc["compile_seconds"]  # prep + phases: the compile is not in them


# --- checkpoints are validated before use ----------------------------------------------------------

@pytest.fixture
def checkpoint_run(tmp_path, make_mnist):
    """Tiny data and a good checkpoint after one epoch, written by the CLI."""
    data = make_mnist(tmp_path / "mnist", n_train=200, n_test=50)
    good = tmp_path / "good.npz"
    r = cli("train", "--data", str(data), "--threads", "1", "--quiet", "--checkpoint", str(good))
    assert r.returncode == 0, r.stderr
    return data, good


def _rewrite(src: Path, dst: Path, meta_fn=None, weights_fn=None, drop=()) -> Path:
    with np.load(src) as z:
        weights, meta = np.array(z["weights"]), json.loads(str(z["meta"]))
    if meta_fn is not None:
        meta = meta_fn(meta)
    if weights_fn is not None:
        weights = weights_fn(weights)
    arrays = {"weights": weights, "meta": np.array(json.dumps(meta))}
    with open(dst, "wb") as f:
        np.savez(f, **{k: v for k, v in arrays.items() if k not in drop})
    return dst


def _write(dst: Path, data: bytes) -> Path:
    dst.write_bytes(data)
    return dst


def _set(path: tuple, value):
    def fn(meta):
        d = meta
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
        return meta
    return fn


def _drop(key: str):
    def fn(meta):
        del meta[key]
        return meta
    return fn


BROKEN = {  # name -> (how to break a good checkpoint, a word the message must hold)
    "empty": (lambda src, dst: _write(dst, b""), "empty (0 bytes)"),
    "garbage": (lambda src, dst: _write(dst, b"PK\x03\x04 not really a zip" * 9), "not a readable"),
    "truncated": (lambda src, dst: _write(dst, src.read_bytes()[:200]), "not a readable"),
    "five-weights-missing": (lambda src, dst: _rewrite(src, dst, weights_fn=lambda w: w[:-5]), "needs"),
    "no-weights": (lambda src, dst: _rewrite(src, dst, drop=("weights",)), "lacks weights"),
    "meta-not-object": (lambda src, dst: _rewrite(src, dst, meta_fn=lambda m: [1, 2]), "not an object"),
    "no-run": (lambda src, dst: _rewrite(src, dst, meta_fn=_drop("run")), "lacks 'run'"),
    "epochs-done-text": (lambda src, dst: _rewrite(src, dst, meta_fn=_set(("epochs_done",), "1")), "'epochs_done'"),
    "lr-text": (lambda src, dst: _rewrite(src, dst, meta_fn=_set(("run", "config", "lr"), "fast")), "'lr'"),
    "epochs-not-a-list": (lambda src, dst: _rewrite(src, dst, meta_fn=_set(("run", "epochs"), 5)), "record"),
    "epoch-record-broken": (lambda src, dst: _rewrite(src, dst, meta_fn=_set(("run", "epochs"), [{"epoch": 1}])),
                            "epoch 1 is malformed"),
    "nan-weights": (lambda src, dst: _rewrite(src, dst, weights_fn=lambda w: np.full_like(w, np.nan)), "NaN"),
    "float64-weights": (lambda src, dst: _rewrite(src, dst, weights_fn=lambda w: w.astype(np.float64)), "float32"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_checkpoint_is_refused_before_use(case, checkpoint_run, out):
    data, good = checkpoint_run
    make, needle = BROKEN[case]
    bad = make(good, out.parent / f"{case}.npz")
    before = tree(out)
    r = cli("train", "--data", str(data), "--threads", "1", "--quiet", "--epochs", "3", "--resume", str(bad),
            "--json", str(out / "r.json"), "--checkpoint", str(out / "new.npz"))
    line = refused(r)
    assert needle in line, line
    if case == "five-weights-missing":  # found when the network's weight store exists
        assert "resume from a checkpoint written for this network" in line
    else:
        assert bad.name in line and "--checkpoint" in line
    assert tree(out) == before == set()


# --- absurd sizes: refused before allocating, saying what the run needs and what the machine has ----

def _memory_case(case: str) -> list[str]:
    """CLI options of a run that needs more memory than this machine has available (estimated with the
    library; the one case that may fit on a big machine gets threads until it does not)."""
    from cnnperf.data.mnist import load_bytes
    from cnnperf.networks import resolve_network
    from cnnperf.parallel.memory import available_bytes, estimate_memory

    have = available_bytes()
    if have is None:
        pytest.skip("MemAvailable unknown (not Linux)")
    net, threads = (("small", 100_000) if case == "threads-100000" else (case, 2))
    e = estimate_memory(resolve_network(net), threads, load_bytes())
    if e.total_bytes <= have:
        if case == "threads-100000":
            pytest.skip(f"100,000 workers fit in {have:,} bytes here")
        threads = have // e.workspace_bytes + 1
    return ["--net", net, "--threads", str(threads)]


@pytest.mark.parametrize("case", ["29x29-100000C4-10N", "99999x99999-10N", "29x29-99999999999999999999C4-10N",
                                  "threads-100000"])
def test_run_too_big_for_memory_is_refused(case, tiny_mnist, out):
    r = cli("train", *_memory_case(case), "--data", str(tiny_mnist), "--quiet", "--json", str(out / "r.json"),
            "--checkpoint", str(out / "ck.npz"), timeout=120)
    line = refused(r)
    assert "this run needs about" in line and "available" in line and "fewer --threads" in line, line
    assert "MemoryError" not in r.stderr and "Overflow" not in r.stderr
    assert tree(out) == set()


@pytest.mark.parametrize("net,shape", [("5x5-10N", "1x5x5"), ("2x29x29-10N", "2x29x29")])
def test_network_input_must_match_mnist(net, shape, tiny_mnist, out):
    r = cli("train", "--net", net, "--data", str(tiny_mnist), "--quiet", "--json", str(out / "r.json"))
    line = refused(r)
    assert f"input layer {shape}" in line and "1x29x29" in line
    assert tree(out) == set()


# --- divergence -----------------------------------------------------------------------------------

def _data_for_learning(make_mnist, tmp_path) -> tuple[Path, list[str]]:
    if REAL:
        return Path(REAL), ["--train-images", "10000", "--test-images", "2000"]
    return make_mnist(tmp_path / "mnist", n_train=1000, n_test=200), []


def test_diverging_run_exits_3_naming_the_rule(make_mnist, tmp_path, out):
    data, subset = _data_for_learning(make_mnist, tmp_path)
    r = cli("train", "--data", str(data), *subset, "--lr", "50", "--threads", "2", "--epochs", "3", "--quiet",
            "--json", str(out / "r.json"))
    line = refused(r, code=3)
    assert "training diverged in epoch" in line and "rule:" in line and "chance is 2.30" in line
    assert tree(out) == set()


def test_healthy_run_is_not_stopped(make_mnist, tmp_path, out):
    data, subset = _data_for_learning(make_mnist, tmp_path)
    lr = "0.003" if REAL else "0.05"  # the learning tests' rate on MNIST; the tiny bars need more
    r = cli("train", "--data", str(data), *subset, "--lr", lr, "--threads", "2", "--epochs", "2", "--quiet",
            "--json", str(out / "r.json"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = json.loads((out / "r.json").read_text())
    assert doc["stopped"] == "completed" and doc["epochs"][-1]["test"]["error_rate"] < 0.2


# --- option values --------------------------------------------------------------------------------

def test_huge_learning_rate_is_refused_without_a_numpy_warning(tiny_mnist, out):
    r = cli("train", "--data", str(tiny_mnist), "--lr", "1e300", "--quiet", "--json", str(out / "r.json"))
    line = refused(r)
    assert "float32 range" in line and "--lr" in line and "Warning" not in r.stderr
    assert tree(out) == set()


def test_large_finite_learning_rate_diverges_without_a_numpy_warning(tiny_mnist, out):
    r = cli("train", "--data", str(tiny_mnist), "--lr", "1e38", "--quiet", "--json", str(out / "r.json"))
    line = refused(r, code=3)
    assert "non-finite weights" in line and "Warning" not in r.stderr


@pytest.mark.parametrize("argv,needle", [
    (["--threads", "-1"], "'-1' must be a positive integer"),
    (["--threads", "1e3"], "'1e3' is not an integer"),
    (["--divergence-loss", "1"], "must be a factor > 1"),
    (["--divergence-blocks", "0"], "'0' must be a positive integer"),
])
def test_bad_option_values(argv, needle, tiny_mnist, out):
    r = cli("train", "--data", str(tiny_mnist), *argv, "--quiet", "--json", str(out / "r.json"))
    line = refused(r)
    assert needle in line and "''" not in line
    assert tree(out) == set()
