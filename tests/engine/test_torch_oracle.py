"""20 per-image SGD steps against PyTorch (a test oracle, never a runtime dependency): the presets,
and connection tables (a masked dense convolution) with average pooling."""

import sys
from pathlib import Path

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import load_toml, parse_notation, preset

torch = pytest.importorskip("torch", reason="PyTorch not installed (CI installs torch==2.13.0 for this oracle test)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from torch_net import build_torch_net  # noqa: E402 (benchmarks/ holds the shared torch twin)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"


def torch_shaped(layout, weights, index):
    """(W, b) of a layer in PyTorch's shapes; a table layer as its masked dense (M, C, K, K) weights."""
    if layout.spec.shapes[index].kind == "conv":
        return engine.dense_conv_weights(layout, weights, index), engine.layer_params(layout, weights, index)[1]
    return engine.layer_params(layout, weights, index)


def copy_into_torch(layout, weights, net):
    params = [m for m in net if hasattr(m, "weight")]
    for index, module in zip(engine.weighted_layers(layout), params):
        W, b = torch_shaped(layout, weights, index)
        module.weight.data = torch.from_numpy(W.copy())
        module.bias.data = torch.from_numpy(b.copy())
    return params


NETS = {"small": preset("small"), "medium": preset("medium"), "large": preset("large"),
        "lenet5-c3": load_toml(EXAMPLE), "medium-r10": parse_notation("1x29x29-20C4-MP2-40C5r10-MP3-150N-10N", seed=4),
        "table-avgpool-before-full": parse_notation("1x29x29-8C4-AP2-12C4r5-AP5-30N-10N", seed=2)}


@pytest.mark.parametrize("net_name", sorted(NETS))
def test_twenty_sgd_steps_match_pytorch(net_name):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    spec = NETS[net_name]
    layout = engine.build_layout(spec)
    w = engine.init_weights(layout, 11)
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (20, 29, 29)).astype(np.float32)
    y = rng.integers(0, 10, 20)
    net = build_torch_net(spec)
    params = copy_into_torch(layout, w, net)
    lr = 0.01
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for k in range(20):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x[k:k + 1, None])), torch.tensor([int(y[k])]))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ws = engine.new_workspace(layout)
    _, loss_sum = engine.train_images(layout, w, ws, x, y, 0, 20, lr)
    assert loss_sum == pytest.approx(sum(losses), rel=1e-4)
    start = engine.init_weights(layout, 11)
    for index, module in zip(engine.weighted_layers(layout), params):
        for ours, theirs, before in zip(torch_shaped(layout, w, index), (module.weight, module.bias),
                                        torch_shaped(layout, start, index)):
            theirs = theirs.detach().numpy()
            if getattr(module, "mask", None) is not None and theirs.ndim == 4:
                assert not (theirs * (1 - module.mask.numpy())).any()  # unconnected weights stayed zero
            assert np.abs(theirs - before).max() > 0  # the weights did move
            rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
            assert rel < 1e-4, f"{net_name} layer {index}: relative difference {rel:.2e}"
            step = np.abs((ours - before) - (theirs - before)).max() / np.abs(theirs - before).max()
            assert step < 1e-4, f"{net_name} layer {index}: the updates differ by {step:.2e} of their size"
