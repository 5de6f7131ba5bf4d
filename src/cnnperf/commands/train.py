"""`cnnperf train`: train a network on MNIST; every epoch a timed training, validation and test phase."""

from __future__ import annotations

import argparse
import sys
import threading

from cnnperf.commands._args import nonnegative_int, positive_float, positive_int, unit_interval


def above_one(text: str) -> float:
    """A finite factor > 1 (the divergence thresholds)."""
    value = positive_float(text)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a factor > 1")
    return value


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network on MNIST and time each phase (paper Fig. 4)",
                       description="Train NET on MNIST with per-image SGD. Every epoch runs a training phase, "
                                   "a forward-only validation phase over the same images and a test phase, each timed.")
    p.add_argument("--net", default="small", metavar="NET",
                   help="preset (small, medium, large), TOML file or notation like 29x29-20C4-MP2-150N-10N "
                        "(default: small)")
    p.add_argument("--epochs", type=positive_int, default=1, help="epochs (default: 1)")
    p.add_argument("--train-images", type=positive_int, default=None, metavar="N",
                   help="use the first N training images (default: all 60,000)")
    p.add_argument("--test-images", type=positive_int, default=None, metavar="N",
                   help="use the first N test images (default: all 10,000)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the weight initialisation (default: 0)")
    p.add_argument("--lr", type=positive_float, default=0.001, help="learning rate of epoch 1 (default: 0.001)")
    p.add_argument("--lr-decay", type=unit_interval, default=0.993,
                   help="learning-rate factor per epoch (default: 0.993)")
    p.add_argument("--activation", default=None,
                   help="override the network's activation (scaled_tanh, tanh, sigmoid, relu)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="directory with the MNIST IDX files (default: $CNNPERF_DATA, then ~/.cache/cnnperf/mnist, "
                        "else download)")
    p.add_argument("--threads", type=positive_int, default=None, metavar="P",
                   help="worker threads sharing one weight set (default: the cores this process may use; more is "
                        "oversubscription)")
    p.add_argument("--shuffle", action="store_true",
                   help="seeded new training order every epoch (default: off, as the paper)")
    p.add_argument("--checkpoint", default=None, metavar="PATH", help="write a checkpoint atomically after every epoch")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run saved in checkpoint PATH (same epoch numbering and learning rate)")
    p.add_argument("--max-minutes", type=positive_float, default=None, metavar="M",
                   help="stop cleanly after the epoch that is running when M minutes have passed")
    p.add_argument("--sync-every", type=positive_int, default=None, metavar="K",
                   help="under mpiexec: average the ranks' weights every K training images per rank "
                        "(default: once per epoch; 1 = every image)")
    p.add_argument("--no-lr-scaling", action="store_true",
                   help="under mpiexec: step with --lr on every rank (default: R x --lr, the linear scaling rule "
                        "for averaging R models)")
    p.add_argument("--divergence-loss", type=above_one, default=10.0, metavar="F",
                   help="stop (exit 3) when a training block's mean loss exceeds F x chance (ln classes) for "
                        "--divergence-blocks blocks in a row (default: 10)")
    p.add_argument("--divergence-blocks", type=positive_int, default=3, metavar="B",
                   help="consecutive blocks of one worker for --divergence-loss (default: 3)")
    p.add_argument("--divergence-growth", type=above_one, default=10.0, metavar="G",
                   help="stop (exit 3) when an epoch's mean training loss is above chance and G x the previous "
                        "epoch's (default: 10)")
    p.add_argument("--no-divergence-check", action="store_true",
                   help="check only for NaN/inf, not the two rules above")
    p.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON to PATH")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from cnnperf.parallel.distributed import abort_on_error, mpi_world

    comm = mpi_world()
    if comm is None:
        return _run(args, 0)
    try:
        return _run(args, comm.rank)
    except (Exception, KeyboardInterrupt) as exc:  # one line from the failing rank, then the job ends
        if getattr(exc, "all_ranks", False):  # every rank stops here: rank 0 reports, all exit with its code
            if comm.rank == 0:
                raise
            return exc.exit_code
        abort_on_error(comm, exc, "train")
        raise


def _options(args) -> dict:
    """The keyword options of `cnnperf.train` beyond the common ones."""
    from cnnperf.parallel.divergence import DivergenceRule

    return {"lr_decay": args.lr_decay, "shuffle": args.shuffle, "checkpoint": args.checkpoint, "resume": args.resume,
            "max_minutes": args.max_minutes, "sync_every": args.sync_every, "lr_scaling": not args.no_lr_scaling,
            "divergence": DivergenceRule(args.divergence_loss, args.divergence_blocks, args.divergence_growth,
                                         not args.no_divergence_check)}


def _run(args, rank: int) -> int:
    import cnnperf
    from cnnperf.fileio import atomic_write_json, check_writable
    from cnnperf.parallel.signals import stop_on_sigint
    from cnnperf.report.progress import TrainingDisplay
    from cnnperf.report.training import format_training

    if args.json:
        check_writable(args.json)
    display = TrainingDisplay(quiet=args.quiet or rank != 0)
    stop = threading.Event()
    try:
        with stop_on_sigint(stop, on_first=_say_stopping):
            result = cnnperf.train(args.net, args.threads, args.epochs, args.train_images, args.test_images,
                                   args.data, args.seed, args.lr, progress=display, stop=stop,
                                   activation=args.activation, **_options(args))
    finally:
        display.close()
    code = 130 if result.stopped == "interrupted" else 0
    if rank != 0:
        return code
    print(format_training(result))
    if args.json:
        atomic_write_json(args.json, result.to_json())
        print(f"wrote {args.json}")
    return code


def _say_stopping() -> None:
    print("\ninterrupt: stopping after the current phase (Ctrl-C again to abort)", file=sys.stderr, flush=True)
