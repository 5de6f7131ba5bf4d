"""The LeNet-5 example (connection table, average pooling) learns on real MNIST (needs
CNNPERF_DATA, like tests/parallel/test_learning.py; CI sets it to ../shared/data/mnist).

Chosen before the first run: 1 epoch over the first 5,000 training images in file order,
per-image SGD at lr 0.003 (the learning tests' rate), weights seeded with 0, the first 2,000
test images; issue 11's target is <= 15 % test error.
"""

import os
from pathlib import Path

import pytest

from cnnperf import engine
from cnnperf.networks import load_toml

DATA = os.environ.get("CNNPERF_DATA")
pytestmark = pytest.mark.skipif(not DATA, reason="set CNNPERF_DATA to the MNIST directory (CI: ../shared/data/mnist)")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"


def test_lenet5_example_learns_in_one_epoch_of_5000_images():
    from cnnperf.data.mnist import load_mnist
    d = load_mnist(DATA, 5000, 2000, download=False)
    layout = engine.build_layout(load_toml(EXAMPLE))
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    engine.train_images(layout, w, ws, d.train_images, d.train_labels, 0, 5000, 0.003)
    errors, _ = engine.evaluate_images(layout, w, ws, d.test_images, d.test_labels, 0, 2000)
    print(f"lenet5-c3, 5,000 images, 1 epoch: test error {errors / 2000:.2%}")
    assert errors / 2000 <= 0.15
