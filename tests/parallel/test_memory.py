"""Memory estimate of a run from the spec's Python integers, against the engine's real allocation,
and the refusal before anything is allocated."""

import numpy as np
import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import resolve_network
from cnnperf.parallel import memory
from cnnperf.parallel.memory import MemoryEstimate, check_memory, estimate_memory, instance_bytes, weights_bytes
from cnnperf.parallel.trainer import TrainConfig, Trainer, _nbytes

from .fake_engine import FakeEngine

NETS = ["small", "medium", "large", "29x29-10N", "29x29-3C2-10N", "29x29-7C6-MP4-300N-100N-10N",
        "3x29x29-8C4-9C3-MP3-10N", "29x29-100C4-20C3-MP3-50N-10N", "9x9-2C2-MP2-2N",
        "29x29-20C4-MP2-40C5r10-MP3-150N-10N", "29x29-20C4-AP2-40C5-AP3-150N-10N"]


@pytest.mark.parametrize("net", NETS)
def test_estimate_covers_the_engine_allocation(net):
    from cnnperf import engine
    spec = resolve_network(net)
    layout = engine.build_layout(spec)
    real_w, real_ws = _nbytes(engine.init_weights(layout, 0)), _nbytes(engine.new_workspace(layout))
    for est, real in ((weights_bytes(spec), real_w), (instance_bytes(spec), real_ws)):
        assert real <= est <= 1.1 * real + 16_000


@pytest.mark.parametrize("net", ["29x29-99999999999999999999C4-10N", "99999x99999-10N", "29x29-100000C4-10N"])
def test_absurd_networks_are_estimated_without_overflow(net):
    e = estimate_memory(resolve_network(net), 2, 0)
    assert isinstance(e.total_bytes, int) and e.total_bytes > 8 * 10**9
    with pytest.raises(CnnperfError, match=r"needs about .* but this machine has 8.0 GB available") as exc:
        check_memory(e, available=8 * 10**9)
    assert "\n" not in str(exc.value)


def test_totals_and_message():
    e = MemoryEstimate(weights_bytes=1000, workspace_bytes=500, threads=4, data_bytes=100, processes=2)
    assert e.total_bytes == 2 * (1000 + 4 * 500 + 100)
    check_memory(e, available=e.total_bytes)  # fits exactly
    with pytest.raises(CnnperfError, match=r"needs about 6.2 kB .*2 processes x \(weights 1.0 kB, 4 worker"):
        check_memory(e, available=e.total_bytes - 1)


def test_threads_add_stacks_only_when_there_is_a_pool():
    spec = resolve_network("small")
    one, two = estimate_memory(spec, 1, 0), estimate_memory(spec, 2, 0)
    assert two.workspace_bytes - one.workspace_bytes == memory.WORKER_STACK_BYTES


def test_available_bytes_reads_meminfo():
    have = memory.available_bytes()
    assert have is None or have > 0


def test_trainer_refuses_before_allocating(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**6)
    eng = FakeEngine()
    with pytest.raises(CnnperfError, match="needs about"):
        Trainer(resolve_network("large"), TrainConfig(threads=2), engine=eng)
    assert eng.calls == []  # not even the warm-up ran


def test_trainer_checks_the_engines_real_sizes(monkeypatch):
    """The second check uses the arrays the engine really makes (here a fake engine's big workspace)."""
    class Big(FakeEngine):
        def new_workspace(self, layout, dtype=np.float32, worker=(0, 1)):
            return {"buf": np.zeros(10**6, np.float32)}  # 4 MB, far above the spec estimate of "small"

    spec = resolve_network("small")
    fits_estimate = estimate_memory(spec, 3, 0).total_bytes
    monkeypatch.setattr(memory, "available_bytes", lambda: fits_estimate + 1)
    with pytest.raises(CnnperfError, match=r"3 worker\(s\) x 6.1 MB"):
        Trainer(spec, TrainConfig(threads=3), engine=Big())
