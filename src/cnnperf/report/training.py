"""Text table of a training run: per epoch and phase the seconds, images/s, error rate and worker balance."""

from __future__ import annotations

from cnnperf.parallel.results import PHASES, TrainResult


def _header(result: TrainResult) -> list[str]:
    threads = f"{result.threads} thread(s)" + (f" on {result.cores} core(s)" if result.cores else "")
    if result.ranks > 1:
        sync = "once per epoch" if result.sync_every is None else f"every {result.sync_every} images per rank"
        threads = f"{result.ranks} MPI ranks x {threads}, weights averaged {sync}"
    if result.oversubscribed:
        threads += f" — oversubscribed, {result.threads / result.cores:.1f} threads per core"
    lines = [
        f"network {result.net} ({result.notation}), {threads}, seed {result.seed}",
        (f"untimed: load {result.load_seconds:.2f} s, kernel compile/cache load {result.compile_seconds:.2f} s; "
         f"timed prep (TPrep) {result.prep_seconds * 1e3:.1f} ms"),
    ]
    if result.resumed_from_epoch:
        lines.append(f"resumed after epoch {result.resumed_from_epoch}")
    return lines + [""]


def format_training(result: TrainResult) -> str:
    lines = _header(result)
    lines.append(f"{'epoch':>5}  {'lr':>9}  " + "  ".join(f"{p + ' s':>13} {'img/s':>7} {'error':>7}" for p in PHASES)
                 + "  slowest/fastest worker (train)")
    for e in result.epochs:
        cells = []
        for name in PHASES:
            ph = getattr(e, name)
            rate = ph.images / ph.seconds if ph.seconds > 0 else float("inf")
            cells.append(f"{ph.seconds:>13.3f} {rate:>7.0f} {ph.error_rate * 100:>6.2f}%")
        w = e.train.worker_seconds
        balance = f"{max(w):.3f} / {min(w):.3f} s" if w else "-"
        lines.append(f"{e.epoch:>5}  {e.lr:>9.6f}  " + "  ".join(cells) + f"  {balance}")
    if result.ranks > 1:
        comm = sum(e.train.comm_seconds for e in result.epochs)
        lines.append(f"weight averaging (allreduce, slowest rank): {comm:.3f} s in all, inside the train phases")
    lines.append(f"total {result.total_seconds:.3f} s (prep + all phases)")
    if result.stopped == "max-minutes":
        lines.append("stopped: --max-minutes reached (resume with --resume CHECKPOINT)")
    elif result.stopped == "interrupted":
        lines.append("stopped: interrupted; the unfinished epoch is not reported")
    return "\n".join(lines)
