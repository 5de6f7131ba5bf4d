"""CLI end-to-end for `nets`, `--help`, `--version` and the one-line error contract."""

import subprocess
import sys

import pytest

from cnnperf.cli import main


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=False, capture_output=True, text=True,
                          timeout=120)


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
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "cnnperf" in res.stdout


EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"


def test_nets_show_prints_connection_type_and_fan_in(capsys):
    assert main(["nets", "show", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isdigit()}
    assert "table 3-6/6" in rows["3"] and "48-96" in rows["3"] and "976" in rows["3"]  # C3: 3 to 6 of 6 maps
    assert "average pooling" in rows["2"] and "full" in rows["5"] and "400" in rows["5"]
    assert "60,212" in out and "16C4t60" in out
    assert main(["nets", "show", "1x29x29-20C4-MP2-40C5r10-MP3-150N-10N"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("3 "))
    assert "random 10/20" in row and " 250 " in row and "10,040" in row and "seed 0" in out


@pytest.mark.parametrize("body", [
    "connections = 'table'\ntable = [[0], [7]]",
    "connections = 'random'\nfan_in = 9",
    "connections = 'dense'",
    "table = [[0], [0]]",
    "connections = 'table'\ntable = [[0], [0, 0]]",
    "connections = 'table'\ntable = [[0]]",
    "connections = 'table'\ntable = [[0], []]",
])
def test_bad_connection_table_is_one_line_exit_2(tmp_path, body):
    path = tmp_path / "bad.toml"
    path.write_text("[[layers]]\ntype = 'input'\nsize = 8\n\n[[layers]]\ntype = 'conv'\nmaps = 3\nkernel = 3\n\n"
                    f"[[layers]]\ntype = 'conv'\nmaps = 2\nkernel = 3\n{body}\n\n"
                    "[[layers]]\ntype = 'output'\nneurons = 2\n")
    res = run_cli("nets", "show", str(path))
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "layer 2" in lines[0] and "Traceback" not in res.stderr
