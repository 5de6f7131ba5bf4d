"""Export measurements for other tools: Extra-P's text input format (one parameter p)."""

from __future__ import annotations

from collections import defaultdict

METRICS = {"time": "seconds", "train_time": "train_s", "validation_time": "validation_s", "test_time": "test_s"}
# runs: validation.sweep.Run records (net, p and the metrics above as attributes)


def _num(v: float) -> str:
    """Extra-P's text grammar has no exponents: plain decimals."""
    return f"{v:.9f}".rstrip("0").rstrip(".") if v else "0"


def extrap_text(runs: list) -> str:
    """PARAMETER p / POINTS / per network a REGION with one DATA line (all repetitions) per point
    and metric; runs are the `runs` of a validation results.json."""
    by = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by[r.net][int(r.p)].append(r)
    points = sorted({int(r.p) for r in runs})
    lines = ["# cnnperf validation measurements (seconds) for Extra-P", "PARAMETER p",
             "POINTS " + " ".join(f"( {p} )" for p in points)]
    for net in sorted(by):
        missing = [p for p in points if p not in by[net]]
        if missing:
            from cnnperf.errors import CnnperfError
            raise CnnperfError(f"{net} has no runs at p = {missing}; Extra-P needs every point for every region")
        lines.append(f"REGION {net}")
        for metric, key in METRICS.items():
            lines.append(f"METRIC {metric}")
            for p in points:
                lines.append("DATA " + " ".join(_num(float(getattr(r, key))) for r in by[net][p]))
    return "\n".join(lines) + "\n"
