"""`cnnperf calibrate`: measure this machine's model parameters into a hardware profile."""

from __future__ import annotations

from cnnperf.commands._args import int_list, positive_int


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="measure this machine's model parameters into a profile TOML",
                       description="Detect the machine and measure TFprop, TBprop, TPrep, CPI, MemoryContention(p) "
                                   "and OperationFactor on the real engine. Each step is saved as it completes; "
                                   "running the same command again resumes an interrupted calibration.")
    p.add_argument("--out", required=True, metavar="PROFILE.toml", help="profile file to write (atomically)")
    p.add_argument("--nets", default="small,medium,large", metavar="LIST", help="networks (default: small,medium,large)")
    p.add_argument("--threads", type=int_list, default=None, metavar="LIST",
                   help="thread counts for MemoryContention (default: 1,2,3,4,6,8)")
    p.add_argument("--quick", action="store_true", help="fewer images and repetitions (rougher, for a first look)")
    p.add_argument("--repeats", type=positive_int, default=5, help="repetitions per measurement (default: 5)")
    p.add_argument("--reference-threads", type=positive_int, default=None, metavar="P",
                   help="thread count at which OperationFactor is fitted (default: the cores)")
    p.add_argument("--mpi", action="store_true",
                   help="under mpiexec (>= 2 ranks): measure the interconnect (Hockney alpha, beta) by ping-pong and "
                        "write it as [network] into the existing profile --out")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(run=run)


def parse_nets(text: str) -> tuple[str, ...]:
    from cnnperf.errors import CnnperfError
    from cnnperf.networks import resolve_network

    nets = tuple(n.strip() for n in text.split(",") if n.strip())
    if not nets:
        raise CnnperfError("--nets is empty; give e.g. small,medium")
    for n in nets:
        resolve_network(n)
    return nets


def run_mpi(args) -> int:
    """Measure alpha and beta and add them to the profile (rank 0 writes)."""
    from dataclasses import replace
    from pathlib import Path

    from cnnperf.errors import CnnperfError
    from cnnperf.hardware import load_profile, save_profile
    from cnnperf.measure.mpi_bench import allreduce_seconds, fit_hockney, pingpong
    from cnnperf.models.comm import allreduce_seconds as model_allreduce
    from cnnperf.parallel.distributed import mpi_world

    comm = mpi_world()
    if comm is None or comm.size < 2:
        raise CnnperfError("--mpi measures the interconnect between ranks: start it as 'mpiexec -n 2 cnnperf calibrate "
                           "--mpi --out PROFILE'")
    if not Path(args.out).is_file():
        raise CnnperfError(f"{args.out} not found: calibrate the machine first (without --mpi), then add the interconnect")
    profile = load_profile(args.out)
    points = pingpong(comm)
    alpha, beta = fit_hockney(points)
    n = 76040  # the medium network's weights: a realistic message
    measured = allreduce_seconds(comm, n)
    if comm.rank == 0:
        model = float(model_allreduce(comm.size, 4 * n, alpha, beta))
        for size, t in points:
            print(f"ping-pong {size:>9,} B: {t * 1e6:10.2f} us one way")
        print(f"Hockney fit: alpha = {alpha * 1e6:.3g} us, beta = {beta / 1e9:.3g} GB/s")
        print(f"allreduce of {n:,} floats on {comm.size} ranks: measured {measured * 1e6:.1f} us, ring model "
              f"{model * 1e6:.1f} us")
        network = {"alpha_s": alpha, "beta_bytes_per_s": beta,
                   "source": f"cnnperf calibrate --mpi: ping-pong fit over {len(points)} sizes, {comm.size} ranks; "
                             f"allreduce check {measured * 1e6:.1f} us measured vs {model * 1e6:.1f} us modelled"}
        save_profile(args.out, replace(profile, extra={**profile.extra, "network": network}))
        print(f"wrote [network] to {args.out}")
    return 0


def run(args) -> int:
    import sys

    if args.mpi:
        from cnnperf.fileio import check_writable
        check_writable(args.out)
        return run_mpi(args)

    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import check_writable
    from cnnperf.measure.calibrate import CalibrationConfig, calibrate

    check_writable(args.out)
    threads = tuple(args.threads) if args.threads is not None else (1, 2, 3, 4, 6, 8)
    if not threads:
        raise CnnperfError("--threads is empty; give e.g. 1,2,4")
    config = CalibrationConfig(parse_nets(args.nets), threads, args.quick, args.repeats, args.reference_threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.quiet:
        profile = calibrate(config, args.out, log)
    else:
        from rich.console import Console
        with Console(file=sys.stderr).status("calibrating") as status:
            profile = calibrate(config, args.out, log, lambda s: status.update(f"calibrating: {s}"))
    from cnnperf.report.models import format_profile
    print(format_profile(profile))
    print(f"wrote {args.out}")
    return 0
