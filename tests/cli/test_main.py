"""`cnnperf.cli.main`'s process-wide behaviour (as opposed to a verb's)."""

from __future__ import annotations

import subprocess
import sys

# An llvmlite object whose construction a Ctrl-C cut off before its pointer was set: its finaliser
# fails exactly as in a Numba compile interrupted by SIGINT (AttributeError in ObjectRef.detach).
HALF_BUILT = "from llvmlite.binding import ffi; o = ffi.ObjectRef.__new__(ffi.ObjectRef); del o"
# Any other failing finaliser, which must still be reported.
OTHER = "class A:\n    def __del__(self):\n        raise AttributeError('mine')\na = A(); del a"
HOOK = "import sys; from cnnperf.cli import quiet_interrupted_finaliser as q; sys.unraisablehook = q\n"


def stderr_of(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr


def test_half_built_llvm_object_prints_a_traceback_without_the_hook():
    """The reproduction is faithful: Python reports this finaliser's error by default."""
    assert "Traceback" in stderr_of(HALF_BUILT) and "_as_parameter_" in stderr_of(HALF_BUILT)


def test_hook_drops_only_the_interrupted_llvmlite_finaliser():
    assert stderr_of(HOOK + HALF_BUILT) == ""
    other = stderr_of(HOOK + OTHER)
    assert "Traceback" in other and "mine" in other


def test_the_program_installs_the_hook_and_main_does_not(monkeypatch, capsys):
    from cnnperf import cli

    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    assert cli.main([]) == 2  # no verb: help, exit code 2
    assert sys.unraisablehook is sys.__unraisablehook__  # a library call leaves the process's hooks alone
    monkeypatch.setattr(sys, "argv", ["cnnperf"])
    assert cli.entry_point() == 2
    assert sys.unraisablehook is cli.quiet_interrupted_finaliser


def test_console_script_and_module_run_the_entry_point():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"cnnperf": "cnnperf.cli:entry_point"}
    assert "entry_point()" in (root / "src" / "cnnperf" / "__main__.py").read_text()
