"""The CLI as a new user meets it (issue 12): `python -m cnnperf ...` in a subprocess, in a scratch
directory, with no real data, no download and no shared cache. A refused command ends with exit
code 2 and exactly one line on stderr naming the problem and the fix, no traceback, no
RuntimeWarning or other Python warning, and leaves the directory as it was (no file, no folder)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

WARNING = re.compile(r"\b\w*Warning\b|numpy|Traceback")  # Python's own warning and error text, not 'warning:' lines


def env_of(tmp: Path, extra: dict | None = None) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("CNNPERF_DATA", "CNNPERF_MNIST_MIRRORS")}
    return {**base, "CNNPERF_MNIST_MIRRORS": "http://127.0.0.1:9/", "CNNPERF_CACHE_DIR": str(tmp / ".cache"),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(extra or {})}


def cli(cwd: Path, *argv: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m cnnperf ARGV` run in `cwd` (relative paths in ARGV land there)."""
    return subprocess.run([sys.executable, "-m", "cnnperf", *map(str, argv)], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=timeout, env=env_of(cwd, env))


def popen(cwd: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnnperf", *map(str, argv)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_of(cwd))


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its kind, size and modification time (a change shows)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    return out


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative (what a command left behind)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def refused(r: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    """Exit `code`, exactly one line on stderr (the verb's error), no traceback or Python warning,
    and every needle in it; returns the line."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, r.stderr[-3000:]
    assert len(lines) == 1, r.stderr[-3000:]
    assert not WARNING.search(r.stderr), r.stderr
    line = lines[0]
    assert line.startswith("cnnperf ") and " error: " in line, line
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line}"
    return line


def survived(r: subprocess.CompletedProcess) -> str:
    """Exit 0 and no traceback or Python warning; returns stderr (progress and 'warning:' lines)."""
    assert r.returncode == 0, r.stderr[-3000:]
    assert not WARNING.search(r.stderr), r.stderr
    return r.stderr


def check_refused(tmp: Path, argv, needles, code: int = 2) -> str:
    """Run ARGV in `tmp`; it is refused (see `refused`) and `tmp` is exactly as before."""
    before = snapshot(tmp)
    line = refused(cli(tmp, *argv), *needles, code=code)
    assert snapshot(tmp) == before, "the refused command changed its directory"
    return line


HUGE = "1" + "0" * 5000  # beyond Python's 4,300-digit limit of int()
PHI = Path(__file__).parents[2] / "src" / "cnnperf" / "hardware" / "profiles" / "xeon-phi-7120p.toml"


def phi_with(tmp: Path, old: str, new: str, name: str = "bad.toml", count: int = 1) -> str:
    """The built-in Xeon Phi profile with `old` replaced by `new` (`count` times), written to tmp/name."""
    text = PHI.read_text()
    assert old in text, old
    (tmp / name).write_text(text.replace(old, new, count))
    return name


TINY = "29x29-2C4-MP2-10N"  # a network the engine trains in microseconds

# Networks a user may mistype, as --net NET (predict, count, nets show, calibrate --nets, ...): id ->
# (NET, words of the one-line error). Files named here are written by `write_network_files`.
BAD_NETWORKS = {
    "unknown-name": ("bogus", ["unknown network 'bogus'", "give a preset"]),
    "trailing-dash": ("29x29-", ["malformed network notation", "expected e.g."]),
    "lowercase-layer": ("29x29-2c4-10N", ["unknown layer '2c4'", "use nCk"]),
    "kernel-too-big": ("29x29-4C30-10N", ["kernel 30x30 is larger", "use a kernel <= 29"]),
    "pool-not-divisor": ("29x29-MP4-10N", ["pooling size 4 does not divide", "use a divisor of 29"]),
    "conv-after-full": ("29x29-10N-4C2-10N", ["convolution after a fully connected layer is not supported"]),
    "one-class": ("29x29-2C4-MP2-1N", ["at least 2 neurons"]),
    "not-square": ("29x28-10N", ["'29x28' is not square"]),
    "zero-maps": ("29x29-0C4-10N", ["maps must be a positive integer, got 0"]),
    "zero-input-maps": ("0x29x29-10N", ["input maps must be a positive integer"]),
    "above-1e30": ("29x29-" + "9" * 31 + "N-10N", ["is too large", "at most 1e30"]),
    "5001-digits": (f"29x29-{HUGE}N-10N", ["(5001 digits)", "at most 1e30"]),
    "directory-x.toml": ("x.toml", ["x.toml is a directory", "a TOML file"]),
    "missing-toml": ("missing.toml", ["missing.toml not found", "a TOML file"]),
    "malformed-toml": ("malformed.toml", ["malformed TOML in malformed.toml"]),
    "binary-toml": ("binary.toml", ["cannot read network file binary.toml"]),
    "toml-size-text": ("size-text.toml", ["size must be an integer, got '29'"]),
    "toml-layers-int": ("layers-int.toml", ["needs a non-empty [[layers]] array"]),
    "toml-activation": ("activation.toml", ["unknown activation 'softplus'", "use one of"]),
    "toml-5001-digits": ("digits.toml", ["malformed TOML in digits.toml", "5001 digits", "fix the file"]),
}
ABSURD_NETWORKS = ["29x29-100000C4-10N", "99999x99999-10N", "29x29-99999999999999999999C4-10N"]

_LAYERS = '[[layers]]\ntype = "input"\nsize = {size}\n\n[[layers]]\ntype = "output"\nneurons = {neurons}\n'


def write_network_files(tmp: Path) -> None:
    (tmp / "x.toml").mkdir()
    (tmp / "malformed.toml").write_text("this is = = not toml")
    (tmp / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (tmp / "size-text.toml").write_text(_LAYERS.format(size='"29"', neurons=10))
    (tmp / "layers-int.toml").write_text('name = "n"\nlayers = 5\n')
    (tmp / "activation.toml").write_text('activation = "softplus"\n' + _LAYERS.format(size=29, neurons=10))
    (tmp / "digits.toml").write_text(_LAYERS.format(size=29, neurons=HUGE))

# Broken profiles, as --profile PATH: id -> (text replaced in the built-in Xeon Phi profile, its
# replacement, words of the one-line error); the file is bad.toml. And files that are no profile.
BAD_PROFILE_EDITS = {
    "cores-text": ("cores = 61", 'cores = "61"', ["'cores' must be a plain number"]),
    "cores-zero": ("cores = 61", "cores = 0", ["'cores' must be positive, got 0"]),
    "cores-fraction": ("cores = 61", "cores = 61.5", ["'cores' must be an integer, got 61.5"]),
    "cores-bool": ("cores = 61", "cores = true", ["'cores' must be a finite number, got True"]),
    "clock-nan": ("clock_hz = 1.238e9", "clock_hz = nan", ["'clock_hz' must be a finite number, got nan"]),
    "clock-in-ghz": ("clock_hz = 1.238e9", "clock_ghz = 1.238", ["wrong unit", "give 'clock_hz' instead"]),
    "cpi-not-a-list": ("threads_per_core = [1, 2, 3, 4]", "threads_per_core = 4",
                       ["'threads_per_core' must be a non-empty list of positive integers, got 4"]),
    "cpi-lengths": ("cycles_per_instruction = [1.0, 1.0, 1.5, 2.0]", "cycles_per_instruction = [1.0, 1.0, 1.5]",
                    ["need the same length"]),
    "contention-threads-int": ("threads = [1, 15, 30, 60, 120, 180, 240, 480, 960, 1920, 3840]", "threads = 5",
                               ["memory_contention: 'threads' must be a non-empty list"]),
    "contention-status": ('status = ["measured", "measured"', 'status = ["measured", "guessed"',
                          ["status must be a list of measured or extrapolated"]),
    "sources-text": ("t_bprop_s = 5.3e-3\n", 't_bprop_s = 5.3e-3\nsources = "paper"\n',
                     ["networks.small.sources must be a table"]),
    "notation-int": ('notation = "1x29x29-5C4-MP2-10C5-MP3-50N-10N"', "notation = 5",
                     ["'notation' must be a string, got 5"]),
    "epochs-fraction": ("epochs = 70", "epochs = 70.5", ["'epochs' must be an integer, got 70.5"]),
    "time-negative": ("t_bprop_s = 5.3e-3", "t_bprop_s = -5.3e-3", ["'t_bprop_s' must be positive"]),
    "time-in-ms": ("t_fprop_s = 1.45e-3", "t_fprop_ms = 1.45", ["wrong unit", "'t_fprop_s'"]),
    "time-text": ("t_fprop_s = 1.45e-3", 't_fprop_s = "1.45 ms"', ["must be a plain number (unit in the key name)"]),
    "schema-7": ("schema_version = 1", "schema_version = 7", ["unknown schema_version 7", "schema_version = 1"]),
    "schema-missing": ("schema_version = 1\n", "\n", ["missing 'schema_version'"]),
    "name-int": ('name = "xeon-phi-7120p"', "name = 3", ["'name' must be a string, got 3"]),
    "oversubscription": ("threads_per_core = 4\n", 'threads_per_core = 4\noversubscription = "magic"\n',
                         ["oversubscription must be one of none, time-slicing"]),
    "network-alpha": ("schema_version = 1\n",
                      "schema_version = 1\nnetwork = {alpha_s = -1.0, beta_bytes_per_s = 1e9}\n",
                      ["'alpha_s' must be non-negative"]),
    "machine-model-version": ("version = 1\nkind", "version = 9\nkind", ["machine_model: unknown version 9",
                                                                        "calibrate again"]),
    "machine-model-array": ("[machine_model]", "[[machine_model]]", ["[machine_model] must be a table"]),
    "malformed-toml": ("[networks.small]", "[networks.small", ["malformed TOML", "fix the file"]),
    "5001-digits": ("epochs = 70", f"epochs = {HUGE}", ["malformed TOML", "5001 digits", "fix the file"]),
}
BAD_PROFILE_FILES = {  # id -> (--profile value, words)
    "unknown-name": ("nope", ["unknown profile 'nope'", "or a TOML file path"]),
    "missing-file": ("missing.toml", ["profile file missing.toml not found", "give a TOML file"]),
    "directory-x.toml": ("x.toml", ["profile x.toml is a directory", "give a TOML file"]),
    "empty-file": ("empty.toml", ["missing 'schema_version'"]),
    "binary-file": ("binary.toml", ["cannot read profile", "binary.toml"]),
}


def write_profile_files(tmp: Path) -> None:
    (tmp / "x.toml").mkdir(exist_ok=True)
    (tmp / "empty.toml").write_text("")
    (tmp / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")


# Output paths that cannot be written, as --json/--out/--extrap PATH: id -> (PATH, words); the
# obstacles are made by `write_output_obstacles`. (Not /dev/null: if the refusal ever broke, the
# atomic rename would replace the system's /dev/null when the tests run as root.)
BAD_OUTPUTS = {
    "missing-directory": ("nodir/out.json", ["directory nodir does not exist", "create it or choose another path"]),
    "is-a-directory": ("x.toml", ["x.toml is a directory", "give a file path"]),
    "proc": ("/proc/cnnperf-out.json", ["cannot write /proc/cnnperf-out.json", "choose another path"]),
    "named-pipe": ("pipe", ["pipe is not a regular file", "give a file path"]),
}


def write_output_obstacles(tmp: Path) -> None:
    (tmp / "x.toml").mkdir(exist_ok=True)
    os.mkfifo(tmp / "pipe")
