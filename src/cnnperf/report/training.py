"""Text table of a training run: per epoch and phase the seconds, images/s and error rate."""

from __future__ import annotations

from cnnperf.parallel.results import PHASES, TrainResult


def format_training(result: TrainResult) -> str:
    lines = [
        f"network {result.net} ({result.notation}), {result.threads} thread(s), seed {result.seed}",
        f"load {result.load_seconds:.2f} s, compile/cache load {result.compile_seconds:.2f} s (both untimed), "
        f"prep (TPrep) {result.prep_seconds * 1e3:.1f} ms",
        "",
        f"{'epoch':>5}  {'lr':>9}  " + "  ".join(f"{p + ' s':>12} {'img/s':>8} {'error':>7}" for p in PHASES),
    ]
    for e in result.epochs:
        cells = []
        for name in PHASES:
            ph = getattr(e, name)
            rate = ph.images / ph.seconds if ph.seconds > 0 else float("inf")
            cells.append(f"{ph.seconds:>12.3f} {rate:>8.0f} {ph.error_rate * 100:>6.2f}%")
        lines.append(f"{e.epoch:>5}  {e.lr:>9.6f}  " + "  ".join(cells))
    lines.append(f"total {result.total_seconds:.3f} s (prep + all phases)")
    return "\n".join(lines)
