"""`cnnperf validate --ranks LIST`: the distributed sweep through mpiexec, predicted vs measured."""

from __future__ import annotations


def run_ranks(args, syncs) -> int:
    import sys

    from cnnperf.commands.calibrate import parse_nets
    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, output_dir
    from cnnperf.hardware import load_profile
    from cnnperf.models.comm import interconnect
    from cnnperf.report.mpi import format_mpi, mpi_png, mpi_rows
    from cnnperf.validation.mpi_sweep import find_mpiexec, mpi_medians, predict_mpi, run_mpi_sweep

    ranks = tuple(args.ranks)
    if not ranks or min(ranks) < 1:
        raise CnnperfError("--ranks needs positive rank counts, e.g. 1,2,4")
    threads = args.threads[0] if args.threads and len(args.threads) == 1 else 1
    nets = parse_nets(args.nets)
    profile = load_profile(args.profile)
    for n in nets:
        profile.network(n)
    interconnect(profile)
    find_mpiexec()
    out = output_dir(args.out, "results-mpi.json")
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    kw = dict(threads=threads, epochs=args.epochs, images=args.images, test_images=args.test_images,
              repeat=args.repeat, data=args.data, out_dir=out, log=log)
    if args.reuse:
        from cnnperf.commands.validate import reused_runs
        from cnnperf.validation.mpi_sweep import MpiRun
        runs = [MpiRun(**r) for r in reused_runs(args.reuse, "results-mpi.json", lambda r: r["net"] in nets and
                                                  r["ranks"] in ranks and r["sync_every"] in syncs)]
    elif args.quiet:
        runs = run_mpi_sweep(nets, ranks, syncs, **kw)
    else:
        from rich.console import Console
        with Console(file=sys.stderr).status("validating (MPI)") as status:
            runs = run_mpi_sweep(nets, ranks, syncs, **kw, tick=lambda s: status.update(s))
    measured = mpi_medians(runs)
    rows = mpi_rows(measured, lambda net, r, k: predict_mpi(profile, net, r, k or None, threads, args.images,
                                                            args.test_images, args.epochs))
    text = format_mpi(rows, profile.name, threads, args)
    for net in nets:
        atomic_write_bytes(out / f"mpi-{net}.png", mpi_png(net, rows))
    from dataclasses import asdict
    atomic_write_json(out / "results-mpi.json", {"profile": profile.name, "threads": threads, "rows": rows,
                                                 "config": {"epochs": args.epochs, "images": args.images,
                                                            "test_images": args.test_images, "repeat": args.repeat},
                                                 "runs": [asdict(r) for r in runs]})
    atomic_write_text(out / "report-mpi.md", "# cnnperf distributed validation\n\n```\n" + text + "\n```\n\n" +
                      "\n".join(f"![{n}](mpi-{n}.png)" for n in nets) + "\n")
    (out / "mpi-runs.partial.json").unlink(missing_ok=True)
    print(text)
    print(f"wrote {out}/results-mpi.json, report-mpi.md, " + ", ".join(f"mpi-{n}.png" for n in nets))
    return 0
