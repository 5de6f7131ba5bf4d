"""Strategy (d) on networks it never saw (issue 14's acceptance): one `calibrate --quick` that
names no test network, then `validate --holdout-nets` with random networks from `nets random`
(seed fixed before looking: 20261201), p in {1, 2, 4}, 1 epoch of 3,000 / 1,000 images, medians
of 3 runs taken interleaved. Prints (d)'s errors per network and p, mean and worst |error| over
p in {1, 2} and separately at p = 4, and the presets' errors for every strategy.

    python benchmarks/layer_model.py [--out DIR] [--count 8] [--seed 20261201] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = 20261201


def cli(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "cnnperf", *argv], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="layer-model-benchmark")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", default="1,2,4")
    ap.add_argument("--reuse", action="store_true", help="keep an existing calibration and sweep in --out")
    args = ap.parse_args()
    from cnnperf.networks.random import random_networks

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    profile = out / "machine.toml"
    t0 = time.perf_counter()
    if not (args.reuse and profile.is_file()):
        cli("calibrate", "--quick", "--out", str(profile), "--quiet")
    calibrate_s = time.perf_counter() - t0
    held = [s.notation() for s in random_networks(args.seed, args.count)]
    cli("validate", "--profile", str(profile), "--nets", "small,medium,large", "--holdout-nets", ",".join(held),
        "--threads", args.threads, "--images", "3000", "--test-images", "1000", "--repeat", "3",
        "--out", str(out / "validation"), "--quiet")
    doc = json.loads((out / "validation" / "results.json").read_text())
    rows = [r for r in doc["rows"] if r["strategy"] == "d"]
    print(f"\ncalibrate --quick: {calibrate_s:.0f} s (machine model and presets)")
    print(f"{'network':45s} {'p':>3s} {'measured s':>11s} {'predicted s':>12s} {'error':>8s}")
    for r in sorted(rows, key=lambda r: (r["split"], r["net"], r["p"])):
        print(f"{r['net']:45s} {r['p']:3d} {r['measured_s']:11.3f} {r['predicted_s']:12.3f} {r['error']:+8.1%}  "
              f"{r['split']}")
    for label, sel in (("held out, p in {1, 2}", lambda r: r["split"] == "holdout" and r["p"] in (1, 2)),
                       ("held out, p = 4", lambda r: r["split"] == "holdout" and r["p"] == 4),
                       ("presets, all p", lambda r: r["split"] != "holdout")):
        e = np.abs([r["error"] for r in rows if sel(r)])
        if len(e):
            print(f"(d) {label:24s}: mean |error| {e.mean():.1%}, worst {e.max():.1%} over {len(e)} points")
    for s in sorted({r["strategy"] for r in doc["rows"]} - {"d"}):
        e = np.abs([r["error"] for r in doc["rows"] if r["strategy"] == s and r["split"] != "holdout"])
        print(f"({s}) presets, all p             : mean |error| {e.mean():.1%}, worst {e.max():.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
