"""benchmarks/time_to_accuracy.py: its options and how it reads a run against the target (no timing)."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import time_to_accuracy as tta  # noqa: E402 (a script in benchmarks/, not a package module)


def test_defaults_are_the_issue_s_full_run():
    args = tta.parse_args([])
    assert (args.net, args.target, args.max_epochs, args.repeat) == ("medium", 1.2, 8, 3)
    assert (args.train_images, args.test_images) == (60000, 10000)
    assert args.lr_torch == (0.01, 0.03, 0.1) and args.lr_ours == (0.001, 0.003, 0.01)


def test_quick_fills_only_what_is_not_given():
    args = tta.parse_args(["--quick", "--repeat", "2", "--lr-ours", "0.003"])
    assert (args.train_images, args.test_images, args.target, args.max_epochs) == (2000, 1000, 20.0, 2)
    assert args.repeat == 2 and args.lr_ours == (0.003,)


@pytest.mark.parametrize("argv", [["--lr-torch", "0.1,x"], ["--lr-ours", "0,0.1"], ["--target", "0"],
                                  ["--target", "100"], ["--repeat", "0"], ["--net", "small"]])
def test_bad_options_exit_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        tta.parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_to_target_counts_training_seconds_up_to_the_first_epoch_at_or_below_it():
    run = tta.Run((10.0, 11.0, 12.0), (0.03, 0.012, 0.011))
    assert run.to_target(0.012) == (2, 21.0)
    assert run.to_target(0.011) == (3, 33.0)
    assert run.to_target(0.01) is None


def test_median_spread_reports_runs_that_missed():
    assert tta.median_spread([3.0, 1.0, 2.0]) == "2.0 (1.0-3.0)"
    assert tta.median_spread([1.0, 2.0, math.inf]) == "2.0 (1.0-2.0), 1 of 3 not reached"
    assert tta.median_spread([1.0, math.inf, math.inf]).startswith("not reached")
