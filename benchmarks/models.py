"""Model benchmark (issue 3): 1,000,000 (p, i, it, ep) combinations of one strategy, vectorised,
and the cold-process wall time of `cnnperf predict` and `cnnperf reproduce` (no Numba on
these paths). Targets: < 1 s for the million; well under a second per cold command.

    python benchmarks/models.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np


def million(strategy: str) -> tuple[float, int]:
    from cnnperf.hardware import load_profile
    from cnnperf.models import STRATEGIES

    profile = load_profile("xeon-phi-7120p")
    net = profile.networks["medium"]
    rng = np.random.default_rng(0)
    n = 1_000_000
    p = rng.integers(1, 3841, n)
    i = rng.integers(1000, 240001, n)
    it = rng.integers(0, 40001, n)
    ep = rng.integers(1, 281, n)
    t0 = time.perf_counter()
    seconds = STRATEGIES[strategy].predict(net, profile, p, i, it, ep).seconds
    return time.perf_counter() - t0, seconds.size


def cold(argv: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    for s in ("a", "b"):
        million(s)  # warm NumPy
        secs, n = million(s)
        print(f"strategy ({s}): {n:,} combinations in {secs * 1e3:.0f} ms ({n / secs / 1e6:.1f} M/s)  target < 1 s")
    base = cold(["--version"])
    for argv in (["predict", "--net", "medium", "--threads", "1-3840:x2"], ["reproduce"]):
        t = cold(argv)
        print(f"cold `cnnperf {' '.join(argv)}`: {t * 1e3:.0f} ms "
              f"(python + cnnperf --version alone: {base * 1e3:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
