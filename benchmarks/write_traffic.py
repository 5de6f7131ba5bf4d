"""Cache-line traffic on the shared weights (issue 15, item 2): write orders measured side by side.

At p = the usable cores, each round runs, in an order rotating by round, P CHAOS threads on the same
images (one worker's chunk each, released together by a barrier, timed to the last one's end) with:
  private   every thread its own copy of the weights (no sharing: the threads' ceiling)
  <order>   one shared weight store, every write order the engine offers (engine.WRITE_ORDERS)
Rates are images/s; each variant's ratio to `private` is taken per round (side by side), then the
median with [min-max] over rounds. What sharing costs is 1 - shared/private; an order that cuts
write traffic moves its ratio towards 100 %.
Usage: python benchmarks/write_traffic.py [--nets medium,large] [--repeat 7] [--images N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import threading
import time

from cnnperf import engine
from cnnperf.networks import preset
from cnnperf.parallel.trainer import chunk_bounds
from scaling import IMAGES, load_images, usable_cores

DEFAULT = engine.DEFAULT_ORDER  # the order new_workspace gives worker k of P > 1


def run_threads(layout, stores, workspaces, images, labels, lr: float) -> float:
    """Images/s of len(workspaces) threads, thread k on chunk k with stores[k], from a common start
    to the last thread's end."""
    p = len(workspaces)
    bounds = chunk_bounds(len(images), p)
    start = threading.Barrier(p + 1)
    ends = [0.0] * p

    def work(k):
        start.wait()
        engine.train_images(layout, stores[k], workspaces[k], images, labels, *bounds[k], lr)
        ends[k] = time.perf_counter()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(p)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return len(images) / (max(ends) - t0)


def variants(layout, p: int, orders: list[str]) -> dict[str, tuple[list, list]]:
    """name -> (weight store per thread, workspace per thread)."""
    shared = engine.init_weights(layout, 0)
    out = {"private": ([engine.init_weights(layout, 0) for _ in range(p)],
                       [engine.new_workspace(layout) for _ in range(p)])}  # plain sweeps: nothing shared
    base = [engine.new_workspace(layout, worker=(k, p)) for k in range(p)]
    for name in orders:
        order = engine.WRITE_ORDERS[name]
        out[name] = ([shared] * p, [dataclasses.replace(ws, **order(k, p)) for k, ws in enumerate(base)])
    return out


def measure(net: str, p: int, repeat: int, n_images: int, orders: list[str]) -> dict[str, list[float]]:
    images, labels = load_images(n_images)
    layout = engine.build_layout(preset(net))
    runs = variants(layout, p, orders)
    for stores, wss in runs.values():  # warm-up: compile, touch every buffer
        run_threads(layout, stores, wss, images[:64 * p], labels[:64 * p], 1e-4)
    names, rates = list(runs), {name: [] for name in runs}
    for r in range(repeat):
        for j in range(len(names)):
            name = names[(r + j) % len(names)]
            rates[name].append(run_threads(layout, *runs[name], images, labels, 1e-4))
    return rates


def spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def paired(values: list[float], reference: list[float]) -> str:
    """Per-round ratio in %, median [min-max]."""
    return spread([100 * v / q for v, q in zip(values, reference, strict=True)], ".1f")


def report(net: str, p: int, rates: dict[str, list[float]]) -> None:
    print(f"{net}: p = {p}, {len(rates['private'])} interleaved rounds, median [min-max]; ratios per round")
    print(f"  {'variant':<22}{'img/s':>22}{'of private %':>26}{'of ' + DEFAULT + ' %':>26}")
    for name, values in rates.items():
        print(f"  {name:<22}{spread(values, '.0f'):>22}{paired(values, rates['private']):>26}"
              f"{paired(values, rates[DEFAULT]):>26}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="medium,large")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--images", type=int, default=0, help="images per measurement (default: per net)")
    ap.add_argument("--orders", default="", help="comma-separated subset of the write orders (default: all)")
    args = ap.parse_args(argv)
    orders = args.orders.split(",") if args.orders else list(engine.WRITE_ORDERS)
    unknown = sorted(set(orders) - set(engine.WRITE_ORDERS))
    if unknown:
        print(f"write_traffic: unknown order {', '.join(unknown)}; choose from {', '.join(engine.WRITE_ORDERS)}",
              file=sys.stderr)
        return 2
    orders = [DEFAULT] + [o for o in orders if o != DEFAULT]
    p = usable_cores()
    if p < 2:
        print("write_traffic: needs at least 2 usable cores (nothing is shared on one)", file=sys.stderr)
        return 2
    print(f"CPU: {os.uname().machine}, {p} usable cores; orders: {', '.join(orders)}")
    for net in args.nets.split(","):
        report(net, p, measure(net, p, args.repeat, args.images or IMAGES[net], orders))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
