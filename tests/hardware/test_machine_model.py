"""The [machine_model] profile section: round trip, one-line errors, the Xeon Phi's op-count fit
recovering known per-operation costs."""

import dataclasses

import pytest

from cnnperf.errors import CnnperfError
from cnnperf.hardware import load_profile, profile_from_dict, profile_to_dict, save_profile
from cnnperf.hardware.machine_model import ContentionModel, KernelModel, LinearTerm, MachineModel
from cnnperf.hardware.machine_model_io import from_dict, to_dict
from cnnperf.hardware.op_count import _ops_by_type, fit_op_count
from cnnperf.networks import preset

PHI = load_profile("xeon-phi-7120p")


def model() -> MachineModel:
    k = KernelModel("forward:conv_gemm", "roofline", ("one", "macs", "col"), (1e-6, 1e-10, 4e-9), 0.04, 0.03, 80,
                    {"macs": [1e3, 1e7], "col": [10.0, 1e5]},
                    {"linear": {"features": ["one", "macs"], "cv_error": 0.1}})
    f = KernelModel("backward:full", "linear", ("one", "macs"), (2e-7, 1e-9), 0.02, 0.01, 40, {"macs": [10.0, 1e6]})
    return MachineModel("kernel-cost", {k.key: k, f.key: f}, ContentionModel((1, 2), (0.0, 1e-6), (0.0, 1e-12), 0.3, 4),
                        LinearTerm(("one", "weights"), (1e-3, 1e-8), 0.1), LinearTerm(("one",), (2e-6,)),
                        LinearTerm(("one", "inputs"), (1e-6, 1e-9), 0.2), 16, "scaled_tanh", "a test", "a grid", 0.04)


def test_round_trip_through_the_profile_file(tmp_path):
    profile = dataclasses.replace(PHI, networks={}, machine_model=model())
    save_profile(tmp_path / "m.toml", profile)
    back = load_profile(str(tmp_path / "m.toml"))
    assert back.machine_model == model() and back.networks == {}  # a profile may hold only a machine model


def test_the_xeon_phi_section_is_a_recipe_refitted_on_load():
    doc = profile_to_dict(PHI)
    assert doc["machine_model"] == {"version": 1, "kind": "op-count", "fit": "networks",
                                    "source": PHI.machine_model.source}
    assert profile_from_dict(doc).machine_model == PHI.machine_model


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.update(version=9), "unknown version 9"),
    (lambda d: d.update(kind="magic"), "kind must be one of"),
    (lambda d: d["kernels"]["forward:conv_gemm"].update(form="spline"), "form must be linear or roofline"),
    (lambda d: d["kernels"]["backward:full"].update(coefficients=[1.0]), "list of 2 finite numbers"),
    (lambda d: d["kernels"]["backward:full"].update(features=[]), "non-empty list of feature names"),
    (lambda d: d["contention"].update(threads=[0, 2]), "threads must be positive integers"),
    (lambda d: d["contention"].update(c0_s="fast"), "list of 2 finite numbers"),
    (lambda d: d.pop("prep"), "missing table 'prep'"),
    (lambda d: d.update(fit="guess"), "only op-count models fit"),
])
def test_bad_content_is_one_line(change, needle):
    doc = to_dict(model())
    change(doc)
    with pytest.raises(CnnperfError, match=needle) as info:
        from_dict(doc)
    assert "\n" not in str(info.value)


def test_op_count_fit_recovers_known_costs_per_operation():
    """Three networks timed at exactly 3 ns per forward and 7 ns per backward operation: the fit
    gives those costs back and its leave-one-network-out errors are 0."""
    nets = {}
    for name in ("small", "medium", "large"):
        spec = preset(name)
        f, b = sum(_ops_by_type(spec, "forward").values()), sum(_ops_by_type(spec, "backward").values())
        nets[name] = dataclasses.replace(PHI.networks[name], t_fprop_s=3e-9 * f, t_bprop_s=7e-9 * b)
    m = fit_op_count(nets, "synthetic")
    assert m.kernels["forward:conv"].coefficients[0] == pytest.approx(3e-9, rel=1e-6)
    assert m.kernels["backward:full"].coefficients[0] == pytest.approx(7e-9, rel=1e-6)
    assert all(k.cv_error < 1e-6 for k in m.kernels.values())
    with pytest.raises(CnnperfError, match=">= 3 networks"):
        fit_op_count({"small": nets["small"]}, "one")
