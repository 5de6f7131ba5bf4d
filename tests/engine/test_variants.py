"""Kernel variants (`layout.kernel_variants`, issue 15's cold start): a network's compile leaves out
the chunk widths and GEMM edge tiles it never runs, and what it leaves out is indeed never run."""

from pathlib import Path

import numpy as np
import pytest

from cnnperf import engine
from cnnperf.engine import api
from cnnperf.engine.kernels import conv, network
from cnnperf.engine.layout import CH_D, CH_G, chunk_widths, kernel_variants
from cnnperf.networks import resolve_network


def test_chunk_widths_are_the_widths_the_kernel_walks():
    for fp in range(16, 16 * 41, 16):
        for ch in range(1, 9):
            walked, f0 = set(), 0
            while f0 < fp:
                width = conv.chunk_width(f0, fp, ch)
                walked.add(width)
                f0 += width
            assert chunk_widths(fp, min(ch, conv.MAX_BLOCKS)) == walked, (fp, ch)


def _medium_desc(ch_g, ch_d):
    desc = engine.build_layout(resolve_network("medium")).desc.copy()
    desc[3, CH_G], desc[3, CH_D] = ch_g, ch_d  # the 40C5 im2col layer (chunks come from the L1 size)
    return desc


def test_variants_of_medium_by_hand():
    # 40C5 on 20 maps: F = 500, Fp = 512 columns, 40 maps, 9x9 = 81 pixels; the first layer is direct
    assert kernel_variants(_medium_desc(4, 8), 4, 6, 8) == {"p_edge", "s64", "s128"}  # 40 = 10*4, 81 = 13*6 + 3
    assert kernel_variants(_medium_desc(4, 8), 3, 4, 4) == {"m_edge", "p_edge", "s64"}  # 40 = 13*3 + 1, 81 = 20*4 + 1
    assert kernel_variants(_medium_desc(2, 8), 4, 6, 8) == {"p_edge", "s32", "s128"}  # 512 = 16*32 = 4*128


def test_a_kernel_covering_its_input_has_no_chunks():
    # 10C5 on 5x5 maps: one output pixel, its backward is a full layer's (no chunk widths)
    desc = engine.build_layout(resolve_network("1x12x12-4C3-MP2-10C5-10N")).desc
    assert kernel_variants(desc, 4, 6, 8) == {"m_edge", "p_edge"}  # 10 maps, 1 pixel


@pytest.mark.parametrize(("net", "groups"), [
    ("medium", set()),  # both convolutions under max pooling
    ("large", {"direct_dense"}),  # the first convolution without pooling after it
    ("1x13x13-3C2-4C3-MP2-3C2-4N", {"direct_dense", "dense"}),  # and a deeper one
    ("examples/lenet5-c3.toml", {"direct_dense", "table", "extra"}),  # C5 covers its input: a full layer's backward
])
def test_kernel_groups_by_hand(net, groups):
    path = Path(__file__).resolve().parents[2] / net
    assert engine.build_layout(resolve_network(str(path) if path.exists() else net)).groups == groups


@pytest.mark.parametrize("net", ["medium", "1x29x29-7C4-13C3-MP2-11C3-30N-10N"])
def test_pruned_variants_train_bit_identically_to_all_variants(net):
    layout = engine.build_layout(resolve_network(net))
    rng = np.random.default_rng(3)
    x = rng.random((12, 29 * 29), dtype=np.float32)
    y = rng.integers(0, 10, 12)
    w0 = engine.init_weights(layout, 0)
    pruned = api.options(layout, w0)
    assert None in pruned[6:], "this network should leave some variant out"
    out = []
    for opts in (pruned, pruned[:6] + (1,) * len(api.VARIANTS)):
        w, ws = w0.copy(), engine.new_workspace(layout)
        network.run_images(layout.desc, w, ws.act, ws.delta, ws.arg, ws.col, ws.dcol, ws.grad, ws.bucket, x, y, 0, 12,
                           np.float32(0.01), layout.activation, ws.rotate, ws.prefetch, True, *opts)
        out.append(w)
    assert not np.array_equal(out[0], w0)
    assert np.array_equal(out[0], out[1])
