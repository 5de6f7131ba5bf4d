"""The public Python API: the same numbers as the CLI, frozen results, a fast import, the README example."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnperf
from cnnperf.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("argv", [
    ["--net", "medium", "--threads", "1-3840:x2"],
    ["--net", "large", "--threads", "240,480", "--images", "120000", "--test-images", "20000", "--epochs", "30"],
    ["--net", "small", "--threads", "64,128", "--ranks", "1,4", "--sync-every", "500", "--profile", "phi-cluster-fdr"],
])
def test_predict_gives_exactly_the_numbers_of_the_cli_json(tmp_path, argv, capsys):
    out = tmp_path / "p.json"
    assert main(["predict", *argv, "--json", str(out)]) == 0
    capsys.readouterr()
    rows = json.loads(out.read_text())["predictions"]
    opt = dict(zip(argv[::2], argv[1::2]))
    from cnnperf.commands._args import int_list
    threads = int_list(opt["--threads"])
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    assert len(strategies) >= 2
    for r_count in int_list(opt.get("--ranks", "1")):
        for s in strategies:
            kw = {}
            if "--ranks" in opt:
                kw = {"ranks": r_count, "sync_every": int(opt["--sync-every"])}
            pred = cnnperf.predict(opt["--net"], opt.get("--profile", "xeon-phi-7120p"), s, threads,
                                   int(opt.get("--images", 60000)), int(opt.get("--test-images", 10000)),
                                   int(opt["--epochs"]) if "--epochs" in opt else None, **kw)
            mine = [r for r in rows if r["strategy"] == s and r["ranks"] == r_count]
            assert [r["seconds"] for r in mine] == pred.seconds.tolist()  # exactly, not approximately
            assert [r["terms"] for r in mine] == [r["terms"] for r in pred.rows()]


def test_results_are_frozen_dataclasses():
    pred = cnnperf.predict("small", threads=[1, 2])
    counts = cnnperf.count("small")
    for obj in (pred, counts, cnnperf.network("small"), cnnperf.profile("xeon-phi-7120p"), cnnperf.reproduce()):
        assert dataclasses.is_dataclass(obj)
        field = dataclasses.fields(obj)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, None)
    from cnnperf.models import DEFAULT_STRATEGY
    assert pred.strategy == DEFAULT_STRATEGY
    assert np.all(pred.seconds > 0) and set(pred.terms) == {"prep", "train", "validate", "test", "mem"}


def test_api_errors_are_one_line_cnnperf_errors():
    from cnnperf.errors import CnnperfError
    with pytest.raises(CnnperfError, match="has no network 'huge'"):
        cnnperf.predict("huge")
    with pytest.raises(CnnperfError, match="unknown strategy"):
        cnnperf.predict("small", strategy="z")
    with pytest.raises(CnnperfError, match="thread counts"):
        cnnperf.predict("small", threads=[])


def test_import_cnnperf_is_fast_and_loads_neither_numpy_nor_numba():
    code = ("import sys, time; t = time.perf_counter(); import cnnperf; dt = time.perf_counter() - t; "
            "print(dt, 'numpy' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]
    assert float(out[0]) < 0.5  # generous: a bare import takes milliseconds


def test_predict_through_the_api_compiles_nothing():
    code = ("import sys, cnnperf; cnnperf.predict('large', threads=[240]); cnnperf.count('medium'); "
            "print('numba' in sys.modules or 'cnnperf.engine.api' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_readme_python_api_example_runs():
    text = README.read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "the example prints its result"
