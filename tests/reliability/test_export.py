"""Reliability of `cnnperf export` through the CLI (issue 12): results files that are missing,
no JSON, not a validation result, or hold runs without `p`, with wrong types or impossible values
(NaN, negative, p = 0), and unwritable outputs are refused with one line (exit 2), nothing written."""

import json
import math

import pytest

from .harness import BAD_OUTPUTS, check_refused, cli, survived, write_output_obstacles


def _run(p: int, k: int = 0, **kw) -> dict:
    """One stored run as `cnnperf validate` writes it (validation.sweep.Run as a dict)."""
    from dataclasses import fields

    from cnnperf.validation.sweep import Run

    values = {"net": "tiny", "p": p, "repeat": k, "seconds": 1.0 / (1 + p), "train_s": 0.6 / (1 + p),
              "validation_s": 0.2 / (1 + p), "test_s": 0.1 / (1 + p), "prep_s": 0.1, "test_error": 0.1}
    assert set(values) == {f.name for f in fields(Run)}  # the record has not changed shape
    return {**values, **kw}


def _doc(runs) -> str:
    return json.dumps({"profile": "m", "config": {"epochs": 1}, "runs": runs})


def _without(key: str) -> str:
    runs = [_run(1), _run(2)]
    del runs[1][key]
    return _doc(runs)


RESULTS = {  # id -> (content of results.json, words of the error)
    "empty-file": ("", ["is not a cnnperf validation result"]),
    "garbage": ("garbage{", ["is not a cnnperf validation result"]),
    "a-list": ("[1, 2]", ["is not a cnnperf validation result (no list 'runs')"]),
    "runs-not-a-list": ('{"runs": 5}', ["no list 'runs'"]),
    "no-runs": ('{"runs": []}', ["holds no runs"]),
    "run-not-an-object": ('{"runs": [5]}', ["run 0 lacks all", "written by 'cnnperf validate'"]),
    "run-lacks-p": (_without("p"), ["run 1 lacks p", "give a results file written by 'cnnperf validate'"]),
    "run-lacks-seconds": (_without("seconds"), ["run 1 lacks seconds"]),
    "seconds-text": (_doc([_run(1), _run(2, seconds="fast")]), ["run 1 has values of the wrong type or range in "
                                                                "seconds"]),
    "seconds-nan": (_doc([_run(1), _run(2, seconds=math.nan)]), ["wrong type or range in seconds"]),
    "seconds-infinite": (_doc([_run(1), _run(2, seconds=math.inf)]), ["wrong type or range in seconds"]),
    "seconds-negative": (_doc([_run(1), _run(2, seconds=-1.0)]), ["wrong type or range in seconds"]),
    "p-zero": (_doc([_run(1), _run(0)]), ["wrong type or range in p"]),
    "p-fraction": (_doc([_run(1), {**_run(2), "p": 2.5}]), ["wrong type or range in p"]),
    "p-bool": (_doc([_run(1), {**_run(2), "p": True}]), ["wrong type or range in p"]),
    "net-number": (_doc([_run(1), _run(2, net=5)]), ["wrong type or range in net"]),
    "point-missing": (_doc([_run(1), _run(2), _run(1, net="other")]), ["other has no runs at p = [2]",
                                                                       "Extra-P needs every point"]),
    "binary": (b"\xff\xfe\x00", ["is not a cnnperf validation result"]),
}


@pytest.mark.parametrize("case", sorted(RESULTS))
def test_bad_results_file_is_refused(case, tmp_path):
    content, needles = RESULTS[case]
    f = tmp_path / "results.json"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    line = check_refused(tmp_path, ["export", "--results", "results.json", "--extrap", "e.txt"], needles)
    assert "results.json" in line or "Extra-P" in line


@pytest.mark.parametrize("path,needles", [
    ("missing.json", ["missing.json not found", "run 'cnnperf validate --out DIR' first"]),
    ("adir", ["adir is a directory", "give the results.json written by 'cnnperf validate'"]),
])
def test_no_results_file_is_refused(path, needles, tmp_path):
    (tmp_path / "adir").mkdir()
    check_refused(tmp_path, ["export", "--results", path, "--extrap", "e.txt"], needles)


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_unwritable_output_is_refused(case, tmp_path):
    path, needles = BAD_OUTPUTS[case]
    write_output_obstacles(tmp_path)
    (tmp_path / "results.json").write_text(_doc([_run(1), _run(2)]))
    check_refused(tmp_path, ["export", "--results", "results.json", "--extrap", path], needles)


def test_good_results_are_exported(tmp_path):
    """The runs the cases above break, unbroken, export (the refusals are about the damage)."""
    (tmp_path / "results.json").write_text(_doc([_run(1), _run(2), _run(1, 1), _run(2, 1)]))
    r = cli(tmp_path, "export", "--results", "results.json", "--extrap", "e.txt")
    assert survived(r) == "" and "4 runs" in r.stdout
    text = (tmp_path / "e.txt").read_text()
    assert "POINTS ( 1 ) ( 2 )" in text and "REGION tiny" in text and "nan" not in text
