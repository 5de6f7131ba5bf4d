"""Divergence rules (besides NaN/inf) and the one epoch loop's checks, with a counting fake engine."""

import math

import pytest

from cnnperf.errors import CnnperfError, DivergenceError
from cnnperf.networks import preset
from cnnperf.parallel.checkpoint import load_checkpoint
from cnnperf.parallel.divergence import BlockMonitor, DivergenceRule
from cnnperf.parallel.run import LocalRunner, run_epochs, train
from cnnperf.parallel.trainer import TrainConfig, Trainer

from .fake_engine import FakeEngine
from .test_trainer_logic import dataset

CHANCE = math.log(10)


class LossEngine(FakeEngine):
    """Training loss per image from `loss(train_call)`; evaluation as the fake engine."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def train_images(self, layout, weights, ws, images, labels, lo, hi, lr):
        errors, _ = super().train_images(layout, weights, ws, images, labels, lo, hi, lr)
        return errors, self.loss(self.train_calls) * (hi - lo)


def test_block_rule_needs_consecutive_blocks_of_one_worker():
    m = BlockMonitor(DivergenceRule(loss_factor=10, blocks=3), classes=10, workers=2)
    far = 10 * CHANCE * 1.01 * 256
    assert not m.observe(0, 256, far) and not m.observe(0, 256, far)
    assert not m.observe(0, 256, 1.0 * 256)  # a healthy block resets worker 0
    assert not m.observe(1, 256, far) and not m.observe(0, 256, far) and not m.observe(0, 256, far)
    assert m.verdict is None
    assert m.observe(0, 256, far)  # third in a row for worker 0
    assert "3 consecutive blocks of worker 0" in m.verdict and "10x chance" in m.verdict and m.halted


def test_block_rule_threshold_is_ten_times_chance():
    m = BlockMonitor(DivergenceRule(), classes=10, workers=1)
    for _ in range(10):
        assert not m.observe(0, 100, 100 * 10 * CHANCE * 0.99)  # just below 23.0 per image: never fires
    assert m.verdict is None


def test_non_finite_block_halts_without_a_verdict():
    m = BlockMonitor(DivergenceRule(), classes=10, workers=1)
    assert m.observe(0, 10, float("nan")) and m.halted and m.verdict is None  # the NaN check names the layer


def test_growth_rule():
    rule = DivergenceRule(growth=10)
    assert rule.growth_verdict(None, 50.0, 10) is None  # first epoch: nothing to compare with
    assert rule.growth_verdict(0.1, 2.0, 10) is None  # 20x but below chance
    assert rule.growth_verdict(0.5, 4.0, 10) is None  # above chance but only 8x
    v = rule.growth_verdict(0.3, 3.0, 10)
    assert v is not None and "grew 10x" in v and "loss growth >= 10x" in v
    assert DivergenceRule(enabled=False).growth_verdict(0.3, 30.0, 10) is None


@pytest.mark.parametrize("kwargs", [{"loss_factor": 1}, {"growth": float("inf")}, {"blocks": 0}, {"blocks": 1.5}])
def test_bad_rule_settings_are_refused(kwargs):
    with pytest.raises(CnnperfError):
        DivergenceRule(**kwargs)


@pytest.mark.parametrize("threads", [1, 3])
def test_far_above_chance_stops_the_phase_early_with_exit_code_3(threads):
    eng = LossEngine(lambda call: 500.0)
    with pytest.raises(DivergenceError, match=r"epoch 1, train phase: mean loss 500 per image in 3 consecutive") as exc:
        train(preset("small"), dataset(20_000, 100), TrainConfig(epochs=2, threads=threads), engine=eng)
    assert exc.value.exit_code == 3
    # 20,000 images are 79+ blocks per epoch; the workers stopped a few blocks after the third
    assert eng.train_calls <= threads * 4 + 1


def test_growth_between_epochs_stops_the_run(tmp_path):
    eng = LossEngine(lambda call: 0.2 if call <= 5 else 3.0)  # the warm-up call, then 4 per epoch of 1000 images
    ck = tmp_path / "ck.npz"
    with pytest.raises(DivergenceError, match=r"epoch 2, train phase: mean training loss grew 15x"):
        train(preset("small"), dataset(), TrainConfig(epochs=3), engine=eng, checkpoint=ck)
    assert load_checkpoint(ck).epochs_done == 1  # the last good epoch is kept


def test_healthy_and_disabled_runs_complete():
    result, _ = train(preset("small"), dataset(), TrainConfig(epochs=3, threads=2), engine=FakeEngine())
    assert result.stopped == "completed" and len(result.epochs) == 3
    eng = LossEngine(lambda call: 500.0)
    result, _ = train(preset("small"), dataset(), TrainConfig(epochs=2), engine=eng,
                      divergence=DivergenceRule(enabled=False))
    assert result.stopped == "completed" and result.epochs[-1].train.mean_loss == 500.0


class RecordingRunner(LocalRunner):
    """The single-process runner, recording the loop's collective decisions (what MPI ranks share)."""

    def __init__(self, trainer):
        super().__init__(trainer)
        self.log = []

    def phase(self, name, *args):
        self.log.append(("phase", name))
        return super().phase(name, *args)

    def check_finite(self, epoch, phase, result):
        self.log.append(("finite", phase))
        super().check_finite(epoch, phase, result)

    def synchronise(self, flag):
        self.log.append(("sync", flag))
        return flag

    def agree(self, verdict):
        self.log.append(("agree", verdict))
        return verdict


def test_the_loop_checks_every_phase_and_decides_collectively():
    spec, config = preset("small"), TrainConfig(epochs=2)
    trainer = Trainer(spec, config, engine=FakeEngine())
    runner, done = RecordingRunner(trainer), []
    try:
        assert run_epochs(runner, spec, config, dataset(), done, max_minutes=1e6) == "completed"
    finally:
        trainer.close()
    per_phase = [("phase", "train"), ("finite", "train"), ("agree", None), ("sync", False),
                 ("phase", "validation"), ("finite", "validation"), ("sync", False),
                 ("phase", "test"), ("finite", "test"), ("sync", False)]
    assert runner.log == per_phase + [("sync", False)] + per_phase  # + the time limit after epoch 1
    assert [e.epoch for e in done] == [1, 2]


def test_nan_in_an_evaluation_phase_is_caught():
    class EvalNan(FakeEngine):
        def evaluate_images(self, *args):
            e, _ = super().evaluate_images(*args)
            return e, float("nan")

    with pytest.raises(DivergenceError, match="epoch 1, validation phase: non-finite loss"):
        train(preset("small"), dataset(), TrainConfig(epochs=1), engine=EvalNan())
