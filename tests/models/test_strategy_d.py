"""Strategy (d): the layer model's arithmetic on a machine model with known coefficients,
per-layer sums, extrapolation warnings, errors that say what to run."""

import dataclasses

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.hardware import load_profile
from cnnperf.hardware.machine_model import ContentionModel, KernelModel, LinearTerm, MachineModel
from cnnperf.models import STRATEGIES, available
from cnnperf.models.strategy_d import prep_features
from cnnperf.networks import parse_notation

PATHS = ["forward:conv_direct", "forward:conv_gemm", "forward:maxpool2", "forward:maxpool", "forward:full",
         "forward:output", "backward:conv_direct_pooled", "backward:conv_direct_dense", "backward:conv_gemm_pooled",
         "backward:conv_gemm_dense", "backward:full", "backward:output", "backward:maxpool"]


def synthetic_model() -> MachineModel:
    """1 ns per multiply-add plus 0.5 us per layer and direction; 2 us overheads."""
    kernels = {k: KernelModel(k, "linear", ("one", "macs"), (5e-7, 1e-9), 0.05, 0.04, 50,
                              {"macs": [1e3, 1e7]}) for k in PATHS}
    kernels["forward:maxpool2"] = KernelModel("forward:maxpool2", "linear", ("one", "inputs"), (1e-7, 1e-10), 0.05,
                                              0.04, 50, {"inputs": [100, 1e5]})
    contention = ContentionModel((1, 2, 4), (0.0, 1e-6, 3e-6), (0.0, 1e-12, 2e-12), 0.2, 4)
    return MachineModel("kernel-cost", kernels, contention, LinearTerm(("one", "weights"), (1e-3, 1e-8)),
                        LinearTerm(("one",), (2e-6,)), LinearTerm(("one",), (3e-6,)), 16, fitted_to="a test")


@pytest.fixture
def profile():
    base = load_profile("xeon-phi-7120p")
    return dataclasses.replace(base, name="synthetic", cores=2, threads_per_core=1, cpi={1: 1.0},
                               oversubscription="time-slicing", machine_model=synthetic_model())


NET = parse_notation("29x29-8C4-MP2-16C5-MP3-40N-10N")


def test_per_layer_costs_add_up_to_the_network_and_follow_the_kernels(profile):
    pred = STRATEGIES["d"].predict(NET, profile, np.array([1, 2, 4]), 3000, 1000, 1)
    cost = pred.inputs["cost"]
    assert cost.t_fprop_s == pytest.approx(sum(c.forward_s for c in cost.layers) + 2e-6)
    assert cost.t_bprop_s == pytest.approx(sum(c.backward_s for c in cost.layers) + 1e-6)
    conv2 = next(c for c in cost.layers if c.index == 3)
    assert conv2.forward_path == "conv_gemm" and conv2.backward_path == "conv_gemm_pooled"
    # 16C5 on 13x13 from 8 maps: 16 maps x 81 pixels x 200 taps
    assert conv2.forward_s == pytest.approx(5e-7 + 1e-9 * 16 * 81 * 200)
    pool = next(c for c in cost.layers if c.index == 2)
    assert pool.forward_s == pytest.approx(1e-7 + 1e-10 * 8 * 26 * 26) and pool.backward_s == 0.0
    tf, tb = cost.t_fprop_s, cost.t_bprop_s
    slow = np.array([1.0, 1.0, 2.0])  # CPI 1; time slicing beyond 2 hardware threads
    assert np.allclose(pred.terms["train"], (tf + tb) * 3000 / np.array([1, 2, 4]) * slow)
    assert np.allclose(pred.terms["test"], tf * 1000 / np.array([1, 2, 4]) * slow)
    w_bytes = 4 * NET.n_weights
    mc = np.array([0.0, 1e-6 + 1e-12 * w_bytes, 3e-6 + 2e-12 * w_bytes])  # p = 4 is a measured thread count
    assert np.allclose(pred.terms["mem"], mc * 3000 / np.array([1, 2, 4]) * slow)
    prep = 1e-3 + 1e-8 * NET.n_weights
    assert np.allclose(pred.terms["prep"], prep)
    # a TPrep that grows with the instances the trainer creates (one per thread), over several p
    per_thread = dataclasses.replace(profile.machine_model, prep=LinearTerm(("one", "instance_p"), (1e-3, 1e-9)))
    pred = STRATEGIES["d"].predict(NET, dataclasses.replace(profile, machine_model=per_thread), np.array([1, 2, 4]),
                                   3000, 1000, 1)
    instance = prep_features(NET, 1)["instance_p"]
    assert np.allclose(pred.terms["prep"], 1e-3 + 1e-9 * instance * np.array([1, 2, 4]))
    assert np.allclose(pred.seconds, sum(pred.terms.values()))
    assert prep_features(NET, 2)["instance_p"] > prep_features(NET, 1)["instance_p"]


def test_the_substituted_equation_evaluates_to_the_total(profile):
    model = STRATEGIES["d"]
    pred = model.predict(NET, profile, np.array([2]), 3000, 1000, 2)
    line, total = model.substitute(NET, profile, pred).splitlines()[:2]
    assert eval(line.split("=", 1)[1].replace("[", "(").replace("]", ")")) == pytest.approx(  # noqa: S307
        float(pred.seconds[0]), rel=1e-3)
    assert total.startswith("  = ")


def test_a_layer_far_outside_the_grid_is_named_in_a_warning(profile):
    huge = parse_notation("1x120x120-64C5-10N")  # first layer: 64 x 25 x 116^2 multiply-adds = 2.2e7 > 2 x 1e7
    pred = STRATEGIES["d"].predict(huge, profile, np.array([1]), 3000, 1000, 1)
    warnings = [n for n in pred.notes if n.startswith("extrapolation")]
    assert warnings and "layer 1 (conv, forward conv_direct)" in warnings[0] and "calibrated maximum" in warnings[0]


def test_a_machine_model_measured_with_other_kernels_says_calibrate_again(profile):
    from cnnperf.engine.build import kernels_build
    notes = {}
    for engine in ("", kernels_build(), "0123456789ab"):
        model = dataclasses.replace(profile.machine_model, engine=engine)
        pred = STRATEGIES["d"].predict(NET, dataclasses.replace(profile, machine_model=model), 1, 100, 10, 1)
        notes[engine] = [n for n in pred.notes if "other engine kernels" in n]
    assert notes[""] == notes[kernels_build()] == []  # unknown (hand-made, the Xeon Phi) or this build
    assert len(notes["0123456789ab"]) == 1 and "0123456789ab" in notes["0123456789ab"][0]
    assert "cnnperf calibrate" in notes["0123456789ab"][0]


def test_the_engine_build_a_model_was_measured_with_survives_its_file():
    from cnnperf.hardware.machine_model_io import from_dict, to_dict
    model = dataclasses.replace(synthetic_model(), engine="0123456789ab")
    assert from_dict(to_dict(model)).engine == "0123456789ab"


def test_without_a_machine_model_the_layer_model_says_what_to_run():
    phi = dataclasses.replace(load_profile("xeon-phi-7120p"), machine_model=None)
    message = STRATEGIES["d"].requires(NET, phi)
    assert "cnnperf calibrate" in message and "without --nets" in message
    with pytest.raises(CnnperfError, match="cnnperf calibrate"):
        STRATEGIES["d"].predict(NET, phi, 1, 100, 10, 1)
    assert "d" not in available(NET, phi)


def test_a_kernel_the_model_never_saw_is_an_error_not_a_guess(profile):
    model = dataclasses.replace(profile.machine_model, kernels={k: v for k, v in profile.machine_model.kernels.items()
                                                                if k != "forward:conv_gemm"})
    with pytest.raises(CnnperfError, match="no cost for the forward kernel 'conv_gemm' of layer 3"):
        STRATEGIES["d"].predict(NET, dataclasses.replace(profile, machine_model=model), 1, 100, 10, 1)


def test_the_xeon_phi_layer_model_predicts_any_network_flagged_as_fitted_to_3_networks():
    phi = load_profile("xeon-phi-7120p")
    pred = STRATEGIES["d"].predict(NET, phi, np.array([240, 3840]), 60000, 10000, 70)
    assert np.all(pred.seconds > 0) and any("fitted to 3 networks" in n for n in pred.notes)
    assert "leave-one-network-out" in phi.machine_model.fitted_to


def test_a_feature_that_was_0_over_the_whole_grid_is_reported_not_divided_by():
    k = KernelModel("backward:conv_gemm_dense", "linear", ("one", "macs"), (1e-7, 1e-9), 0.1, 0.1, 9,
                    {"macs": [1e3, 1e6], "col2im": [0.0, 0.0]})
    assert k.beyond({"macs": 1e4, "col2im": 50.0}) == ["col2im 50 where every calibrated layer had 0"]
    assert k.beyond({"macs": 1e4, "col2im": 0.0}) == []
