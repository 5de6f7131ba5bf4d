"""Validation reports: text tables, results.csv, results.json, report.md (paper Table IX style)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict

from cnnperf.models import STRATEGIES, fitted_strategies
from cnnperf.report.models import table
from cnnperf.validation.analysis import ValidationResult


def fit_lines(result: ValidationResult, net: str) -> list[str]:
    """One line per strategy fitted to the measurements of `net`."""
    from cnnperf.networks import resolve_network
    if net in result.holdout:
        return []
    spec = resolve_network(net)
    entry = result.profile.params_for(spec)
    if entry.name not in result.fitted or not entry.empirical:
        return []
    return [s.describe_fit(entry) for s in fitted_strategies()]


def _interval(r) -> str:
    """A row's interval relative to its prediction and whether it covers the measurement."""
    if r.predicted_low is None:
        return "-"
    lo, hi = (r.predicted_low / r.predicted_s - 1) * 100, (r.predicted_high / r.predicted_s - 1) * 100
    return f"{lo:+.0f}/{hi:+.0f} % {'in' if r.inside else 'OUT'}"


def _pct(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def rows_table(result: ValidationResult, net: str) -> str:
    rows = [("p", "strategy", "measured s", "predicted s", "Delta (paper)", "error", "interval", "set")]
    for r in result.rows:
        if r.net == net:
            rows.append((r.p, r.strategy, f"{r.measured_s:.3f}", f"{r.predicted_s:.3f}", f"{r.delta:.1%}",
                         f"{r.error:+.1%}", _interval(r), r.split))
    return table(rows)


def summary_table(result: ValidationResult, summaries=None) -> str:
    rows = [("strategy", "network", "points", "mean |error|", "max |error|", "mean error", "mean Delta", "max Delta",
             "coverage", "half-width")]
    for s in result.summaries if summaries is None else summaries:
        rows.append((STRATEGIES[s.strategy].LABEL, s.net, s.n, f"{s.mean_abs_error:.1%}", f"{s.max_abs_error:.1%}",
                     f"{s.mean_error:+.1%}", f"{s.mean_delta:.1%}", f"{s.max_delta:.1%}", _pct(s.coverage),
                     _pct(s.median_half_width)))
    return table(rows)


def format_validation(result: ValidationResult) -> str:
    c = result.config
    lines = [f"validation: {c.epochs} epoch(s), {c.images:,} training / {c.test_images:,} test images, "
             f"median of {c.repeat} run(s); profile {result.profile.name}"]
    if result.fit_threads:
        lines.append(f"contention and the empirical strategies fitted on p = {','.join(map(str, result.fit_threads))}; "
                     "errors below are on the other thread counts")
    for net in c.nets:
        lines += ["", f"network {net}", rows_table(result, net)]
        lines += fit_lines(result, net)
    lines += [f"note: {n}" for n in result.notes]
    if result.holdout:
        lines += ["", f"held-out networks (not in the calibration): {', '.join(result.holdout)}",
                  summary_table(result, result.group_summaries())]
    lines += ["", "Delta = |measured - predicted| / predicted (the paper's); error = (predicted - measured) / measured;"
              f" coverage = share of measured medians inside the {_pct(result.interval_level)} prediction intervals; "
              "half-width = median of (high - low) / 2 / predicted", summary_table(result)]
    return "\n".join(lines)


def results_csv(result: ValidationResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["net", "p", "strategy", "measured_s", "predicted_s", "delta", "error", "set", "predicted_low_s",
                "predicted_high_s", "inside"])
    for r in result.rows:
        w.writerow([r.net, r.p, r.strategy, f"{r.measured_s:.6g}", f"{r.predicted_s:.6g}", f"{r.delta:.6g}",
                    f"{r.error:.6g}", r.split, "" if r.predicted_low is None else f"{r.predicted_low:.6g}",
                    "" if r.predicted_high is None else f"{r.predicted_high:.6g}",
                    "" if r.inside is None else int(r.inside)])
    return buf.getvalue()


def results_json(result: ValidationResult, runs) -> dict:
    return {"config": asdict(result.config), "profile": result.profile.name,
            "fit_threads": list(result.fit_threads) if result.fit_threads else None,
            "interval_level": result.interval_level,
            "rows": [asdict(r) for r in result.rows], "summaries": [asdict(s) for s in result.summaries],
            "empirical": {n: result.profile.networks[n].empirical for n in result.fitted},
            "notes": list(result.notes), "warnings": list(result.warnings), "holdout": list(result.holdout),
            "group_summaries": [asdict(s) for s in result.group_summaries()],
            "runs": [asdict(r) for r in runs]}


def report_markdown(result: ValidationResult, plots: dict[str, str], warnings: list[str]) -> str:
    c = result.config
    out = ["# cnnperf validation report", "",
           f"Profile `{result.profile.name}`; {c.epochs} epoch(s) of {c.images:,} training and {c.test_images:,} test "
           f"images; thread counts {', '.join(map(str, c.threads))}; median of {c.repeat} run(s) per point.", ""]
    for w in warnings:
        out.append(f"> warning: {w}")
    out += ["## Accuracy per strategy and network (paper Table IX)", "",
            "Delta is the paper's metric (divides by the prediction); error is relative to the measurement; "
            f"coverage is the share of measured medians inside the {_pct(result.interval_level)} prediction "
            "intervals, half-width their median (high - low) / 2 / predicted.", ""]
    out.append("| strategy | network | points | mean abs error | max abs error | mean error | mean Delta | max Delta "
               "| coverage | half-width |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in result.summaries:
        label = STRATEGIES[s.strategy].LABEL
        out.append(f"| {label} | {s.net} | {s.n} | {s.mean_abs_error:.1%} | {s.max_abs_error:.1%} "
                   f"| {s.mean_error:+.1%} | {s.mean_delta:.1%} | {s.max_delta:.1%} | {_pct(s.coverage)} "
                   f"| {_pct(s.median_half_width)} |")
    for net in c.nets:
        out += ["", f"## {net}", ""]
        if net in plots:
            out += [f"![{net}: measured and predicted time over p]({plots[net]})", ""]
        out += [f"{line}", ""] if (line := "; ".join(fit_lines(result, net))) else []
        out.append("| p | strategy | measured s | predicted s | Delta | error | interval | set |")
        out.append("|---:|---|---:|---:|---:|---:|---|---|")
        for r in result.rows:
            if r.net == net:
                out.append(f"| {r.p} | {r.strategy} | {r.measured_s:.3f} | {r.predicted_s:.3f} | {r.delta:.1%} "
                           f"| {r.error:+.1%} | {_interval(r)} | {r.split} |")
    return "\n".join(out) + "\n"
