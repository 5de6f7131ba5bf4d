"""`cnnperf calibrate`: measure this machine's model parameters into a hardware profile."""

from __future__ import annotations

import argparse

from cnnperf.commands._args import int_list, name_list, positive_float, positive_int


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="measure this machine's model parameters into a profile TOML",
                       description="Detect the machine and measure TFprop, TBprop, TPrep, CPI, MemoryContention(p) "
                                   "and OperationFactor on the real engine, each with its uncertainty: every timed "
                                   "region in interleaved blocks over the whole calibration with a drift probe "
                                   "between them, until each median's 95 % interval is within the target or the "
                                   "budget is spent. Finished blocks are saved as they complete; running the same "
                                   "command again resumes an interrupted calibration.")
    p.add_argument("--out", required=True, metavar="PROFILE.toml", help="profile file to write (atomically)")
    p.add_argument("--nets", type=name_list, default=None, metavar="LIST",
                   help="networks to calibrate for strategies (a)-(c) (default: small,medium,large and the machine "
                        "model)")
    p.add_argument("--machine-model", action=argparse.BooleanOptionalAction, default=None,
                   help="build the per-layer machine model of strategy (d), which predicts any network (default: "
                        "when --nets is not given)")
    p.add_argument("--threads", type=int_list, default=None, metavar="LIST",
                   help="thread counts for MemoryContention (default: 1,2,3,4,6,8)")
    p.add_argument("--quick", action="store_true", help="fewer images and repetitions (rougher, for a first look)")
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="blocks per timed region at least (default: 5; 3 with --quick)")
    p.add_argument("--budget-minutes", type=positive_float, default=None, metavar="M",
                   help="stop adding blocks after M minutes of measuring (default: until every region's "
                        "interval is within the target, at most 20 blocks)")
    p.add_argument("--target", type=positive_float, default=0.03, metavar="REL",
                   help="relative half-width of each median's 95 %% interval that ends its repeats (default: 0.03)")
    p.add_argument("--reference-threads", type=positive_int, default=None, metavar="P",
                   help="thread count at which OperationFactor is fitted (default: the cores)")
    p.add_argument("--mpi", action="store_true",
                   help="under mpiexec (>= 2 ranks): measure the interconnect (Hockney alpha, beta) by ping-pong and "
                        "write it as [network] into the existing profile --out")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def run(args) -> int:
    import sys

    import cnnperf
    from cnnperf.measure.calibrate import noise_line
    from cnnperf.report.models import format_profile
    from cnnperf.report.progress import status_line

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.mpi:
        cnnperf.calibrate_interconnect(args.out, log=print)
        if cnnperf.api.is_rank0():
            print(f"wrote [network] to {args.out}")
        return 0
    threads = tuple(args.threads) if args.threads is not None else cnnperf.api.CALIBRATION_THREADS
    with status_line("calibrating", quiet=args.quiet) as status:
        profile = cnnperf.calibrate(args.out, args.nets, threads, args.quick, args.repeats, args.reference_threads,
                                    log=log, progress=status, machine_model=args.machine_model,
                                    budget_minutes=args.budget_minutes, target_rel_ci=args.target)
    print(format_profile(profile))
    print(f"wrote {args.out}")
    print(noise_line(profile))
    return 0
