"""`cnnperf count`: operations per image per layer and type (paper Tables VII, VIII) and Prep."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("count", help="operation counts per layer and type beside the paper's Tables VII, VIII")
    p.add_argument("--net", default="small", metavar="NET", help="preset, TOML file or notation (default: small)")
    p.add_argument("--executed", action="store_true",
                   help="count what the engine executes (convolution backward only at the pooling arg-max positions)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the counts as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import cnnperf
    from cnnperf.fileio import atomic_write_json, check_writable
    from cnnperf.report.models import format_counts

    if args.json:
        check_writable(args.json)
    spec = cnnperf.network(args.net)
    counts = cnnperf.count(spec, executed=args.executed)
    print(format_counts(counts, spec.notation()))
    if args.json:
        atomic_write_json(args.json, {
            "net": spec.name, "notation": spec.notation(), "convention": "executed" if counts.executed else "dense",
            "fprop_ops": counts.fprop, "bprop_ops": counts.bprop, "prep_shared_ops": counts.prep_shared,
            "prep_instance_ops": counts.prep_instance,
            "layers": [{"index": lay.index, "kind": lay.kind, "fprop_ops": lay.fprop, "bprop_ops": lay.bprop}
                       for lay in counts.layers],
            "by_type": {k: {"fprop_ops": f, "bprop_ops": b} for k, (f, b) in counts.by_type().items()}})
        print(f"wrote {args.json}")
    return 0
