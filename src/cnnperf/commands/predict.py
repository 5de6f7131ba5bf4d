"""`cnnperf predict`: predicted training time for any p, images and epochs (paper Tables V, VI)."""

from __future__ import annotations

from cnnperf.commands._args import int_list, nonnegative_int, positive_int


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict training time from a hardware profile (strategies a, b, c)",
                       description="Predict the execution time of CHAOS training for thread counts P with the paper's "
                                   "strategy (a) (operation counts) and (b) (measured per-image times).")
    p.add_argument("--net", default="small", metavar="NET", help="network of the profile (default: small)")
    p.add_argument("--profile", default="xeon-phi-7120p", metavar="NAME|PATH",
                   help="built-in profile name or TOML file (default: xeon-phi-7120p)")
    p.add_argument("--strategy", choices=("a", "b", "c", "all"), default="all",
                   help="model strategy; c needs a profile with empirical fits (default: all available)")
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
    p.add_argument("--json", default=None, metavar="PATH", help="write the predictions as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import atomic_write_json, check_writable
    from cnnperf.hardware import load_profile
    from cnnperf.models import STRATEGIES
    from cnnperf.report.models import format_prediction

    if args.json:
        check_writable(args.json)
    profile = load_profile(args.profile)
    params = profile.network(args.net)
    threads = args.threads if args.threads is not None else [1, 15, 30, 60, 120, 180, 240]
    if not threads:
        raise CnnperfError("--threads is empty; give e.g. 1,2,4 or 1-64:x2")
    epochs = args.epochs or params.epochs
    strategies = (["a", "b"] + (["c"] if params.empirical else [])) if args.strategy == "all" else [args.strategy]
    out = []
    ranks = args.ranks if args.ranks is not None else [None]
    if args.ranks is not None and (not ranks or min(ranks) < 1):
        raise CnnperfError("--ranks needs positive rank counts, e.g. 1,2,4 or 1-64:x2")
    k = 0
    for r in ranks:
        for name in strategies:
            if r is None:
                pred = STRATEGIES[name].predict(params, profile, np.array(threads), args.images, args.test_images, epochs)
            else:
                from cnnperf.models.comm import predict_distributed
                from cnnperf.networks import resolve_network
                n_weights = resolve_network(params.notation or args.net).n_weights
                pred = predict_distributed(STRATEGIES[name], params, profile, np.array(threads), r, args.images,
                                           args.test_images, epochs, n_weights=n_weights, sync_every=args.sync_every,
                                           ranks_per_node=args.ranks_per_node)
            if k:
                print()
            k += 1
            if r is not None:
                print(f"R = {r} rank(s) x P threads, {min(args.ranks_per_node, r)} rank(s) per node, sync "
                      + ("once per epoch" if args.sync_every is None else f"every {args.sync_every} images per rank"))
            print(format_prediction(pred, profile))
            out += [{**row, "ranks": r or 1, "sync_every": args.sync_every or "epoch"} for row in pred.rows()]
    if args.json:
        atomic_write_json(args.json, {"profile": profile.name, "predictions": out})
        print(f"wrote {args.json}")
    return 0
