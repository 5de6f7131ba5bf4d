"""The measurement protocol's own overhead (`cnnperf.measure.protocol.measure`).

Times measure() on tasks whose regions are a fixed NumPy kernel sized to ~1, ~10 and ~100 ms,
with and without a ResumableState (atomic JSON writes), each configuration `--repeat` times in
an interleaved order. Reports per configuration the medians (and min-max) of: the overhead per
block in ms (wall time of measure() minus the summed region seconds, divided by the blocks),
the overhead relative to the regions, and the drift probe's share of the wall time.

    PYTHONPATH=src python benchmarks/protocol.py [--repeat 5] [--blocks 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnperf.fileio import ResumableState
from cnnperf.measure.protocol import Probe, Task, measure


def kernel(target_s: float):
    """A region of about target_s seconds: sorting a fixed array, repeated (sized once, here)."""
    data = np.random.default_rng(1).random(1 << 16)
    t0 = time.perf_counter()
    np.sort(data)
    reps = max(1, round(target_s / max(time.perf_counter() - t0, 1e-6)))

    def run() -> float:
        t = time.perf_counter()
        for _ in range(reps):
            np.sort(data)
        return time.perf_counter() - t
    return run


def one(region_s: float, with_state: bool, blocks: int, tasks: int = 4) -> dict:
    probe = Probe()
    probe_s = []

    def timed_probe() -> float:
        s = probe()
        probe_s.append(s)
        return s

    runs = [kernel(region_s) for _ in range(tasks)]
    with tempfile.TemporaryDirectory() as d:
        state = ResumableState(Path(d) / "state.json", "bench") if with_state else None
        t0 = time.perf_counter()
        est = measure([Task(f"t{k}", r) for k, r in enumerate(runs)], min_blocks=blocks, max_blocks=blocks,
                      probe=timed_probe, state=state)
        wall = time.perf_counter() - t0
    regions = sum(sum(e.raw) for e in est.values())
    n = sum(e.samples for e in est.values())
    return {"per_block_ms": (wall - regions) / n * 1e3, "relative": (wall - regions) / regions,
            "probe_share": sum(probe_s) / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=10)
    args = ap.parse_args()
    configs = [(r, s) for r in (1e-3, 1e-2, 1e-1) for s in (False, True)]
    results: dict = {c: [] for c in configs}
    rng = np.random.default_rng(0)
    for _ in range(args.repeat):  # interleaved: every configuration once per round, shuffled
        for k in rng.permutation(len(configs)):
            results[configs[k]].append(one(*configs[k], args.blocks))
    print(f"protocol overhead: 4 tasks x {args.blocks} blocks per measure(), median (min-max) of {args.repeat} "
          "interleaved repeats")
    print(f"{'region':>8} {'state':>6} {'overhead/block ms':>24} {'overhead / regions':>22} {'probe share':>20}")
    for (region, state), rows in results.items():
        cells = []
        for key, scale, fmt in (("per_block_ms", 1, "{:.3f}"), ("relative", 100, "{:.2f} %"),
                                ("probe_share", 100, "{:.2f} %")):
            v = np.array([r[key] for r in rows]) * scale
            cells.append(f"{fmt.format(np.median(v))} ({fmt.format(v.min())}-{fmt.format(v.max())})")
        print(f"{region * 1e3:>6.0f}ms {'yes' if state else 'no':>6} {cells[0]:>24} {cells[1]:>22} {cells[2]:>20}")


if __name__ == "__main__":
    main()
