"""The paper's published operation counts (Tables VII and VIII), for comparison only."""

from __future__ import annotations

# {net: {type: (FProp, BProp)}} in operations per image; totals as printed.
PAPER_OPS = {
    "small": {"maxpool": (7e3, 2e3), "full": (5e3, 10e3), "conv": (46e3, 512e3)},
    "medium": {"maxpool": (29e3, 4e3), "full": (56e3, 112e3), "conv": (474e3, 6003e3)},
    "large": {"maxpool": (99e3, 8e3), "full": (137e3, 274e3), "conv": (5113e3, 72896e3)},
}
PAPER_TOTALS = {"small": (58e3, 524e3), "medium": (559e3, 6119e3), "large": (5349e3, 73178e3)}
