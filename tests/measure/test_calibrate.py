"""Calibration end-to-end on tiny settings: profile produced, loadable, resumable; timing flags."""

import json

import pytest

from cnnperf.hardware import load_profile
from cnnperf.measure.calibrate import CalibrationConfig, calibrate, fit_operation_factor
from cnnperf.measure.timing import Measurement

pytestmark = pytest.mark.xdist_group("test_calibrate")  # one worker: its module-scoped fixtures run once


def test_measurement_flags():
    assert Measurement((1.0, 1.0, 1.0)).flags == ()
    assert any("noisy" in f for f in Measurement((1.0, 2.0, 1.0)).flags)
    assert any("short" in f for f in Measurement((1e-4, 1e-4)).flags)
    assert Measurement((2.0, 4.0, 3.0), per=2).value == 1.5


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "tiny.toml"
    logs = []
    calibrate(CalibrationConfig(nets=("small",), threads=(1, 2), quick=True, repeats=3), out, logs.append)
    return out, logs


def test_calibrate_writes_a_valid_profile(tiny_profile):
    out, logs = tiny_profile
    p = load_profile(str(out))
    n = p.network("small")
    assert p.oversubscription == "time-slicing" and p.cores >= 1 and p.clock_hz > 0
    assert 0 < n.t_fprop_s < 1e-2 and 0 < n.t_bprop_s < 1e-2 and n.t_prep_s > 0
    assert n.contention.threads == (1, 2) and n.contention.seconds[0] == 0.0
    assert n.operation_factor > 0 and n.fprop_ops > 0
    assert set(n.sources) >= {"t_fprop_s", "t_bprop_s", "t_prep_s", "operation_factor", "memory_contention"}
    assert "median of" in n.sources["t_fprop_s"]
    assert p.extra["detected"]["sources"]["clock_hz"]
    assert not out.with_name(out.name + ".partial.json").exists()
    assert any(line.startswith("small: TFprop") for line in logs)


def test_interrupted_calibration_resumes_from_saved_steps(tmp_path):
    out = tmp_path / "r.toml"
    config = CalibrationConfig(nets=("small",), threads=(1,), quick=True, repeats=3)
    state = {"fingerprint": config.fingerprint(), "steps": {
        "cpi": {"1": 1.0},
        "small/times": {"t_fprop_s": 1.25e-5, "t_bprop_s": 2.5e-5, "src_f": "saved", "src_t": "saved"}}}
    out.with_name(out.name + ".partial.json").write_text(json.dumps(state))
    logs = []
    calibrate(config, out, logs.append)
    n = load_profile(str(out)).network("small")
    assert n.t_fprop_s == 1.25e-5 and n.t_bprop_s == 2.5e-5  # taken from the saved step, not re-measured
    assert any("resuming: 2 step(s)" in line for line in logs)


def test_operation_factor_reproduces_the_reference_run(tiny_profile):
    """(a) with the fitted OF predicts the reference run it was fitted on (by construction): check the algebra."""
    from cnnperf.models import strategy_a
    from cnnperf.networks import preset
    p = load_profile(str(tiny_profile[0]))
    n = p.network("small")
    of, src = fit_operation_factor(preset("small"), n, p, 1, 200, 1)
    measured = float(src.split("measured ")[1].split(" s")[0])
    from dataclasses import replace
    pred = strategy_a.predict(replace(n, operation_factor=of), p, 1, 200, 40, 1).seconds
    assert float(pred) == pytest.approx(measured, rel=2e-3)


def test_calibrating_a_toml_network_with_an_awkward_name_reads_back(tmp_path):
    """`calibrate --nets /path/tiny.toml`: the entry is keyed by the network's name, which may
    hold dots and quotes, and the profile reads back (it did not when TOML was written by hand)."""
    net = tmp_path / "tiny.toml"
    net.write_text('name = "my.tiny \\"net\\""\n[[layers]]\ntype = "input"\nsize = 29\n'
                   '[[layers]]\ntype = "conv"\nmaps = 2\nkernel = 4\n[[layers]]\ntype = "maxpool"\nsize = 2\n'
                   '[[layers]]\ntype = "output"\nneurons = 10\n')
    out = tmp_path / "p.toml"
    calibrate(CalibrationConfig(nets=(str(net),), threads=(1,), quick=True, repeats=3), out, lambda m: None)
    p = load_profile(str(out))
    assert list(p.networks) == ['my.tiny "net"']
    assert p.networks['my.tiny "net"'].notation == "1x29x29-2C4-MP2-10N"


def test_calibrated_values_carry_their_uncertainty_and_the_machine_noise(tiny_profile):
    from cnnperf.measure.calibrate import noise_line
    out, logs = tiny_profile
    text = out.read_text()
    assert "schema_version = 2" in text and "[noise]" in text and "[networks.small.uncertainty.t_fprop_s]" in text
    p = load_profile(str(out))
    n = p.network("small")
    assert set(n.uncertainty) == {"t_fprop_s", "t_bprop_s", "t_prep_s", "operation_factor"}
    for key, s in n.uncertainty.items():
        v = getattr(n, key)
        assert s.samples >= 3 and s.ci_low <= v <= s.ci_high and s.low <= s.high, key
    assert n.contention.spread[0].samples == 0 and n.contention.spread[1].samples >= 3  # p = 1: 0 by definition
    assert p.noise.regions >= 3 * 5 and p.noise.levels[0] == 0.0 and p.noise.window_s[0] > 0
    assert "interleaved blocks" in n.sources["t_fprop_s"] and "reached" in n.sources["t_fprop_s"]
    line = noise_line(p)
    assert line.startswith("drift ") and "during calibration" in line and "expect predictions within" in line
    assert any(line.startswith("protocol: ") for line in logs)


def test_a_spent_budget_stops_at_the_minimum_of_blocks_and_says_so(tmp_path):
    out = tmp_path / "b.toml"
    calibrate(CalibrationConfig(nets=("small",), threads=(1,), quick=True, budget_s=1e-3), out, lambda m: None)
    n = load_profile(str(out)).network("small")
    assert n.uncertainty["t_fprop_s"].samples == 3 and "budget reached" in n.sources["t_fprop_s"]
