"""Reports of the distributed validation: predicted vs measured over R and K, test error vs K."""

from __future__ import annotations

import io

import numpy as np

from cnnperf.models import STRATEGIES
from cnnperf.report.models import table


def format_mpi(result) -> str:
    """Text report of a validation.mpi_sweep.MpiValidation."""
    rows, c = result.rows, result.config
    lines = [f"distributed validation: {c['epochs']} epoch(s), {c['images']:,} training / {c['test_images']:,} test "
             f"images, {result.threads} thread(s) per rank, all ranks on this machine; profile {result.profile}"]
    body = [("net", "R", "K", "strategy", "measured s", "predicted s", "Delta", "error", "comm s", "test error")]
    for r in rows:
        body.append((r["net"], r["ranks"], r["sync_every"], r["strategy"], f"{r['measured_s']:.3f}",
                     f"{r['predicted_s']:.3f}", f"{r['delta']:.1%}", f"{r['error']:+.1%}", f"{r['comm_s']:.3f}",
                     f"{r['test_error']:.2%}"))
    lines.append(table(body))
    summary = [("strategy", "network", "points", "mean |error|", "max |error|")]
    for s in sorted({r["strategy"] for r in rows}):
        for net in sorted({r["net"] for r in rows}):
            e = [abs(r["error"]) for r in rows if r["strategy"] == s and r["net"] == net]
            if e:
                summary.append((s, net, len(e), f"{np.mean(e):.1%}", f"{max(e):.1%}"))
    lines += ["", table(summary)]
    return "\n".join(lines)


def mpi_png(net: str, rows: list[dict]) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    strategies = list(dict.fromkeys(r["strategy"] for r in rows if r["net"] == net))
    for k in sorted({str(r["sync_every"]) for r in rows if r["net"] == net}):
        for j, s in enumerate(strategies):
            sel = sorted((r for r in rows if r["net"] == net and str(r["sync_every"]) == k and r["strategy"] == s),
                         key=lambda r: r["ranks"])
            rs = [r["ranks"] for r in sel]
            if j == 0:  # the measurements are the same rows for every strategy
                ax.plot(rs, [r["measured_s"] for r in sel], "o-", label=f"measured, K={k}")
                ax2.plot(rs, [100 * r["test_error"] for r in sel], "o-", label=f"K={k}")
            ax.plot(rs, [r["predicted_s"] for r in sel], "x--", label=f"predicted {STRATEGIES[s].LABEL}, K={k}")
    ax.set_xlabel("ranks R")
    ax.set_ylabel("execution time [s]")
    ax.set_title(f"{net}: time over ranks")
    ax.legend(fontsize=7)
    ax2.set_xlabel("ranks R")
    ax2.set_ylabel("test error [%]")
    ax2.set_title("accuracy cost of syncing less")
    ax2.legend(fontsize=7)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
