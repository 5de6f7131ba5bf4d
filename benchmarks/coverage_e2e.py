"""Issue 13's "What must hold", end to end: are cnnperf's prediction intervals trustworthy on
this (noisy) machine?

1. Random networks, never tuned on: drawn by `random_notation` (below) from the fixed seeds
   NET_SEEDS (chosen before any result was seen); invalid draws are redrawn from the same
   generator, so the list depends only on the seeds.
2. `cnnperf.calibrate` of those networks with --threads 1,2,4 (not --quick).
3. `cnnperf.validate` of the same networks at p = 1, 2, 4: 1 epoch of --images / --test-images
   MNIST images, medians of 3 runs taken in the protocol's interleaved order.
   Prints per strategy: coverage of the 90 % intervals (share of measured medians inside),
   median half-width, mean |error| and the signed mean error. Targets (issue 13): coverage
   >= 80 %, median half-width <= 20 %, mean |error| of strategy (b) <= 8 %.
4. Three calibrations in a row of one network (the issue's 29x29-12C6-MP2-24C4-MP3-80N-10N):
   the spread of their predictions (max - min over the median, per p) and whether each one's
   interval covers the others' predictions.

    CNNPERF_DATA=/path/to/mnist PYTHONPATH=src python benchmarks/coverage_e2e.py --out /tmp/coverage

(Not named coverage.py: a script of that name shadows the coverage package Numba imports.)

Run it on a machine nobody else uses at the time (it says the load average it saw). It takes
about 10-20 minutes on 2 cores; --smoke runs a two-minute version (tiny runs, one network,
--quick calibrations) that only checks that the pipeline works.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import cnnperf
from cnnperf.errors import CnnperfError

NET_SEEDS = (1301, 1302, 1303, 1304)  # fixed before the first run
REPEATED_NET = "29x29-12C6-MP2-24C4-MP3-80N-10N"  # the three-calibrations network
THREADS = (1, 2, 4)


def random_notation(seed: int) -> str:
    """An MNIST-scale CNN: 29x29 input; 1-2 convolutions (4-40 maps, kernels 3-6), each followed
    by max pooling (2 or 3) with probability 0.7 where the size allows; 0-1 fully connected
    layers (20-150 neurons); the 10-neuron output. Redrawn until the shapes are valid."""
    rng = np.random.default_rng(seed)
    while True:
        size, parts = 29, ["29x29"]
        for _ in range(int(rng.integers(1, 3))):
            k = int(rng.choice([3, 4, 5, 6]))
            if size - k + 1 < 3:
                break
            parts.append(f"{int(rng.choice([4, 6, 8, 10, 12, 16, 20, 24, 30, 40]))}C{k}")
            size -= k - 1
            pools = [s for s in (2, 3) if size % s == 0]
            if pools and rng.random() < 0.7:
                s = int(rng.choice(pools))
                parts.append(f"MP{s}")
                size //= s
        parts += [f"{int(rng.choice([20, 30, 50, 80, 100, 150]))}N" for _ in range(int(rng.integers(0, 2)))]
        notation = "-".join(parts + ["10N"])
        try:
            cnnperf.network(notation)
            return notation
        except CnnperfError:
            continue


def validate_nets(nets, profile, out: Path, images: int, test_images: int, repeat: int) -> dict:
    result = cnnperf.validate(profile, nets, THREADS, 1, images, test_images, repeat, out, interval=0.9,
                              log=print)
    rows = [r for r in result.rows if r.split != "fit"]
    per = {}
    for s in result.strategies():
        sel = [r for r in rows if r.strategy == s]
        ins = [r.inside for r in sel if r.inside is not None]
        hw = [(r.predicted_high - r.predicted_low) / 2 / r.predicted_s for r in sel if r.predicted_low is not None]
        per[s] = {"points": len(sel), "coverage": float(np.mean(ins)) if ins else None,
                  "median_half_width": float(np.median(hw)) if hw else None,
                  "mean_abs_error": float(np.mean([abs(r.error) for r in sel])),
                  "mean_error": float(np.mean([r.error for r in sel])),
                  "max_abs_error": float(np.max([abs(r.error) for r in sel]))}
    return per


def three_calibrations(out: Path, quick: bool, images: int, test_images: int) -> dict:
    preds = []
    for k in range(3):
        prof = out / f"repeat-{k}.toml"
        cnnperf.calibrate(prof, [REPEATED_NET], THREADS, quick=quick, log=lambda m: None)
        preds.append(cnnperf.predict(REPEATED_NET, str(prof), None, list(THREADS), images, test_images, 1))
    sec = np.array([p.seconds for p in preds])  # (3, p)
    spread = (sec.max(axis=0) - sec.min(axis=0)) / np.median(sec, axis=0)
    covers = {f"{a}->{b}": bool(np.all((preds[a].seconds_low <= sec[b]) & (sec[b] <= preds[a].seconds_high)))
              for a in range(3) for b in range(3) if a != b}
    return {"seconds": sec.tolist(), "spread": spread.tolist(), "covers": covers,
            "low": [p.seconds_low.tolist() for p in preds], "high": [p.seconds_high.tolist() for p in preds]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="coverage-run", type=Path)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--test-images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny, quick: checks the pipeline, measures nothing")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    seeds = NET_SEEDS[:1] if args.smoke else NET_SEEDS
    images, test_images = (300, 100) if args.smoke else (args.images, args.test_images)
    nets = [random_notation(s) for s in seeds]
    t0, load0 = time.time(), os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print("random networks (seeds " + ", ".join(map(str, seeds)) + "): " + ", ".join(nets))
    profile = out / "calibrated.toml"
    cnnperf.calibrate(profile, nets, THREADS, quick=args.smoke, log=print)
    from cnnperf.measure.calibrate import noise_line
    print(noise_line(cnnperf.profile(str(profile))))
    per = validate_nets(nets, str(profile), out / "validation", images, test_images, args.repeat)
    print("\nstrategy  points  coverage(90%)  median half-width  mean |error|  mean error  max |error|")
    for s, v in per.items():
        cov = "-" if v["coverage"] is None else f"{v['coverage']:.0%}"
        hw = "-" if v["median_half_width"] is None else f"{v['median_half_width']:.1%}"
        print(f"{s:8s}  {v['points']:6d}  {cov:>13s}  {hw:>17s}  {v['mean_abs_error']:12.1%}  "
              f"{v['mean_error']:+10.1%}  {v['max_abs_error']:11.1%}")
    rep = three_calibrations(out, args.smoke, images, test_images)
    print(f"\nthree calibrations of {REPEATED_NET} in a row, predicted seconds at p = {THREADS}:")
    for k, row in enumerate(rep["seconds"]):
        print(f"  calibration {k + 1}: " + ", ".join(f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                                                  zip(row, rep["low"][k], rep["high"][k])))
    print("  spread (max - min) / median per p: " + ", ".join(f"{v:.1%}" for v in rep["spread"]))
    print("  interval of calibration a covers the prediction of b: " +
          ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in rep["covers"].items()))
    load1 = os.getloadavg()
    print(f"\n{(time.time() - t0) / 60:.1f} min; load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    (out / "coverage.json").write_text(json.dumps({"nets": nets, "seeds": list(seeds), "strategies": per,
                                                   "three_calibrations": rep, "load_start": load0,
                                                   "load_end": load1}, indent=2))


if __name__ == "__main__":
    main()
