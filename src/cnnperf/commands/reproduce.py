"""`cnnperf reproduce`: the paper's Tables IV, X and XI recomputed beside the published values."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="recompute the paper's Tables IV, X, XI; exit 1 if a cell is off by > 0.1 min")
    p.add_argument("--profile", default="xeon-phi-7120p", metavar="NAME|PATH", help="profile (default: xeon-phi-7120p)")
    p.add_argument("--json", default=None, metavar="PATH", help="write every cell as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import cnnperf
    from cnnperf.fileio import atomic_write_json, check_writable
    from cnnperf.report.reproduce import format_reproduction

    if args.json:
        check_writable(args.json)
    result = cnnperf.reproduce(args.profile)
    print(format_reproduction(result))
    if args.json:
        cell = lambda c: {"table": c.table, "cell": c.label, "ours": c.ours, "published": c.published,  # noqa: E731
                          "unit": c.unit, "diff": c.diff, "ok": c.ok, "note": c.note}
        atomic_write_json(args.json, {"ok": result.ok, "table_xi_factor": result.xi_factor,
                                      "cells": [cell(c) for c in result.cells],
                                      "as_stated": [cell(c) for c in result.stated]})
        print(f"wrote {args.json}")
    return 0 if result.ok else 1
