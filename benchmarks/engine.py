"""Engine benchmark: per-image forward and train-step time per preset, GFLOP/s against this
CPU's nominal fp32 peak, PyTorch eager (batch 1, one thread) side by side, JIT compile time on
a cold and a warm cache per preset, and sparse layers against dense ones per executed multiply-add.

    python benchmarks/engine.py [--nets small,medium,large] [--repeat 7] [--no-torch] [--sparse-only] [--isa avx2]

Targets (issue 2, 2-core Zen 5): >= 20x / 8x / 3x PyTorch for small / medium / large;
large train step >= 55 % of nominal fp32 peak. Issue 11: `medium` with random fan-in 10
(`40C5r10`) and the LeNet-5 example within 1.3x of dense `medium`'s train-step time per
executed multiply-add (measured interleaved, one process; medians and spread over rounds).
Issue 15: a training run's cold compile (train + evaluate, float32) <= 10 s for every preset.
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
    """Multiply-adds per image the layers need, as our kernels execute them: (forward, backward).
    Only connected map pairs; the backward under max pooling touches only the arg-max pixels
    (1 of S*S); the first layer needs no input delta (cnnperf.engine.paths, useful_macs_*)."""
    from cnnperf.engine.paths import layer_paths
    paths = layer_paths(spec)
    return sum(p.useful_macs_forward for p in paths), sum(p.useful_macs_backward for p in paths)


def dense_macs(spec) -> tuple[int, int]:
    """The same counted for a dense backward (what an implementation without the pooling shortcut does)."""
    from cnnperf.engine.paths import layer_paths
    paths = layer_paths(spec)
    fwd = sum(p.useful_macs_forward for p in paths)
    return fwd, sum(p.useful_macs_forward * (2 if p.input_delta else 1) for p in paths if p.weights)


def use_isa(isa: str) -> None:
    """Compile for `isa` before Numba is imported: "native" (the CPU's own), or "avx2": the host's
    features without AVX-512 (LLVM's znver3 schedule), and PyTorch's AVX2 kernels
    (ATEN_CPU_CAPABILITY), so that an AVX-512 machine measures the AVX2 build side by side."""
    if isa == "native":
        return
    import llvmlite.binding as ll
    off = ("avx512", "avx10", "evex512", "amx")
    feats = ll.get_host_cpu_features()
    flags = ",".join(("+" if on and not k.startswith(off) else "-") + k for k, on in sorted(feats.items()))
    os.environ.update(NUMBA_CPU_NAME="znver3", NUMBA_CPU_FEATURES=flags, ATEN_CPU_CAPABILITY="avx2")


def nominal_peak_gflops() -> tuple[float, str, bool]:
    """Clock x 2 FMA pipes x fp32 lanes per pipe and cycle x 2 flops (the pipe count an assumption
    stated in the output). Lanes: those of the ISA the kernels are compiled for, capped at the width
    the core executes (`fma_fp32_lanes`: Zen 4 runs AVX-512 as 256-bit halves). Also returns whether
    the core's pipes are wider than the build's vectors."""
    from cnnperf.engine.kernels.simd import target_vector
    from cnnperf.hardware.topology import detect_machine, fma_fp32_lanes
    clock_ghz = detect_machine().clock_hz / 1e9
    pipe_lanes, why = fma_fp32_lanes()
    build = target_vector()[0]
    lanes = min(build, pipe_lanes)
    isa = {16: "AVX-512", 8: "AVX2"}.get(build, "SSE")
    per_core = clock_ghz * 2 * lanes * 2
    how = f"{clock_ghz:.2f} GHz x 2 FMA pipes x {lanes} fp32 lanes ({isa} build) x 2 flops"
    return per_core, f"{how} = {per_core:.0f} GFLOP/s per core; the CPU: {why}", pipe_lanes > build


def register_fma_gflops(n: int = 20_000_000) -> float:
    """FMAs on registers only (12 independent chains of native vectors, no loads): what the core
    executes at its current clock, turbo included; the nominal peak assumes the reported clock."""
    from numba import njit

    from cnnperf.engine.kernels.simd import VL, nload, nstore, vfma

    @njit(cache=False, fastmath=True)
    def chains(x, n):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = nload(x, 0)
        w, v = nload(x, 16), nload(x, 32)
        for _ in range(n):
            a0, a1, a2, a3 = vfma(a0, w, v), vfma(a1, w, v), vfma(a2, w, v), vfma(a3, w, v)
            a4, a5, a6, a7 = vfma(a4, w, v), vfma(a5, w, v), vfma(a6, w, v), vfma(a7, w, v)
            a8, a9, a10, a11 = vfma(a8, w, v), vfma(a9, w, v), vfma(a10, w, v), vfma(a11, w, v)
        for k, a in enumerate((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)):
            nstore(x, 48 + 16 * k, a)

    x = np.full(256, 1e-3, np.float32)
    x[16:48] = 0.5  # a fixed point of a <- a + 0.25: finite, no denormals
    chains(x, 10)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        chains(x, n)
        best = max(best, 12 * n * VL * 2 / (time.perf_counter() - t0) / 1e9)
    return best


def gemm_gflops(repeat: int = 200) -> float:
    """Our register-blocked GEMM alone on the large net's 60C5 shape (M=60, F=500, P=484): a
    practical ceiling for this machine (above the nominal peak when the core turbo-clocks)."""
    from cnnperf.engine.layers import gemm_bias_nt
    from cnnperf.engine.paths import row_stride
    m, f, p = 60, 500, 484
    rng = np.random.default_rng(0)
    w = rng.random(m * f + 64, dtype=np.float32)
    fs = row_stride(f)  # im2col's layout: rows of fs floats, zeros past f (every lane a finite number)
    col = np.zeros((p, fs), np.float32)
    col[:, :f] = rng.random((p, f), dtype=np.float32)
    col = col.ravel()
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
    import resource, sys, time, numpy as np
    t0, c0 = time.perf_counter(), time.process_time()
    from cnnperf import engine
    from cnnperf.networks import preset
    layout = engine.build_layout(preset(sys.argv[1]))
    engine.compile_kernels(layout)  # as the trainer does (with two cores, a helper process compiles half)
    w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
    x = np.zeros((1, 29, 29), np.float32); y = np.zeros(1, np.int64)
    engine.train_images(layout, w, ws, x, y, 0, 1, 0.0)
    engine.evaluate_images(layout, w, ws, x, y, 0, 1)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(time.perf_counter() - t0, time.process_time() - c0 + kids.ru_utime + kids.ru_stime)
""")


def compile_times(net: str = "small") -> tuple[float, float, float, float]:
    """What a training run of `net` compiles (train + evaluate, float32): seconds to import the engine
    and run both once in a fresh process with a fresh cache dir, then the same again (the cache
    warm). Returns (cold wall, cold CPU, warm wall, warm CPU); CPU seconds are this process's and its
    compile helper's (`engine.compile_kernels`): the compile's work, whatever other processes load."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cmd = [sys.executable, "-c", COMPILE, net]
        cold = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()
        warm = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(cold[0]), float(cold[1]), float(warm[0]), float(warm[1])


SPARSE = {  # issue 11: sparse layers against dense medium per executed multiply-add
    "medium": "medium",
    "medium-r10": "1x29x29-20C4-MP2-40C5r10-MP3-150N-10N",
    "lenet5-c3": str(Path(__file__).resolve().parents[1] / "examples" / "lenet5-c3.toml"),
}


def sparse_vs_dense(rounds: int, n_images: int = 200) -> None:
    """Train-step time per executed multiply-add of the sparse networks over dense medium's, timed
    interleaved in one process (the order rotates every round); medians and spread over rounds."""
    from cnnperf import engine
    from cnnperf.networks import resolve_network
    x, y, source = images(n_images)
    runs = {}
    for name, net in SPARSE.items():
        spec = resolve_network(net)
        layout = engine.build_layout(spec)
        w, ws = engine.init_weights(layout, 0), engine.new_workspace(layout)
        engine.train_images(layout, w, ws, x, y, 0, n_images, 0.001)  # compile / load and warm up
        runs[name] = (spec, layout, w, ws, sum(executed_macs(spec)))
    names = list(runs)
    per_image = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            _, layout, w, ws, _ = runs[name]
            t0 = time.perf_counter()
            engine.train_images(layout, w, ws, x, y, 0, n_images, 0.001)
            per_image[name].append((time.perf_counter() - t0) / n_images)
    base = np.array(per_image["medium"]) / runs["medium"][4]
    print(f"\nsparse layers (issue 11), {rounds} interleaved rounds of {n_images} {source} images, train step:")
    head = (f"{'net':11s} {'notation':44s} {'MACs/img':>10s} {'us/img':>8s} {'ps/MAC':>7s} "
            f"{'vs medium/MAC':>14s} {'spread':>13s}")
    print(head)
    print("-" * len(head))
    for name in names:
        spec, _, _, _, macs = runs[name]
        t = np.array(per_image[name])
        ratio = (t / macs) / base
        verdict = "" if name == "medium" else (" ok" if np.median(ratio) <= 1.3 else " MISSED (target 1.3x)")
        print(f"{name:11s} {spec.notation():44s} {macs:>10,} {np.median(t) * 1e6:8.1f} "
              f"{np.median(t / macs) * 1e12:7.1f} "
              f"{np.median(ratio):13.3f}x {ratio.min():6.3f}-{ratio.max():.3f}{verdict}")
    print("MACs: multiply-adds the layers need (connected maps, arg-max pixels under max pooling), "
          "cnnperf.engine.paths useful_macs_*; ratio per round, spread = min-max over rounds")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="small,medium,large")
    ap.add_argument("--repeat", type=int, default=7, help="repetitions; medians are reported")
    ap.add_argument("--rounds", type=int, default=21, help="interleaved rounds of the sparse comparison")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--sparse-only", action="store_true", help="only the sparse-vs-dense comparison")
    ap.add_argument("--isa", choices=("native", "avx2"), default="native",
                    help="instruction set to compile for (avx2 on an AVX-512 CPU: the AVX2 build, PyTorch's too)")
    args = ap.parse_args()
    use_isa(args.isa)
    from cnnperf.networks import preset

    if args.sparse_only:
        sparse_vs_dense(args.rounds)
        return 0
    peak, how, wider_pipes = nominal_peak_gflops()
    print(f"nominal fp32 peak (one core): {how}")
    fma = register_fma_gflops()
    print(f"measured FMA throughput on registers (one core, best of 3): {fma:.0f} GFLOP/s "
          f"({100 * fma / peak:.0f} % of nominal)")
    gemm = gemm_gflops()
    print(f"our GEMM kernel alone (60x500 . 500x484): {gemm:.0f} GFLOP/s ({100 * gemm / peak:.0f} % of nominal, "
          f"{100 * gemm / fma:.0f} % of the measured FMA throughput)")
    if fma > 1.1 * peak:
        print("  the FMAs ran faster than the clock the CPU reports allows (a boost clock above it): '% peak' "
              "overstates; '% FMA' is against the measured register throughput")
    if args.isa != "native" and wider_pipes:
        print(f"  an {args.isa.upper()} build on this CPU, not an {args.isa.upper()} CPU: its pipes are wider than the "
              "build's vectors and may run the narrower FMAs faster than the nominal peak assumes (a GEMM above 100 % "
              "says so), so '% peak' overstates what such a CPU shows")
    print("JIT, what a training run compiles (import + first train and evaluate call, float32; target <= 10 s cold):")
    for name in args.nets.split(","):
        cw, cc, ww, wc = compile_times(name)
        print(f"  {name:7s} cold cache {cw:5.1f} s (CPU {cc:5.1f} s), warm cache {ww:5.2f} s (CPU {wc:5.2f} s)"
              f"{'' if cw <= 10 else '  MISSED'}")
    print()
    targets = {"small": 20, "medium": 8, "large": 3}
    head = (f"{'net':7s} {'fwd us':>8s} {'train us':>9s} {'GFLOP/s':>8s} {'% peak':>7s} {'% FMA':>6s} {'dense-eq':>9s} "
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
        line = (f"{name:7s} {fwd * 1e6:8.1f} {train * 1e6:9.1f} {gflops:8.1f} {100 * gflops / peak:6.1f}% "
                f"{100 * gflops / fma:5.1f}% {dense:9.1f}")
        if not args.no_torch:
            n_t = {"small": 300, "medium": 200}.get(name, 50)
            t_fwd, t_train = time_torch(spec, x[:n_t], y[:n_t], max(3, args.repeat // 2))
            ratio = t_train / train
            ok = "ok" if ratio >= targets.get(name, 0) else "MISSED"
            line += f" {t_fwd * 1e6:9.1f} {t_train * 1e6:11.1f} {ratio:7.1f}x {targets.get(name, '-'):>5}x {ok}"
        print(line, flush=True)
    print(f"\nimages: {source}; GFLOP/s counts the multiply-adds our kernels execute (x2); 'dense-eq' counts a dense"
          " backward (no pooling shortcut) in the same time")
    sparse_vs_dense(args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
