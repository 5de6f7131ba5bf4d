"""20 per-image SGD steps of each preset against PyTorch (a test oracle, never a runtime dependency)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import preset

torch = pytest.importorskip("torch", reason="PyTorch not installed (CI installs torch==2.13.0 for this oracle test)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from torch_net import build_torch_net


def copy_into_torch(layout, weights, net):
    params = [m for m in net if hasattr(m, "weight")]
    for index, module in zip(engine.weighted_layers(layout), params):
        W, b = engine.layer_params(layout, weights, index)
        module.weight.data = torch.from_numpy(W.copy())
        module.bias.data = torch.from_numpy(b.copy())
    return params


@pytest.mark.parametrize("net_name", ["small", "medium", "large"])
def test_twenty_sgd_steps_match_pytorch(net_name):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    spec = preset(net_name)
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
        for ours, theirs, before in zip(engine.layer_params(layout, w, index), (module.weight, module.bias),
                                        engine.layer_params(layout, start, index)):
            theirs = theirs.detach().numpy()
            assert np.abs(theirs - before).max() > 0  # the weights did move
            rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
            assert rel < 1e-4, f"{net_name} layer {index}: relative difference {rel:.2e}"
            step = np.abs((ours - before) - (theirs - before)).max() / np.abs(theirs - before).max()
            assert step < 1e-4, f"{net_name} layer {index}: the updates differ by {step:.2e} of their size"
