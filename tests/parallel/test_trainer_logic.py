"""The CHAOS trainer's bookkeeping, checked with a counting fake engine (no Numba)."""

import threading

import numpy as np
import pytest

from cnnperf.errors import DivergenceError
from cnnperf.networks import preset
from cnnperf.parallel.checkpoint import load_checkpoint
from cnnperf.parallel.run import config_from_checkpoint, train
from cnnperf.parallel.trainer import Dataset, TrainConfig, chunk_bounds, epoch_order

from .fake_engine import FakeEngine


def dataset(n_train=1000, n_test=300):
    rng = np.random.default_rng(0)
    return Dataset(rng.random((n_train, 29, 29), dtype=np.float32), rng.integers(0, 10, n_train),
                   rng.random((n_test, 29, 29), dtype=np.float32), rng.integers(0, 10, n_test))


@pytest.mark.parametrize("n, p", [(1000, 1), (1000, 3), (7, 8), (60000, 240)])
def test_chunks_are_static_contiguous_and_cover(n, p):
    b = chunk_bounds(n, p)
    assert len(b) == p and b[0][0] == 0 and b[-1][1] == n
    assert all(b[k][1] == b[k + 1][0] for k in range(p - 1))
    sizes = [hi - lo for lo, hi in b]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("threads", [1, 2, 5, 8])
def test_every_image_of_every_phase_exactly_once(threads):
    eng, data = FakeEngine(), dataset(1000, 300)
    result, _ = train(preset("small"), data, TrainConfig(epochs=2, threads=threads), engine=eng)
    # per epoch: train over 1000, validation over 1000, test over 300
    assert (eng.counts[("train", 1000)] == 2).all()
    assert (eng.counts[("eval", 1000)] == 2).all()
    assert (eng.counts[("eval", 300)] == 2).all()
    # warm-up calls (a 1-image set) aside, chunk k of a phase always runs on one thread of its own
    chunk_threads = {}
    for kind, n, lo, hi, thread in eng.calls:
        if n > 1:
            k = next(j for j, (a, b) in enumerate(chunk_bounds(n, threads)) if a <= lo < b)
            assert hi <= chunk_bounds(n, threads)[k][1]
            chunk_threads.setdefault((kind, n, k), set()).add(thread)
    assert all(len(t) == 1 for t in chunk_threads.values())
    assert len({t for (kind, n, k), ts in chunk_threads.items() for t in ts}) == threads
    e = result.epochs[0]
    assert (e.train.images, e.validation.images, e.test.images) == (1000, 1000, 300)
    assert len(e.train.worker_seconds) == threads
    assert e.train.errors == int((data.train_labels % 2).sum())
    assert e.test.errors == int((data.test_labels % 3 == 0).sum())


def test_learning_rate_decays_per_epoch():
    result, _ = train(preset("small"), dataset(), TrainConfig(epochs=3, lr=0.01, lr_decay=0.5), engine=FakeEngine())
    assert [e.lr for e in result.epochs] == pytest.approx([0.01, 0.005, 0.0025])
    assert [e.epoch for e in result.epochs] == [1, 2, 3]


def test_shuffle_is_seeded_and_a_permutation():
    a, b, c = epoch_order(100, 1, 1), epoch_order(100, 1, 1), epoch_order(100, 1, 2)
    assert (a == b).all() and not (a == c).all()
    assert sorted(a) == list(range(100))


def test_resume_continues_exactly(tmp_path):
    spec, data = preset("small"), dataset()
    full, w_full = train(spec, data, TrainConfig(epochs=4, lr=0.1, lr_decay=0.9, seed=3), engine=FakeEngine())
    ck = tmp_path / "run.ckpt"
    train(spec, data, TrainConfig(epochs=2, lr=0.1, lr_decay=0.9, seed=3), checkpoint=ck, engine=FakeEngine())
    saved = load_checkpoint(ck)
    assert saved.epochs_done == 2
    config = config_from_checkpoint(saved, spec, epochs=4, threads=1)
    rest, w_rest = train(spec, data, config, resume=saved, engine=FakeEngine())
    assert [e.epoch for e in rest.epochs] == [1, 2, 3, 4]
    assert [e.lr for e in rest.epochs] == [e.lr for e in full.epochs]
    assert rest.resumed_from_epoch == 2
    np.testing.assert_array_equal(w_rest, w_full)


def test_divergence_names_epoch_phase_and_layer(tmp_path):
    ck = tmp_path / "run.ckpt"
    eng = FakeEngine(nan_at_call=6)  # 1000 images / 256 per call = 4 calls per epoch: diverges in epoch 2
    with pytest.raises(DivergenceError, match=r"epoch 2, train phase: non-finite weights in layer 6 \(output\)"):
        train(preset("small"), dataset(), TrainConfig(epochs=3), checkpoint=ck, engine=eng)
    assert load_checkpoint(ck).epochs_done == 1  # the last good checkpoint is kept


def test_stop_event_drops_unfinished_epoch():
    stop = threading.Event()
    calls = []

    def progress(phase, epoch, done, total):
        calls.append((phase, epoch))
        if epoch == 2 and phase == "validation":
            stop.set()

    result, _ = train(preset("small"), dataset(), TrainConfig(epochs=5), progress=progress, stop=stop,
                      engine=FakeEngine())
    assert result.stopped == "interrupted"
    assert [e.epoch for e in result.epochs] == [1]
    assert ("test", 2) not in calls


def test_max_minutes_stops_after_running_epoch():
    result, _ = train(preset("small"), dataset(), TrainConfig(epochs=5), max_minutes=1e-9, engine=FakeEngine())
    assert result.stopped == "max-minutes" and len(result.epochs) == 1
