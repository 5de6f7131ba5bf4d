"""`cnnperf validate`: real training for every (network, p), predicted with every strategy,
reported as tables, CSV/JSON, plots and report.md."""

from __future__ import annotations

from cnnperf.commands._args import int_list, interval_level, name_list, nonnegative_int, positive_int


def register(sub) -> None:
    p = sub.add_parser("validate", help="train for every (network, p) and compare with the predictions",
                       description="Run real training for every network and thread count (repeated, medians), "
                                   "predict the same runs with every strategy the profile supports (and fit the "
                                   "empirical ones), and write "
                                   "results.json, results.csv, one PNG per network and report.md to --out.")
    p.add_argument("--profile", required=True, metavar="NAME|PATH", help="profile (e.g. from cnnperf calibrate)")
    p.add_argument("--nets", type=name_list, default="small,medium,large", metavar="LIST",
                   help="networks (default: small,medium,large)")
    p.add_argument("--threads", type=int_list, default=None, metavar="LIST",
                   help="thread counts (default: 1,2,3,4,6,8)")
    p.add_argument("--epochs", type=positive_int, default=1, help="epochs per run (default: 1)")
    p.add_argument("--images", type=positive_int, default=10000, help="training images (default: 10,000)")
    p.add_argument("--test-images", type=positive_int, default=2000, help="test images (default: 2,000)")
    p.add_argument("--holdout-nets", default="", metavar="LIST",
                   help="networks the calibration did not see (e.g. from 'cnnperf nets random'): trained too, "
                        "predicted by the layer model, their errors reported apart")
    p.add_argument("--repeat", type=positive_int, default=3, help="runs per point; medians are used (default: 3)")
    p.add_argument("--out", default="validation", metavar="DIR", help="output directory (default: ./validation)")
    p.add_argument("--data", default=None, metavar="DIR", help="MNIST directory (default: $CNNPERF_DATA, cache)")
    p.add_argument("--fit-threads", type=int_list, default=None, metavar="LIST",
                   help="fit contention and strategy (c) on these thread counts only ...")
    p.add_argument("--test-threads", type=int_list, default=None, metavar="LIST",
                   help="... and report the error on these (extrapolation with evidence)")
    p.add_argument("--ranks", type=int_list, default=None, metavar="LIST",
                   help="distributed validation: mpiexec -n R for each R (ranks as local processes, --threads 1 "
                        "unless --threads gives one value); needs the profile's [network]")
    p.add_argument("--sync-every", default="1000,epoch", metavar="LIST",
                   help="with --ranks: synchronisation periods K in images per rank, 'epoch' = once per epoch "
                        "(default: 1000,epoch)")
    p.add_argument("--reuse", default=None, metavar="DIR",
                   help="analyse the runs of an earlier validation in DIR (its results.json / results-mpi.json) "
                        "instead of training again, e.g. with other --fit-threads or another profile")
    p.add_argument("--interval", type=interval_level, default=0.9, metavar="LEVEL",
                   help="level of the prediction intervals whose coverage is reported (default: 0.9)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the runs' randomised interleaved order (and of the weights; default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def _threads(args) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    from cnnperf.errors import CnnperfError

    if (args.fit_threads is None) != (args.test_threads is None):
        raise CnnperfError("give --fit-threads and --test-threads together")
    if args.fit_threads is not None:
        if not args.fit_threads or not args.test_threads:
            raise CnnperfError("--fit-threads and --test-threads must not be empty")
        return tuple(sorted(set(args.fit_threads) | set(args.test_threads))), tuple(args.fit_threads)
    threads = tuple(args.threads) if args.threads is not None else (1, 2, 3, 4, 6, 8)
    if not threads:
        raise CnnperfError("--threads is empty; give e.g. 1,2,4")
    return threads, None


def _syncs(text: str) -> tuple[int | None, ...]:
    from cnnperf.errors import CnnperfError

    out = []
    for part in (t.strip() for t in text.split(",") if t.strip()):
        if part == "epoch":
            out.append(None)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise CnnperfError(f"--sync-every: {part!r} is not a positive integer or 'epoch'")
    if not out:
        raise CnnperfError("--sync-every is empty; give e.g. 1000,epoch")
    return tuple(out)


def run(args) -> int:
    import sys

    import cnnperf
    from cnnperf.report.progress import status_line

    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if args.ranks is not None:
        from cnnperf.report.mpi import format_mpi

        threads = args.threads[0] if args.threads and len(args.threads) == 1 else 1
        with status_line("validating (MPI)", quiet=args.quiet) as status:
            result = cnnperf.validate_ranks(args.profile, args.nets, args.ranks, _syncs(args.sync_every), threads,
                                            args.epochs, args.images, args.test_images, args.repeat, args.out,
                                            args.data, args.reuse, log, status)
        print(format_mpi(result))
        print(f"wrote {args.out}/" + ", ".join(result.files))
        return 0

    from cnnperf.report.validation import format_validation

    threads, fit_threads = _threads(args)
    with status_line("validating", quiet=args.quiet) as status:
        result = cnnperf.validate(args.profile, args.nets, threads, args.epochs, args.images, args.test_images,
                                  args.repeat, args.out, args.data, fit_threads, args.reuse, log, status,
                                  args.holdout_nets, interval=args.interval, seed=args.seed)
    print(format_validation(result))
    print(f"wrote {args.out}/" + ", ".join(result.files))
    return 0
