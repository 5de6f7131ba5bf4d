"""Plots (paper Figures 5-7): measured (median, min-max bars) and predicted training time over
p with each strategy's prediction interval as a band, log axes. PNG bytes."""

from __future__ import annotations

import io

from cnnperf.models import STRATEGIES

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
STYLES = ("--", "-", ":", "-.")


def time_over_p_png(net: str, measured: dict, result) -> bytes:
    """measured: {p: {"seconds", "min", "max"}}; result: ValidationResult (its rows for `net`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ps = sorted(measured)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    med = [measured[p]["seconds"] for p in ps]
    lo = [measured[p]["seconds"] - measured[p]["min"] for p in ps]
    hi = [measured[p]["max"] - measured[p]["seconds"] for p in ps]
    ax.errorbar(ps, med, yerr=[lo, hi], fmt="o", color="black", capsize=3, label="measured (median, min-max)")
    for k, s in enumerate(result.strategies()):
        rows = sorted((r for r in result.rows if r.net == net and r.strategy == s), key=lambda r: r.p)
        if rows:
            color, ls = COLORS[k % len(COLORS)], STYLES[k % len(STYLES)]
            ax.plot([r.p for r in rows], [r.predicted_s for r in rows], ls, color=color, marker=".",
                    label=f"strategy {STRATEGIES[s].LABEL}")
            if all(r.predicted_low is not None for r in rows):
                level = f"{result.interval_level:.0%} " if result.interval_level else ""
                ax.fill_between([r.p for r in rows], [r.predicted_low for r in rows],
                                [r.predicted_high for r in rows], color=color, alpha=0.15, linewidth=0,
                                label=f"{level}interval {STRATEGIES[s].LABEL[:3]}")
    if result.fit_threads:
        ax.axvspan(min(result.fit_threads) * 0.9, max(result.fit_threads) * 1.1, color="0.9", label="fit threads")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.set_xlabel("threads p")
    ax.set_ylabel("execution time [s]")
    ax.set_title(f"{net} network: measured and predicted")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
