"""Write orders on the shared weights (issue 15, item 2): prefetching for writing changes
how each weight is written, never what is written (one worker trains bit-identically); where the
sweeps start changes only the order of the full layers' input-delta sums."""

import dataclasses

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.networks import parse_notation

# dense GEMM convolution, direct first layer, a table convolution (random fan-in), blocks whose
# weight counts are not multiples of a cache line (7*9 = 63, 37*81, ...), full and output layers
NETS = ["1x29x29-7C3-MP3-9C4r3-MP2-37N-10N", "1x29x29-20C4-MP2-40C5-MP3-150N-10N"]


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 29, 29), dtype=np.float32), rng.integers(0, 10, n)


def _train(layout, x, y, **order):
    w = engine.init_weights(layout, 5)
    engine.train_images(layout, w, dataclasses.replace(engine.new_workspace(layout), **order), x, y, 0, len(x), 0.01)
    return w


@pytest.mark.parametrize("notation", NETS)
def test_prefetching_trains_bit_identically_to_plain_sweeps(notation):
    layout = engine.build_layout(parse_notation(notation))
    x, y = _data(24)
    for k in range(3):  # each worker's start of the sweeps
        plain = _train(layout, x, y, rotate=k / 3, prefetch=0)
        assert not np.array_equal(plain, engine.init_weights(layout, 5))  # it trained
        for name, order in engine.WRITE_ORDERS.items():
            fields = order(k, 3)
            if fields["rotate"] == k / 3:
                assert np.array_equal(_train(layout, x, y, **fields), plain), f"order {name}, worker {k} of 3"


@pytest.mark.parametrize("notation", NETS)
def test_another_start_of_the_sweeps_only_reorders_the_input_delta_sums(notation):
    """A full layer's rows start elsewhere, so dx = sum over rows of dz[n] * W[n, :] adds in another
    order: float32 rounding, nothing more (bound fixed before running: 1e-4 after 24 steps)."""
    layout = engine.build_layout(parse_notation(notation))
    x, y = _data(24)
    ref = _train(layout, x, y)
    for name, order in engine.WRITE_ORDERS.items():
        for k in range(3):
            np.testing.assert_allclose(_train(layout, x, y, **order(k, 3)), ref, rtol=0, atol=1e-4,
                                       err_msg=f"order {name}, worker {k} of 3")


def test_workers_of_a_shared_store_get_the_default_order_and_a_lone_worker_plain_sweeps():
    layout = engine.build_layout(parse_notation(NETS[0]))
    lone = engine.new_workspace(layout)
    assert (lone.rotate, lone.prefetch) == (0.0, 0)
    expected = engine.WRITE_ORDERS[engine.DEFAULT_ORDER]
    for k in range(4):
        ws = engine.new_workspace(layout, worker=(k, 4))
        assert {"rotate": ws.rotate, "prefetch": ws.prefetch} == expected(k, 4)
    assert engine.new_workspace(layout, worker=(3, 4)).rotate == 0.75
