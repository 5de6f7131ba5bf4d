"""CLI end-to-end: predict, count, reproduce, profile show (text and JSON); cold start imports no Numba."""

import json
import subprocess
import sys

import pytest

from cnnperf.cli import main


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "cnnperf", *argv], capture_output=True, text=True, timeout=120)


def test_predict_text_and_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["predict", "--net", "medium", "--threads", "480-3840:x2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "first row substituted" in text and "T = TPrep" in text and "beyond" in text
    doc = json.loads(out.read_text())
    rows = doc["predictions"]
    assert [r["p"] for r in rows] == [480, 960, 1920, 3840] * 2
    b = [r for r in rows if r["strategy"] == "b"]
    assert all(abs(r["seconds"] / 60 - v) <= 0.1 for r, v in zip(b, [39.1, 25.1, 18.0, 14.5]))
    assert set(b[0]["terms"]) >= {"prep", "train", "validate", "test", "mem", "cpi", "threads_per_core"}
    assert b[0]["epochs"] == 70 and b[0]["images"] == 60000 and b[0]["test_images"] == 10000


def test_predict_custom_run(capsys):
    assert main(["predict", "--strategy", "a", "--threads", "240", "--images", "120000", "--test-images", "20000",
                 "--epochs", "140"]) == 0
    assert "35.0" in capsys.readouterr().out.replace("34.9", "35.0")  # Table XI cell (within rounding)


def test_count_text_and_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["count", "--net", "medium", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "convention" in text and "paper" in text and "ratio" in text
    doc = json.loads(out.read_text())
    assert doc["fprop_ops"] == sum(layer["fprop_ops"] for layer in doc["layers"])
    assert main(["count", "--net", "1x8x8-2C3-MP2-3N"]) == 0
    assert "only for the presets" in capsys.readouterr().out


def test_reproduce_exit_0_and_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["reproduce", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Prep = 1e9" in text and "all checked cells reproduced" in text
    doc = json.loads(out.read_text())
    assert doc["ok"] and len(doc["cells"]) == 54


def test_profile_show_and_list(capsys):
    assert main(["profile", "show", "xeon-phi-7120p"]) == 0
    text = capsys.readouterr().out
    assert "1.238 GHz" in text and "2.19 *" in text and "244 hardware threads" in text
    assert main(["profile", "list"]) == 0 and "xeon-phi-7120p" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["predict", "--net", "huge"], "has no network 'huge'"),
    (["predict", "--profile", "nope"], "unknown profile"),
    (["predict", "--threads", "0"], "--threads"),
    (["predict", "--threads", "abc"], "--threads"),
    (["predict", "--json", "/no/such/dir/p.json"], "p.json"),
    (["profile", "show", "missing.toml"], "not found"),
    (["count", "--net", "29x29-20C30-10N"], "larger than"),
])
def test_bad_input_exit_2(argv, needle):
    r = run_cli(*argv)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cold_start_imports_no_numba():
    code = ("import sys, time; t=time.perf_counter(); from cnnperf.cli import main; "
            "main(['predict','--threads','1-3840:x2']); main(['reproduce']); "
            "print('NUMBA' if 'numba' in sys.modules or 'cnnperf.engine' in sys.modules else 'CLEAN')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("CLEAN")
