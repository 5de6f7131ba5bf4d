"""Reports of the distributed validation: predicted vs measured over R and K, test error vs K."""

from __future__ import annotations

import io

import numpy as np

from cnnperf.report.models import table


def mpi_rows(measured: dict, predict) -> list[dict]:
    rows = []
    for (net, r, k), m in measured.items():
        pred = predict(net, r, k)
        for s, p in pred.items():
            rows.append({"net": net, "ranks": r, "sync_every": k or "epoch", "strategy": s, "measured_s": m["seconds"],
                         "predicted_s": p, "delta": abs(m["seconds"] - p) / p, "error": (p - m["seconds"]) / m["seconds"],
                         "comm_s": m["comm_s"], "test_error": m["test_error"]})
    return rows


def format_mpi(rows: list[dict], profile: str, threads: int, args) -> str:
    lines = [f"distributed validation: {args.epochs} epoch(s), {args.images:,} training / {args.test_images:,} test "
             f"images, {threads} thread(s) per rank, all ranks on this machine; profile {profile}"]
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
    for k in sorted({str(r["sync_every"]) for r in rows if r["net"] == net}):
        sel = sorted((r for r in rows if r["net"] == net and str(r["sync_every"]) == k and r["strategy"] == "b"),
                     key=lambda r: r["ranks"])
        rs = [r["ranks"] for r in sel]
        ax.plot(rs, [r["measured_s"] for r in sel], "o-", label=f"measured, K={k}")
        ax.plot(rs, [r["predicted_s"] for r in sel], "x--", label=f"predicted (b), K={k}")
        ax2.plot(rs, [100 * r["test_error"] for r in sel], "o-", label=f"K={k}")
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
