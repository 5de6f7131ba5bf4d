"""argparse value types shared by the verbs: each rejects bad input with a clear message."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def unit_interval(text: str) -> float:
    """A float in (0, 1], e.g. a learning-rate decay factor."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1]")
    return value


def interval_level(text: str) -> float:
    """A prediction interval's level, strictly between 0 and 1 (e.g. 0.9)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1 (e.g. 0.9 for a 90 % interval)")
    return value


def int_list(text: str) -> list[int]:
    """`1,15,30`, ranges `1-8` (step 1), `1-3840:x2` (geometric) or `0-240:+15` (arithmetic)."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise argparse.ArgumentTypeError(f"empty item in list {text!r}")
        if part.startswith("-"):
            raise argparse.ArgumentTypeError(f"{part!r}: counts must be positive integers; ranges are LO-HI, e.g. 1-8")
        if "-" in part:
            rng, _, step = part.partition(":")
            lo_s, _, hi_s = rng.partition("-")
            lo, hi = positive_int(lo_s), positive_int(hi_s)
            if hi < lo:
                raise argparse.ArgumentTypeError(f"range {part!r} ends before it starts")
            step = step or "+1"
            if step[0] not in "x+" or not step[1:].isdigit() or int(step[1:]) < (2 if step[0] == "x" else 1):
                raise argparse.ArgumentTypeError(f"bad step {step!r} in {part!r}; use :x2 (multiply) or :+15 (add)")
            k, v = int(step[1:]), lo
            while v <= hi:
                values.append(v)
                v = v * k if step[0] == "x" else v + k
        else:
            values.append(positive_int(part))
    return values


def strategy_name(text: str) -> str:
    """A registered strategy's name or 'all' (the registry is read only when the option is given)."""
    from cnnperf.models import STRATEGIES

    if text != "all" and text not in STRATEGIES:
        raise argparse.ArgumentTypeError(f"unknown strategy {text!r}; use one of {', '.join(STRATEGIES)} or all")
    return text


def name_list(text: str) -> str:
    """A non-empty comma-separated list (e.g. of networks), passed on as text."""
    if not [t for t in text.split(",") if t.strip()]:
        raise argparse.ArgumentTypeError("the list is empty; give e.g. small,medium")
    return text
