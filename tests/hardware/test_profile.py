"""Profiles: CPI, contention inter/extrapolation, TOML round-trip, bad profiles."""

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.hardware import load_profile, profile_to_toml, save_profile
from cnnperf.models.published import TABLE_IV_PREDICTED

PHI = "xeon-phi-7120p"


def test_cpi_by_threads_per_core():
    p = load_profile(PHI)
    # 61 cores: 61 -> 1 thread/core, 122 -> 2, 183 -> 3, 240 -> 4, 480 -> 8 (beyond the table: CPI 2)
    assert list(p.cpi_at([1, 61, 62, 122, 123, 183, 184, 240, 480, 3840])) == [1, 1, 1, 1, 1.5, 1.5, 2, 2, 2, 2]
    assert list(p.threads_per_core_at([1, 61, 62, 240])) == [1, 1, 2, 4]


def test_contention_interpolates_and_extrapolates_like_table_iv():
    c = load_profile(PHI).networks["medium"].contention
    assert c(15) == pytest.approx(2.00e-3) and c(240) == pytest.approx(3.83e-2)
    assert c(22.5) == pytest.approx((2.00e-3 + 3.97e-3) / 2)
    assert list(c.regime([15, 22.5, 480])) == ["measured", "interpolated", "extrapolated"]
    for net, published in TABLE_IV_PREDICTED.items():
        ours = load_profile(PHI).networks[net].contention([480, 960, 1920, 3840])
        assert np.allclose(ours, published, rtol=5e-3), net


def test_toml_round_trip(tmp_path):
    p = load_profile(PHI)
    path = save_profile(tmp_path / "copy.toml", p)
    assert load_profile(str(path)) == p
    assert profile_to_toml(load_profile(str(path))) == profile_to_toml(p)



def _write(tmp_path, text):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace("t_fprop_s = 1.45e-3", ""), "missing key 't_fprop_s'"),
    (lambda t: t.replace("t_fprop_s = 1.45e-3", "t_fprop_ms = 1.45"), "wrong unit"),
    (lambda t: t.replace("t_fprop_s = 1.45e-3", 't_fprop_s = "1.45 ms"'), "plain number"),
    (lambda t: t.replace("t_bprop_s = 5.3e-3", "t_bprop_s = -5.3e-3"), "must be positive"),
    (lambda t: t.replace("schema_version = 1", "schema_version = 7"), "unknown schema_version"),
    (lambda t: t.replace("schema_version = 1", ""), "missing 'schema_version'"),
    (lambda t: t.replace("clock_hz = 1.238e9", "clock_ghz = 1.238"), "wrong unit"),
    (lambda t: t.replace("[networks.small]", "[networks.small"), "malformed TOML"),
])
def test_bad_profiles_one_line_error(tmp_path, edit, needle):
    from cnnperf.hardware.toml_io import resolve_profile_path
    text = edit(resolve_profile_path(PHI).read_text())
    with pytest.raises(CnnperfError) as exc:
        load_profile(_write(tmp_path, text))
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg and "bad.toml" in msg


def test_unknown_profile_and_network():
    with pytest.raises(CnnperfError, match="unknown profile"):
        load_profile("no-such-machine")
    with pytest.raises(CnnperfError, match="has no network 'huge'; it has small, medium, large"):
        load_profile(PHI).network("huge")


def test_cpi_beyond_a_short_table_keeps_the_last_value():
    import dataclasses
    p = dataclasses.replace(load_profile(PHI), cpi={1: 1.0, 2: 1.25})
    # 61 cores: 1..61 -> 1 per core, 62..122 -> 2, 123.. -> 3+ (beyond the table: 1.25 held)
    assert list(p.cpi_at([1, 61, 62, 122, 123, 3840])) == [1.0, 1.0, 1.25, 1.25, 1.25, 1.25]


def test_contention_vectorised_over_2d_arrays():
    c = load_profile(PHI).networks["small"].contention
    p = np.array([[1, 15], [240, 480]])
    out = c(p)
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(7.10e-6) and out[1, 0] == pytest.approx(1.40e-2)
    assert out[1, 1] == pytest.approx(2.78e-2, rel=5e-3)
    # beyond the measured range the least-squares line: doubling p roughly doubles the contention
    assert c(3840) / c(1920) == pytest.approx(2.0, rel=0.01)


def test_round_trip_keeps_extra_sections(tmp_path):
    from cnnperf.hardware.toml_io import resolve_profile_path
    text = resolve_profile_path(PHI).read_text() + '\n[future]\nnote = "kept"\nvalues = [1, 2]\n'
    src = tmp_path / "future.toml"
    src.write_text(text)
    p = load_profile(str(src))
    assert p.extra["future"] == {"note": "kept", "values": [1, 2]}
    again = load_profile(str(save_profile(tmp_path / "again.toml", p)))
    assert again == p and again.extra["future"]["note"] == "kept"


def test_builtin_profile_holds_the_papers_constants():
    p = load_profile(PHI)
    assert (p.clock_hz, p.cores, p.threads_per_core, p.hardware_threads) == (1.238e9, 61, 4, 244)
    assert p.cpi == {1: 1.0, 2: 1.0, 3: 1.5, 4: 2.0}
    expect = {"small": (70, 1e9, 12.56, 1.45e-3, 5.3e-3, 58e3, 524e3),
              "medium": (70, 1e10, 12.7, 12.55e-3, 69.73e-3, 559e3, 6119e3),
              "large": (15, 1e11, 13.5, 148.88e-3, 859.19e-3, 5349e3, 73178e3)}
    for name, values in expect.items():
        n = p.networks[name]
        assert (n.epochs, n.prep_ops, n.t_prep_s, n.t_fprop_s, n.t_bprop_s, n.fprop_ops, n.bprop_ops) == values
        assert n.operation_factor == 15.0
        assert n.contention.status.count("measured") == 7 and n.contention.status[-4:] == ("extrapolated",) * 4
