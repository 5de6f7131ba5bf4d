"""`cnnperf export`: write validation measurements in other tools' formats (Extra-P)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write validation measurements for Extra-P")
    p.add_argument("--results", default="validation/results.json", metavar="PATH",
                   help="results.json written by cnnperf validate (default: validation/results.json)")
    p.add_argument("--extrap", required=True, metavar="PATH", help="Extra-P text input file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    import cnnperf

    n = cnnperf.export_extrap(args.results, args.extrap)
    print(f"wrote {args.extrap}: {n} runs; open it in Extra-P (text format, parameter p)")
    return 0
