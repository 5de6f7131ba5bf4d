"""Random valid networks of the MNIST scale, to test predictions on networks no one chose.

The generator (`random_networks(seed, count)`), documented so that anyone can reproduce it:
- input 1x29x29 (MNIST padded, NOTES.md);
- 1 to 3 convolution stages while the map is at least 6 wide: a convolution (maps drawn
  log-uniformly, 2-32 in the first stage, then 1-4x the previous stage's maps, at most 128;
  kernel 2-7, smaller than the map; after the first stage, with probability 0.2, random
  fan-in: each map connected to a uniformly drawn 1 .. maps-1 of the input maps), then with
  probability 0.7 a pooling (average with probability 0.2, else max) whose size (2, 3 or 4)
  divides the convolution's output;
- 0 to 2 fully connected layers of 10-300 neurons (log-uniform), then the 10-neuron output;
- a network whose train step needs more than `max_macs` multiply-adds (forward + backward as
  the engine executes them) or that already appeared is drawn again.
Every draw comes from `numpy.random.default_rng(seed)`, so a seed gives the same networks on
every machine.
"""

from __future__ import annotations

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.networks.parse import parse_notation
from cnnperf.networks.spec import NetworkSpec

MAX_MACS = 30_000_000  # per train step: about the large preset's size
INPUT = 29


def _log_int(rng, lo: float, hi: float) -> int:
    return int(round(float(np.exp(rng.uniform(np.log(lo), np.log(hi))))))


def _draw(rng) -> str:
    parts, size, maps = [f"1x{INPUT}x{INPUT}"], INPUT, 1
    for stage in range(int(rng.integers(1, 4))):
        if size < 6:
            break
        m = _log_int(rng, 2, 32) if stage == 0 else min(128, _log_int(rng, maps, 4 * maps))
        k = int(rng.integers(2, min(7, size - 1) + 1))
        sparse = stage > 0 and maps >= 2 and rng.random() < 0.2
        parts.append(f"{m}C{k}" + (f"r{int(rng.integers(1, maps))}" if sparse else ""))
        size, maps = size - k + 1, m
        pools = [s for s in (2, 3, 4) if size % s == 0 and size // s >= 1]
        if pools and rng.random() < 0.7:
            s = int(rng.choice(pools))
            parts.append(f"{'AP' if rng.random() < 0.2 else 'MP'}{s}")
            size //= s
    for _ in range(int(rng.integers(0, 3))):
        parts.append(f"{_log_int(rng, 10, 300)}N")
    parts.append("10N")
    return "-".join(parts)


def executed_macs(spec: NetworkSpec) -> int:
    """Multiply-adds of one train step as the engine executes it (forward + backward; the direct
    first layer's few extra wide-row columns aside)."""
    macs = 0
    shapes = spec.shapes
    for i, s in enumerate(shapes[1:], start=1):
        if not s.weights:
            continue
        positions = s.size * s.size if s.kind == "conv" else 1
        back = positions
        if s.kind == "conv" and i + 1 < len(shapes) and shapes[i + 1].kind == "maxpool":
            back = shapes[i + 1].size ** 2
        taps = s.weights - s.maps  # multiply-adds per position: the connected inputs of every neuron
        macs += taps * (positions + back * (2 if i > 1 else 1))
    return macs


def random_networks(seed: int, count: int, max_macs: int = MAX_MACS) -> tuple[NetworkSpec, ...]:
    """`count` distinct random valid networks (see the module docstring), named by their notation."""
    if count < 1 or count > 10_000:
        raise CnnperfError(f"--count {count}: give between 1 and 10,000 networks")
    rng = np.random.default_rng(seed)
    out: list[NetworkSpec] = []
    seen: set[str] = set()
    for _ in range(1000 * count):
        text = _draw(rng)
        if text in seen:
            continue
        spec = parse_notation(text)
        if executed_macs(spec) <= max_macs:
            seen.add(text)
            out.append(spec)
            if len(out) == count:
                return tuple(out)
    raise CnnperfError(f"could not draw {count} distinct networks under {max_macs:,} multiply-adds; raise --max-macs")
