"""Divergence rules besides NaN/inf (which are always checked): a loss far above chance for several
blocks in a row, or a training loss that grows tenfold from one epoch to the next while above chance.

Chance is the cross-entropy of a uniform guess, ln(classes) (2.30 for MNIST's 10 classes). The
defaults were fixed from chance alone, before looking at any run: a block mean of 10 x chance
(23.0) means the correct class gets e^-23 ~ 1e-10 of the probability on average, which healthy
SGD never sustains over 3 blocks of up to `BLOCK_IMAGES` images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnperf.errors import CnnperfError


@dataclass(frozen=True)
class DivergenceRule:
    """`loss_factor`: a training block's mean loss above loss_factor x ln(classes) ...
    `blocks`: ... for this many consecutive blocks of one worker (the run stops at once);
    `growth`: an epoch's mean training loss above growth x the previous epoch's and above chance;
    `enabled=False` keeps only the NaN/inf check."""

    loss_factor: float = 10.0
    blocks: int = 3
    growth: float = 10.0
    enabled: bool = True

    def __post_init__(self):
        for name in ("loss_factor", "growth"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 1):
                raise CnnperfError(f"divergence {name} must be a finite number > 1, got {v!r}")
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or self.blocks < 1:
            raise CnnperfError(f"divergence blocks must be a positive integer, got {self.blocks!r}")

    def growth_verdict(self, previous: float | None, current: float, classes: int) -> str | None:
        """The epoch-to-epoch rule on mean training losses per image; None while healthy."""
        chance = math.log(classes)
        if not self.enabled or previous is None or previous <= 0 or current <= chance:
            return None
        if current >= self.growth * previous:
            return (f"mean training loss grew {current / previous:,.0f}x over the previous epoch "
                    f"({previous:.3g} -> {current:.3g} per image, chance is {chance:.2f}; "
                    f"rule: loss growth >= {self.growth:g}x)")
        return None


class BlockMonitor:
    """Watches the training blocks of one run (state kept across epochs). `observe` is called by
    worker k only for its own blocks, so the per-worker counters need no lock."""

    def __init__(self, rule: DivergenceRule, classes: int, workers: int):
        self.rule = rule
        self.limit = rule.loss_factor * math.log(classes)
        self._bad = [0] * workers
        self.verdict: str | None = None  # the rule that fired, once it fired
        self.halted = False  # a worker saw a diverged or non-finite block: the phase ends early

    def observe(self, k: int, images: int, loss_sum: float) -> bool:
        """Record one block of worker k; True if the phase should stop now."""
        mean = loss_sum / images if images else 0.0
        if not math.isfinite(mean):
            self.halted = True  # the NaN/inf check after the phase names the layer
            return True
        if not self.rule.enabled:
            return self.halted
        self._bad[k] = self._bad[k] + 1 if mean > self.limit else 0
        if self._bad[k] >= self.rule.blocks and self.verdict is None:
            self.verdict = (f"mean loss {mean:,.4g} per image in {self._bad[k]} consecutive blocks of worker {k} "
                            f"(chance is {self.limit / self.rule.loss_factor:.2f}; "
                            f"rule: > {self.rule.loss_factor:g}x chance for {self.rule.blocks} blocks)")
            self.halted = True
        return self.halted
