"""Back-to-back repeats with a coefficient of variation (cnnperf 0.1's timer). Superseded by
`measure.protocol` (interleaved blocks, drift probe, MAD rule, distribution-free intervals),
which calibrate and validate use: a cv of back-to-back repeats promises a precision a shared
machine does not have. Kept as a small utility for quick checks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

CV_LIMIT = 0.10  # coefficient of variation at or above which a measurement is flagged noisy
MIN_REGION_S = 1e-3  # timed regions shorter than this are flagged (timer resolution, jitter)


@dataclass(frozen=True)
class Measurement:
    """Repeated timings of one quantity; `value` is the median (per `per` units of work)."""

    samples: tuple[float, ...]  # seconds of each timed region
    per: float = 1.0  # units of work per timed region (e.g. images)

    @property
    def value(self) -> float:
        return statistics.median(self.samples) / self.per

    @property
    def cv(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        return statistics.stdev(self.samples) / statistics.mean(self.samples)

    @property
    def flags(self) -> tuple[str, ...]:
        out = []
        if self.cv >= CV_LIMIT:
            out.append(f"noisy: cv {self.cv:.0%}")
        if min(self.samples) < MIN_REGION_S:
            out.append(f"short: {min(self.samples) * 1e3:.2f} ms region")
        return tuple(out)

    def describe(self) -> str:
        flags = f"; {', '.join(self.flags)}" if self.flags else ""
        return f"measured: median of {len(self.samples)}, cv {self.cv:.1%}{flags}"


def repeat(fn: Callable[[], float | None], n: int, per: float = 1.0) -> Measurement:
    """Run fn n times; fn returns its own timed seconds, or None to time the whole call."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = fn()
        samples.append(r if r is not None else time.perf_counter() - t0)
    return Measurement(tuple(samples), per)
