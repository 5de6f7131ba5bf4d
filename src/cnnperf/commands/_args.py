"""argparse value types shared by the verbs: each rejects bad input with a clear message."""

from __future__ import annotations

import argparse
import math

MAX_COUNT = 10**15  # any count (threads, ranks, images, epochs, ...): beyond, the models' float64 sums lose digits
MAX_LIST = 10_000  # values in one list option (1-3840:+1 has 3,840): more would only take time and memory


def _show(text: str) -> str:
    """The user's text in a message, cut short (a 5,000-digit number would fill the screen)."""
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def _integer(text: str) -> int:
    """An integer of at most MAX_COUNT, parsed without building a huge int from a long digit string."""
    digits = text.strip().lstrip("+-")
    if digits.isdigit() and len(digits) > len(str(MAX_COUNT)):  # int() would refuse beyond 4,300 digits
        raise argparse.ArgumentTypeError(f"{_show(text)} is too large; give at most {MAX_COUNT:,}")
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_show(text)} is not an integer") from None
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{_show(text)} is too large; give at most {MAX_COUNT:,}")
    return value


def positive_int(text: str) -> int:
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{_show(text)} must be a positive integer")
    return value


def nonnegative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{_show(text)} must be >= 0")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_show(text)} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{_show(text)} must be a positive finite number")
    return value


def unit_interval(text: str) -> float:
    """A float in (0, 1], e.g. a learning-rate decay factor."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{_show(text)} must be in (0, 1]")
    return value


def interval_level(text: str) -> float:
    """A prediction interval's level, strictly between 0 and 1 (e.g. 0.9)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (e.g. 0.9 for a 90 % interval)")
    return value


def _range(part: str) -> range | list[int]:
    """`1-8` (step 1), `1-3840:x2` (geometric) or `0-240:+15` (arithmetic, without the 0: 15, 30, ...,
    240); its size is known before any value is built, so `1-10000000000:+1` is refused at once."""
    rng, _, step = part.partition(":")
    lo_s, _, hi_s = rng.partition("-")
    step = step or "+1"
    k_s = step[1:]
    if step[0] not in "x+" or not k_s.isdigit() or len(k_s) > len(str(MAX_COUNT)) \
            or not (2 if step[0] == "x" else 1) <= int(k_s) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"bad step {_show(step)} in {_show(part)}; use :x2 (multiply) or :+15 (add)")
    k = int(k_s)
    lo = nonnegative_int(lo_s) if step[0] == "+" else positive_int(lo_s)
    hi = positive_int(hi_s)
    if hi < lo:
        raise argparse.ArgumentTypeError(f"range {_show(part)} ends before it starts")
    if step[0] == "+":
        return range(lo or k, hi + 1, k)
    values = [lo]
    while values[-1] * k <= hi:  # at most log2(MAX_COUNT) = 50 values
        values.append(values[-1] * k)
    return values


def int_list(text: str) -> list[int]:
    """`1,15,30`, ranges `1-8` (step 1), `1-3840:x2` (geometric) or `0-240:+15` (arithmetic);
    at most MAX_LIST values, each at most MAX_COUNT."""
    parts: list[range | list[int]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise argparse.ArgumentTypeError(f"empty item in list {_show(text)}")
        if part.startswith("-"):
            raise argparse.ArgumentTypeError(f"{_show(part)}: counts must be positive integers; ranges are LO-HI, "
                                             "e.g. 1-8")
        parts.append(_range(part) if "-" in part else [positive_int(part)])
        size = sum(len(p) for p in parts)
        if size > MAX_LIST:
            raise argparse.ArgumentTypeError(f"{_show(text)} has {size:,}+ values; give at most {MAX_LIST:,} "
                                             "(a coarser step, e.g. 1-3840:x2 or 0-240:+15)")
    return [v for p in parts for v in p]


def strategy_name(text: str) -> str:
    """A registered strategy's name or 'all' (the registry is read only when the option is given)."""
    from cnnperf.models import STRATEGIES

    if text != "all" and text not in STRATEGIES:
        raise argparse.ArgumentTypeError(f"unknown strategy {_show(text)}; use one of {', '.join(STRATEGIES)} or all")
    return text


def name_list(text: str) -> str:
    """A non-empty comma-separated list (e.g. of networks), passed on as text."""
    if not [t for t in text.split(",") if t.strip()]:
        raise argparse.ArgumentTypeError("the list is empty; give e.g. small,medium")
    return text
