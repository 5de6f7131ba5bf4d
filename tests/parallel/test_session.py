"""The library entry point of a whole run: TrainRequest checks, run_training on tiny IDX data, resume,
stop, the SIGINT helper."""

import os
import signal
import threading

import pytest

from cnnperf.errors import CnnperfError
from cnnperf.networks import preset
from cnnperf.parallel.checkpoint import load_checkpoint
from cnnperf.parallel.session import TrainRequest, run_training
from cnnperf.parallel.signals import stop_on_sigint


@pytest.fixture(autouse=True)
def no_real_data(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNPERF_DATA", raising=False)
    monkeypatch.setenv("CNNPERF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNPERF_MNIST_MIRRORS", "http://127.0.0.1:9/")


@pytest.mark.parametrize("field,value,needle", [
    ("threads", 0, "threads must be a positive integer"),
    ("threads", 2.0, "threads must be a positive integer"),
    ("epochs", True, "epochs must be a positive integer"),
    ("train_images", -5, "train_images"),
    ("lr", float("nan"), "lr must be a positive finite number"),
    ("lr", 1e300, "beyond the float32 range"),
    ("lr_decay", 1.5, "lr_decay"),
    ("max_minutes", 0, "max_minutes"),
    ("shuffle", "yes", "shuffle"),
    ("divergence", 10, "DivergenceRule"),
])
def test_bad_requests_are_one_line_errors(field, value, needle):
    with pytest.raises(CnnperfError, match=needle) as exc:
        TrainRequest(preset("small"), **{"threads": 1, field: value})
    assert "\n" not in str(exc.value)


def test_run_training_is_silent_and_returns_the_result(tiny_mnist, tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    seen = []
    request = TrainRequest(preset("small"), threads=2, cores=7, epochs=2, train_images=150, test_images=40,
                           data_dir=tiny_mnist, lr=0.05, checkpoint=ck)
    result = run_training(request, progress=lambda *a: seen.append(a))
    assert capsys.readouterr() == ("", "")
    assert result.threads == 2 and result.cores == 7 and result.stopped == "completed"
    assert [e.epoch for e in result.epochs] == [1, 2] and result.epochs[0].train.images == 150
    assert {a[0] for a in seen} == {"train", "validation", "test"}
    assert load_checkpoint(ck).epochs_done == 2
    more = run_training(TrainRequest(preset("small"), threads=1, epochs=3, train_images=150, test_images=40,
                                     data_dir=tiny_mnist, resume=ck))
    assert more.resumed_from_epoch == 2 and [e.epoch for e in more.epochs] == [1, 2, 3]
    assert more.epochs[2].lr == pytest.approx(0.05 * 0.993 ** 2)  # the checkpoint's lr, not the request's


def test_stop_event_ends_after_the_running_phase(tiny_mnist):
    stop = threading.Event()

    def progress(phase, epoch, done, total):
        if epoch == 2 and phase == "train":
            stop.set()

    result = run_training(TrainRequest(preset("small"), threads=2, epochs=5, data_dir=tiny_mnist),
                          progress=progress, stop=stop)
    assert result.stopped == "interrupted" and [e.epoch for e in result.epochs] == [1]


def test_missing_data_fails_before_any_training(tmp_path):
    with pytest.raises(CnnperfError, match="MNIST not found"):
        run_training(TrainRequest(preset("small"), threads=1, data_dir=tmp_path / "none"))


def test_sigint_helper_first_sets_stop_second_raises():
    stop, said, before = threading.Event(), [], signal.getsignal(signal.SIGINT)
    with stop_on_sigint(stop, on_first=lambda: said.append(1)):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set() and said == [1]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the next bytecode
    assert signal.getsignal(signal.SIGINT) is before
