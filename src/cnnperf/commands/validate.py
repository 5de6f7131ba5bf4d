"""`cnnperf validate`: real training for every (network, p), predicted with every strategy,
reported as tables, CSV/JSON, plots and report.md."""

from __future__ import annotations

from cnnperf.commands._args import int_list, positive_int


def register(sub) -> None:
    p = sub.add_parser("validate", help="train for every (network, p) and compare with the predictions",
                       description="Run real training for every network and thread count (repeated, medians), "
                                   "predict the same runs with strategies (a), (b) and the empirical (c), and write "
                                   "results.json, results.csv, one PNG per network and report.md to --out.")
    p.add_argument("--profile", required=True, metavar="NAME|PATH", help="profile (e.g. from cnnperf calibrate)")
    p.add_argument("--nets", default="small,medium,large", metavar="LIST", help="networks (default: small,medium,large)")
    p.add_argument("--threads", type=int_list, default=None, metavar="LIST", help="thread counts (default: 1,2,3,4,6,8)")
    p.add_argument("--epochs", type=positive_int, default=1, help="epochs per run (default: 1)")
    p.add_argument("--images", type=positive_int, default=10000, help="training images (default: 10,000)")
    p.add_argument("--test-images", type=positive_int, default=2000, help="test images (default: 2,000)")
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


def machine_warnings(profile) -> list[str]:
    from cnnperf.hardware.detect import detect_machine

    m = detect_machine()
    detected = profile.extra.get("detected", {})
    out = []
    if (profile.cores, profile.threads_per_core) != (m.cores, m.threads_per_core):
        out.append(f"profile {profile.name} is for {profile.cores} cores x {profile.threads_per_core} threads, this "
                   f"machine has {m.cores} x {m.threads_per_core}; predictions describe the other machine")
    elif detected.get("model_name") not in (None, m.model_name):
        out.append(f"profile {profile.name} was calibrated on '{detected.get('model_name')}', this is '{m.model_name}'")
    return out


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


def load_runs(path, keep=lambda r: True) -> list[dict]:
    """The runs stored in a validation results file (one-line errors if absent or malformed)."""
    import json
    from pathlib import Path

    from cnnperf.errors import CnnperfError
    path = Path(path)
    try:
        runs = [r for r in json.loads(path.read_text())["runs"] if keep(r)]
    except FileNotFoundError:
        raise CnnperfError(f"{path} not found; run 'cnnperf validate --out DIR' first and use DIR") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CnnperfError(f"{path} is not a cnnperf validation result ({exc})") from None
    if not runs:
        raise CnnperfError(f"{path} holds no runs for these networks and thread counts")
    return runs


def reused_runs(directory: str, name: str, keep) -> list[dict]:
    from pathlib import Path
    return load_runs(Path(directory) / name, keep)


def run(args) -> int:
    import sys
    from pathlib import Path

    if args.ranks is not None:
        from cnnperf.commands.validate_mpi import run_ranks
        return run_ranks(args, _syncs(args.sync_every))

    from cnnperf.commands.calibrate import parse_nets
    from cnnperf.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, output_dir
    from cnnperf.hardware import load_profile, save_profile

    threads, fit_threads = _threads(args)
    nets = parse_nets(args.nets)
    profile = load_profile(args.profile)
    for n in nets:
        profile.network(n)
    out = output_dir(args.out, "results.json")
    warnings = machine_warnings(profile)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)

    from cnnperf.data.mnist import load_mnist
    from cnnperf.parallel.trainer import Dataset
    from cnnperf.report.plots import time_over_p_png
    from cnnperf.report.validation import format_validation, report_markdown, results_csv, results_json
    from cnnperf.validation.analysis import analyse
    from cnnperf.validation.sweep import SweepConfig, medians, run_sweep

    data = None
    if not args.reuse:
        m = load_mnist(args.data, args.images, args.test_images)
        data = Dataset(m.train_images, m.train_labels, m.test_images, m.test_labels)
    config = SweepConfig(nets, threads, args.epochs, args.images, args.test_images, args.repeat)
    if args.reuse:  # the run parameters are those of the reused sweep
        import json
        stored = json.loads((Path(args.reuse) / "results.json").read_text()).get("config", {})
        config = SweepConfig(nets, threads, stored.get("epochs", args.epochs), stored.get("images", args.images),
                             stored.get("test_images", args.test_images), stored.get("repeat", args.repeat))
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if args.reuse:
        runs = reused_runs(args.reuse, "results.json", lambda r: r["net"] in nets and r["p"] in threads)
        from cnnperf.validation.sweep import Run
        runs = [Run(**r) for r in runs]
    elif args.quiet:
        runs = run_sweep(config, data, out, log)
    else:
        from rich.console import Console
        with Console(file=sys.stderr).status("validating") as status:
            runs = run_sweep(config, data, out, log, lambda s: status.update(s))
    measured = medians(runs)
    result = analyse(profile, config, measured, fit_threads)
    plots = {}
    for net in nets:
        png = time_over_p_png(net, {p: v for (n, p), v in measured.items() if n == net}, result)
        plots[net] = f"{net}.png"
        atomic_write_bytes(out / plots[net], png)
    atomic_write_json(out / "results.json", results_json(result, runs))
    atomic_write_text(out / "results.csv", results_csv(result))
    atomic_write_text(out / "report.md", report_markdown(result, plots, warnings))
    if result.fits:
        save_profile(out / "profile-with-empirical.toml", result.profile)
    (out / "runs.partial.json").unlink(missing_ok=True)
    print(format_validation(result))
    print(f"wrote {out}/report.md, results.json, results.csv, {', '.join(plots.values())}"
          + (", profile-with-empirical.toml" if result.fits else ""))
    return 0
