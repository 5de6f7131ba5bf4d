"""CLI end-to-end for `nets`, `--help`, `--version` and the one-line error contract."""

import subprocess
import sys

import pytest

from cnnperf.cli import main


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], capture_output=True, text=True, timeout=120)


def test_nets_show_medium(capsys):
    assert main(["nets", "show", "medium"]) == 0
    out = capsys.readouterr().out
    for text in ("76,040", "13,520", "340", "20C4"):
        assert text in out


def test_nets_show_large_caption(capsys):
    assert main(["nets", "show", "large"]) == 0
    out = capsys.readouterr().out
    assert "216,100" in out and "3,600" in out


def test_nets_list(capsys):
    assert main(["nets", "list"]) == 0
    out = capsys.readouterr().out
    assert "6,405" in out and "383,160" in out


@pytest.mark.parametrize("net", ["29x29-5C30-10N", "29x29-5C4-MP4-10N", "bogus", "29x29-5C4"])
def test_bad_net_is_one_line_exit_2(net):
    res = run_cli("nets", "show", net)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in res.stderr


def test_unknown_verb_is_one_line():
    res = run_cli("frobnicate")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_numba(flag):
    code = (
        "import sys; from cnnperf.cli import main\n"
        f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in sys.modules if m.startswith(('numba', 'cnnperf.engine', 'llvmlite'))]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "cnnperf" in res.stdout
