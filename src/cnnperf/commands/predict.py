"""`cnnperf predict`: predicted training time for any p, images and epochs (paper Tables V, VI)."""

from __future__ import annotations

from cnnperf.commands._args import int_list, interval_level, nonnegative_int, positive_int, strategy_name


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict training time from a hardware profile",
                       description="Predict the execution time of CHAOS training for thread counts P with every "
                                   "strategy the profile supports (the paper's operation counts and measured "
                                   "per-image times, cnnperf's empirical fit).")
    p.add_argument("--net", default="small", metavar="NET", help="network of the profile (default: small)")
    p.add_argument("--profile", default="xeon-phi-7120p", metavar="NAME|PATH",
                   help="built-in profile name or TOML file (default: xeon-phi-7120p)")
    p.add_argument("--strategy", type=strategy_name, default="all", metavar="NAME",
                   help="one strategy by its name, or 'all' (default): every strategy the profile supports")
    p.add_argument("--threads", type=int_list, default=None, metavar="LIST",
                   help="thread counts, e.g. 1,15,30 or 1-3840:x2 or 0-240:+15 (default: 1,15,30,60,120,180,240)")
    p.add_argument("--images", type=positive_int, default=60000, help="training images i (default: 60,000)")
    p.add_argument("--test-images", type=nonnegative_int, default=10000, help="test images it (default: 10,000)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs ep (default: the profile's, as the paper)")
    p.add_argument("--ranks", type=int_list, default=None, metavar="LIST",
                   help="MPI ranks (nodes) R, each with --threads P; adds the communication term (needs [network])")
    p.add_argument("--ranks-per-node", type=positive_int, default=1, metavar="N",
                   help="ranks sharing one node of the profile (default: 1; local validation: R)")
    p.add_argument("--sync-every", type=positive_int, default=None, metavar="K",
                   help="weight averaging every K training images per rank (default: once per epoch)")
    p.add_argument("--by-layer", action="store_true",
                   help="with the layer model: which layer costs what, forward and backward (per image)")
    p.add_argument("--interval", type=interval_level, default=0.9, metavar="LEVEL",
                   help="level of the prediction interval, from the profile's measured uncertainty and the "
                        "machine's noise (default: 0.9)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the predictions as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import sys

    import cnnperf
    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import atomic_write_json, check_writable
    from cnnperf.report.models import format_layers, format_prediction

    if args.json:
        check_writable(args.json)
    profile = cnnperf.profile(args.profile)
    net = cnnperf.api.target(args.net, profile)
    threads = args.threads if args.threads is not None else list(cnnperf.api.DEFAULT_THREADS)
    names = cnnperf.api.strategies_for(net, profile, args.strategy)
    distributed = args.ranks is not None
    if distributed:
        from cnnperf.models import STRATEGIES, distributable
        usable = {s.NAME for s in distributable(net, profile)}
        names = [n for n in names if n in usable] or [STRATEGIES[names[0]].NAME]
    rows, blocks = [], []
    for r in (args.ranks if distributed else [1]):
        for name in names:
            kw = {"ranks": r, "ranks_per_node": args.ranks_per_node, "sync_every": args.sync_every} if distributed \
                else {}
            pred = cnnperf.predict(net, profile, name, threads, args.images, args.test_images, args.epochs, **kw,
                                   interval=args.interval)
            head = (f"R = {r} rank(s) x P threads, {min(args.ranks_per_node, r)} rank(s) per node, sync "
                    + ("once per epoch" if args.sync_every is None else f"every {args.sync_every} images per rank")
                    + "\n") if distributed else ""
            blocks.append(head + format_prediction(pred, profile))
            if args.by_layer and "cost" in pred.inputs:
                blocks.append(format_layers(pred))
            for note in pred.notes:
                if note.startswith("extrapolation:") and r == (args.ranks or [1])[0]:
                    print(f"warning: {note}", file=sys.stderr)
            rows += [{**row, "ranks": r, "sync_every": args.sync_every or "epoch"} for row in pred.rows()]
    if args.by_layer and not any("per layer, network" in b for b in blocks):
        raise CnnperfError("--by-layer needs the layer model: use a profile with a machine model (cnnperf calibrate "
                           "without --nets) and --strategy all or the layer model's name")
    print("\n\n".join(blocks))
    if args.json:
        atomic_write_json(args.json, {"profile": profile.name, "predictions": rows})
        print(f"wrote {args.json}")
    return 0
