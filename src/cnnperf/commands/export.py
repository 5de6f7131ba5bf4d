"""`cnnperf export`: write validation measurements in other tools' formats (Extra-P)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write validation measurements for Extra-P")
    p.add_argument("--results", default="validation/results.json", metavar="PATH",
                   help="results.json written by cnnperf validate (default: validation/results.json)")
    p.add_argument("--extrap", required=True, metavar="PATH", help="Extra-P text input file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from cnnperf.errors import CnnperfError
    from cnnperf.fileio import atomic_write_text, check_writable
    from cnnperf.report.export import extrap_text

    check_writable(args.extrap)
    path = Path(args.results)
    try:
        runs = json.loads(path.read_text())["runs"]
    except FileNotFoundError:
        raise CnnperfError(f"{path} not found; run 'cnnperf validate --out DIR' first and pass DIR/results.json") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CnnperfError(f"{path} is not a cnnperf validation results.json ({exc})") from None
    if not runs:
        raise CnnperfError(f"{path} holds no runs")
    atomic_write_text(args.extrap, extrap_text(runs))
    print(f"wrote {args.extrap}: {len(runs)} runs; open it in Extra-P (text format, parameter p)")
    return 0
