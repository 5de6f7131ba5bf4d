"""Engine benchmark: per-image forward and train-step time per preset, GFLOP/s against this
CPU's nominal fp32 peak, PyTorch eager (batch 1, one thread) side by side, and JIT compile
time on a cold and a warm cache.

    python benchmarks/engine.py [--nets small,medium,large] [--repeat 7] [--no-torch]

Targets (issue 2, 2-core Zen 5): >= 20x / 8x / 3x PyTorch for small / medium / large;
large train step >= 55 % of nominal fp32 peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def executed_macs(spec) -> tuple[int, int]:
    """Multiply-adds per image of our kernels: (forward, backward). The backward under a pooling
    layer touches only the arg-max pixels (1 of S*S); the first layer needs no input delta."""
    shapes = spec.shapes
    fwd = bwd = 0
    for i, s in enumerate(shapes[1:], start=1):
        if not s.weights:
            continue
        pixels = s.size * s.size if s.kind == "conv" else 1
        fwd += s.maps * pixels * s.fan_in
        if s.kind == "conv" and i + 1 < len(shapes) and shapes[i + 1].kind == "maxpool":
            pixels = shapes[i + 1].size ** 2
        bwd += s.maps * pixels * s.fan_in * (2 if i > 1 else 1)
    return fwd, bwd


def dense_macs(spec) -> tuple[int, int]:
    """The same counted for a dense backward (what an implementation without the pooling shortcut does)."""
    fwd = bwd = 0
    for i, s in enumerate(spec.shapes[1:], start=1):
        if s.weights:
            m = s.maps * (s.size * s.size if s.kind == "conv" else 1) * s.fan_in
            fwd += m
            bwd += m * (2 if i > 1 else 1)
    return fwd, bwd


def nominal_peak_gflops() -> tuple[float, str]:
    """Cores x clock x 2 FMA pipes x SIMD lanes x 2 flops (an assumption stated in the output)."""
    clock_mhz, flags = 0.0, ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz") and not clock_mhz:
                clock_mhz = float(line.split(":")[1])
            if line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    lanes = 16 if " avx512f" in flags else 8 if " avx2" in flags else 4
    per_core = clock_mhz / 1e3 * 2 * lanes * 2
    return per_core, f"{clock_mhz / 1e3:.2f} GHz x 2 FMA pipes x {lanes} fp32 lanes x 2 flops = {per_core:.0f} GFLOP/s per core"


def gemm_gflops(repeat: int = 200) -> float:
    """Our register-blocked GEMM alone on the large net's 60C5 shape (M=60, F=500, P=484): a
    practical ceiling for this machine (above the nominal peak when the core turbo-clocks)."""
    from cnnperf.engine.layers import gemm_bias_nt
    m, f, p = 60, 500, 484
    rng = np.random.default_rng(0)
    w = rng.random(m * f + 64, dtype=np.float32)
    col = rng.random(p * f, dtype=np.float32)
    out = np.zeros(m * p, np.float32)
    gemm_bias_nt(w, 0, m * f, m, f, col, 0, p, out, 0)
    t0 = time.perf_counter()
    for _ in range(repeat):
        gemm_bias_nt(w, 0, m * f, m, f, col, 0, p, out, 0)
    return 2 * m * f * p * repeat / (time.perf_counter() - t0) / 1e9


def images(n: int):
    data = os.environ.get("CNNPERF_DATA")
    if data:
        from cnnperf.data.mnist import load_mnist
        m = load_mnist(data, n, 10, download=False)
        return m.train_images, m.train_labels, "MNIST"
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (n, 29, 29)).astype(np.float32), rng.integers(0, 10, n), "random"


def time_ours(spec, x, y, repeat: int) -> tuple[float, float]:
    from cnnperf import engine
    layout = engine.build_layout(spec)
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    n = len(x)
    engine.train_images(layout, w, ws, x, y, 0, n, 0.001)
    train, fwd = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        engine.train_images(layout, w, ws, x, y, 0, n, 0.001)
        train.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        engine.evaluate_images(layout, w, ws, x, y, 0, n)
        fwd.append((time.perf_counter() - t0) / n)
    return float(np.median(fwd)), float(np.median(train))


def time_torch(spec, x, y, repeat: int) -> tuple[float, float]:
    import torch
    from torch_net import build_torch_net
    torch.set_num_threads(1)
    net = build_torch_net(spec)
    opt = torch.optim.SGD(net.parameters(), lr=0.001)
    xt, yt = torch.from_numpy(x[:, None]), torch.from_numpy(np.asarray(y, dtype=np.int64))
    n = len(x)

    def step(k):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt[k:k + 1]), yt[k:k + 1]).backward()
        opt.step()

    for k in range(min(n, 20)):
        step(k)
    train, fwd = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for k in range(n):
            step(k)
        train.append((time.perf_counter() - t0) / n)
        with torch.no_grad():
            t0 = time.perf_counter()
            for k in range(n):
                net(xt[k:k + 1])
            fwd.append((time.perf_counter() - t0) / n)
    return float(np.median(fwd)), float(np.median(train))


COMPILE = textwrap.dedent("""
    import time, numpy as np
    t0 = time.perf_counter()
    from cnnperf import engine
    from cnnperf.networks import preset
    layout = engine.build_layout(preset("small"))
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    x = np.zeros((1, 29, 29), np.float32); y = np.zeros(1, np.int64)
    engine.train_images(layout, w, ws, x, y, 0, 1, 0.0)
    engine.evaluate_images(layout, w, ws, x, y, 0, 1)
    print(time.perf_counter() - t0)
""")


def compile_times() -> tuple[float, float]:
    """Seconds to import the engine and run every kernel once: fresh cache dir, then the same again."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = float(subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True, text=True, check=True).stdout)
        warm = float(subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True, text=True, check=True).stdout)
    return cold, warm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="small,medium,large")
    ap.add_argument("--repeat", type=int, default=7, help="repetitions; medians are reported")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    from cnnperf.networks import preset

    peak, how = nominal_peak_gflops()
    print(f"nominal fp32 peak (one core): {how}")
    print(f"our GEMM kernel alone (60x500 . 500x484): {gemm_gflops():.0f} GFLOP/s")
    cold, warm = compile_times()
    print(f"JIT: import + first call of every kernel: cold cache {cold:.1f} s, warm cache {warm:.2f} s\n")
    targets = {"small": 20, "medium": 8, "large": 3}
    head = (f"{'net':7s} {'fwd us':>8s} {'train us':>9s} {'GFLOP/s':>8s} {'% peak':>7s} {'dense-eq':>9s} "
            f"{'torch fwd':>9s} {'torch train':>11s} {'speed-up':>8s} {'target':>6s}")
    print(head)
    print("-" * len(head))
    for name in args.nets.split(","):
        spec = preset(name)
        n = {"small": 2000, "medium": 500}.get(name, 100)
        x, y, source = images(n)
        fwd, train = time_ours(spec, x, y, args.repeat)
        f_macs, b_macs = executed_macs(spec)
        df, db = dense_macs(spec)
        gflops = 2 * (f_macs + b_macs) / train / 1e9
        dense = 2 * (df + db) / train / 1e9
        line = f"{name:7s} {fwd * 1e6:8.1f} {train * 1e6:9.1f} {gflops:8.1f} {100 * gflops / peak:6.1f}% {dense:9.1f}"
        if not args.no_torch:
            n_t = {"small": 300, "medium": 200}.get(name, 50)
            t_fwd, t_train = time_torch(spec, x[:n_t], y[:n_t], max(3, args.repeat // 2))
            ratio = t_train / train
            ok = "ok" if ratio >= targets.get(name, 0) else "MISSED"
            line += f" {t_fwd * 1e6:9.1f} {t_train * 1e6:11.1f} {ratio:7.1f}x {targets.get(name, '-'):>5}x {ok}"
        print(line, flush=True)
    print(f"\nimages: {source}; GFLOP/s counts the multiply-adds our kernels execute (x2); 'dense-eq' counts a dense"
          " backward (no pooling shortcut) in the same time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
