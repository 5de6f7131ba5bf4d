"""Schema 2: every measured value carries its uncertainty (Spread), the machine's noise ([noise]);
schema 1 files (built-in and calibrated by earlier versions) still load; sampling draws each
value from its stored distribution."""

import dataclasses
import tomllib

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.hardware import SCHEMA_VERSION, load_profile, profile_to_toml, save_profile
from cnnperf.hardware.profile import Noise, ReferenceRuns, Spread
from cnnperf.hardware.toml_io import resolve_profile_path

# without its layer model (refitted to its three networks; sampled by its own tests in tests/models)
PHI = dataclasses.replace(load_profile("xeon-phi-7120p"), machine_model=None)

# A profile as `cnnperf calibrate` wrote it before schema 2 (cnnperf 0.1, abridged: one network).
V1_CALIBRATED = '''schema_version = 1
name = "mymachine"
description = "AMD EPYC, 2 cores x 1 threads (cnnperf calibrate)"
source = "cnnperf calibrate on this machine"

[machine]
clock_hz = 2596000000.0
cores = 2
threads_per_core = 1
oversubscription = "time-slicing"

[cpi]
threads_per_core = [1]
cycles_per_instruction = [1.0]

[networks.small]
epochs = 70
operation_factor = 2.31
prep_ops = 6409.0
fprop_ops = 62166.0
bprop_ops = 296000.0
t_prep_s = 0.00061
t_fprop_s = 5.1e-06
t_bprop_s = 1.32e-05
notation = "1x29x29-5C4-MP2-10C5-MP3-50N-10N"

[networks.small.memory_contention]
threads = [1, 2, 4]
seconds = [0.0, 1.1e-06, 2.4e-06]
status = ["measured", "measured", "measured"]

[networks.small.sources]
t_fprop_s = "measured: median of 5, cv 1.0 %"

[detected]
model_name = "AMD EPYC"
logical_cpus = 2
quick = false
'''


def _spread(v, rel=0.02, samples=9):
    return Spread(v * (1 - rel), v * (1 + rel), v * 0.97, v * 1.3, samples)


def v2_profile():
    n = PHI.networks["small"]
    c = dataclasses.replace(n.contention, spread=tuple(_spread(s, samples=0 if k == 0 else 7)
                                                       for k, s in enumerate(n.contention.seconds)))
    entry = dataclasses.replace(n, contention=c, uncertainty={"t_fprop_s": _spread(n.t_fprop_s),
                                                              "t_bprop_s": _spread(n.t_bprop_s, 0.05)},
                                reference_runs=ReferenceRuns((1, 2), (30.0, 16.0), 6000, 1200, 1,
                                                             (_spread(30.0), _spread(16.0))))
    noise = Noise((0.1, 1.0, 10.0), (0.0, 0.05, 0.5, 0.95, 1.0),
                  ((0.95, 0.98, 1.0, 1.3, 1.4), (0.97, 0.99, 1.01, 1.2, 1.3), (0.99, 1.0, 1.02, 1.1, 1.15)),
                  region_drift=0.3, probe_drift=0.2, duration_s=120.0, regions=300, probe="numpy sort")
    return dataclasses.replace(PHI, networks={"small": entry}, noise=noise,
                               cpi_spread={1: Spread(1, 1, 1, 1, 0), 2: Spread(1, 1, 1, 1, 0),
                                           3: _spread(1.5), 4: _spread(2.0)})


def test_schema_1_files_still_load(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(V1_CALIBRATED)
    p = load_profile(str(path))
    n = p.network("small")
    assert (n.t_fprop_s, n.contention.seconds, p.oversubscription) == (5.1e-06, (0.0, 1.1e-06, 2.4e-06), "time-slicing")
    assert n.uncertainty == {} and n.contention.spread == () and p.noise is None and not p.uncertain()
    assert tomllib.loads(profile_to_toml(p))["schema_version"] == SCHEMA_VERSION == 2  # rewritten as schema 2
    assert "schema_version = 1" in resolve_profile_path("xeon-phi-7120p").read_text()  # the built-in: schema 1


def test_schema_2_round_trip_keeps_every_uncertainty(tmp_path):
    p = v2_profile()
    back = load_profile(str(save_profile(tmp_path / "v2.toml", p)))
    assert back == p
    doc = tomllib.loads((tmp_path / "v2.toml").read_text())
    small = doc["networks"]["small"]
    assert set(small["uncertainty"]["t_fprop_s"]) == {"ci_low", "ci_high", "low", "high", "samples"}
    assert small["memory_contention"]["samples"][0] == 0 and len(small["memory_contention"]["ci_low"]) == 11
    assert doc["noise"]["factors"][0] == [0.95, 0.98, 1.0, 1.3, 1.4] and doc["cpi"]["samples"] == [0, 0, 9, 9]
    assert small["reference_runs"]["seconds"] == [30.0, 16.0] and small["reference_runs"]["samples"] == [9, 9]


@pytest.mark.parametrize("edit,needle", [
    (lambda d: d["networks"]["small"]["uncertainty"]["t_fprop_s"].pop("ci_high"), "missing key 'ci_high'"),
    (lambda d: d["networks"]["small"]["uncertainty"].update(epochz={}), "'epochz' is not a measured number"),
    (lambda d: d["networks"]["small"]["uncertainty"]["t_fprop_s"].update(ci_low=1.0), "ci_low <= ci_high"),
    (lambda d: d["networks"]["small"]["memory_contention"].pop("high"), "go together; missing high"),
    (lambda d: d["networks"]["small"]["memory_contention"].update(samples=[1, 2]), "'samples' must be a list of 11"),
    (lambda d: d["networks"]["small"]["uncertainty"]["t_bprop_s"].update(samples=2.5), "'samples' must be an integer"),
    (lambda d: d["noise"].update(factors=[[1.0]]), "one list per window"),
    (lambda d: d["networks"]["small"]["reference_runs"].update(seconds=[1.0]), "need the same length"),
    (lambda d: d["networks"]["small"]["reference_runs"].pop("images"), "missing key 'images'"),
    (lambda d: d["noise"].update(levels=[0.5, 0.1, 0.9, 0.95, 1.0]), "must increase"),
    (lambda d: d.update(schema_version=True), "unknown schema_version"),
])
def test_bad_uncertainty_one_line(tmp_path, edit, needle):
    import tomli_w
    doc = tomllib.loads(profile_to_toml(v2_profile()))
    edit(doc)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(CnnperfError, match=needle) as info:
        load_profile(str(path))
    assert "\n" not in str(info.value) and "bad.toml" in str(info.value)


def test_sample_draws_only_what_has_a_spread():
    p = v2_profile()
    rng = np.random.default_rng(0)
    draws = [p.sample(rng) for _ in range(2000)]
    n0 = p.networks["small"]
    tf = np.array([d.networks["small"].t_fprop_s for d in draws])
    prep = {d.networks["small"].t_prep_s for d in draws}
    mc0 = {d.networks["small"].contention.seconds[0] for d in draws}
    assert prep == {n0.t_prep_s} and mc0 == {n0.contention.seconds[0]}  # no spread / samples = 0: exact
    # split normal with 95 % interval [0.98, 1.02] x value: 95 % of draws inside, median at the value
    inside = np.mean((tf >= n0.t_fprop_s * 0.98) & (tf <= n0.t_fprop_s * 1.02))
    assert 0.93 < inside < 0.97 and np.median(tf) == pytest.approx(n0.t_fprop_s, rel=3e-3)
    assert {d.cpi[1] for d in draws} == {1.0} and len({d.cpi[4] for d in draws}) == 2000
    assert PHI.sample(rng) == PHI and not PHI.uncertain() and p.uncertain()


def test_sample_calls_sample_on_any_part_that_has_one():
    """A part of a profile with its own sample(rng) (e.g. a machine model) is perturbed too."""
    @dataclasses.dataclass(frozen=True)
    class Part:
        c: float = 1.0

        def sample(self, rng):
            return Part(self.c * (1 + 0.1 * rng.standard_normal()))

    p = dataclasses.replace(PHI, machine_model=Part())
    s = p.sample(np.random.default_rng(1))
    assert s.machine_model.c != 1.0 and p.uncertain()


def test_noise_factors_interpolate_quantiles_and_windows():
    noise = v2_profile().noise
    f = noise.factors_at(np.array([0.0, 0.05, 0.5, 0.95, 1.0, 0.275]), np.array([0.1, 10.0, 1000.0]))
    assert f.shape == (6, 3)
    assert list(f[:, 0][:5]) == pytest.approx([0.95, 0.98, 1.0, 1.3, 1.4])
    assert f[5, 0] == pytest.approx(0.99)  # halfway between the 0.05 and 0.5 quantiles
    assert list(f[:, 1][:5]) == pytest.approx([0.99, 1.0, 1.02, 1.1, 1.15])
    assert np.allclose(f[:, 2], f[:, 1])  # beyond the last window the last row holds
    mid = noise.factors_at(np.array([0.95]), np.array([np.sqrt(10.0)]))  # halfway in log(window)
    assert mid[0] == pytest.approx((1.2 + 1.1) / 2)
