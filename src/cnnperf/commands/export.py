"""`cnnperf export`: write validation measurements in other tools' formats (Extra-P)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write validation measurements for Extra-P")
    p.add_argument("--results", default="validation/results.json", metavar="PATH",
                   help="results.json written by cnnperf validate (default: validation/results.json)")
    p.add_argument("--extrap", required=True, metavar="PATH", help="Extra-P text input file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from cnnperf.commands.validate import load_runs
    from cnnperf.fileio import atomic_write_text, check_writable
    from cnnperf.report.export import extrap_text

    check_writable(args.extrap)
    runs = load_runs(args.results)
    atomic_write_text(args.extrap, extrap_text(runs))
    print(f"wrote {args.extrap}: {len(runs)} runs; open it in Extra-P (text format, parameter p)")
    return 0
