"""CHAOS scaling benchmark (issue 4): training-phase images/s for P in {1, 2, 4, 8}.

Per preset and P it prints images/s, speed-up over P = 1 and efficiency, and beside it,
measured in the same run, the PyTorch `mnist_hogwild` pattern (torch.multiprocessing
processes sharing one model, batch size 1, one intra-op thread each) on the same network.
Medians of `--repeat` runs. Usage: python benchmarks/scaling.py [--nets small,medium] [--threads 1,2,4,8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from cnnperf.networks import preset
from cnnperf.parallel.trainer import TrainConfig, Trainer

IMAGES = {"small": 30000, "medium": 8000, "large": 1200}  # ours, per measurement
TORCH_IMAGES = {"small": 3000, "medium": 1500, "large": 300}


def load_images(n: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from cnnperf.data.mnist import load_mnist

        m = load_mnist(None, n_train=n, n_test=1, download=False)
        return m.train_images, m.train_labels
    except Exception as exc:  # benchmark still runs without MNIST: speed does not depend on pixel values
        print(f"(MNIST not found: {exc}; using random images)", file=sys.stderr)
        rng = np.random.default_rng(0)
        return rng.random((n, 29, 29), dtype=np.float32), rng.integers(0, 10, n)


def ours(net: str, threads: int, images, labels, repeat: int) -> float:
    """Median training-phase images/s of the CHAOS trainer."""
    spec = preset(net)
    trainer = Trainer(spec, TrainConfig(threads=threads))
    try:
        rates = []
        for _ in range(repeat):
            r = trainer.run_phase("train", images, labels, 1e-4)
            rates.append(r.images / r.seconds)
        return statistics.median(rates)
    finally:
        trainer.close()


def _hogwild_worker(rank, model, images, labels, lo, hi, start, done):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.from_numpy(images[lo:hi]).unsqueeze(1)
    y = torch.from_numpy(labels[lo:hi].astype(np.int64))
    start.wait()
    for j in range(hi - lo):
        opt.zero_grad()
        loss = F.cross_entropy(model(x[j:j + 1]), y[j:j + 1])
        loss.backward()
        opt.step()
    done.put(rank)


def torch_hogwild(net: str, threads: int, images, labels, repeat: int) -> float | None:
    """Median images/s of PyTorch's mnist_hogwild pattern with `threads` processes."""
    try:
        import torch
        import torch.multiprocessing as mp
    except ImportError:
        return None
    from torch_net import build_torch_net

    torch.set_num_threads(1)
    ctx = mp.get_context("fork")
    rates = []
    for _ in range(repeat):
        model = build_torch_net(preset(net))
        model.share_memory()
        start, done = ctx.Barrier(threads + 1), ctx.Queue()
        n = len(images)
        procs = [ctx.Process(target=_hogwild_worker, args=(k, model, images, labels, k * n // threads,
                                                           (k + 1) * n // threads, start, done))
                 for k in range(threads)]
        for p in procs:
            p.start()
        start.wait()
        t0 = time.perf_counter()
        for _ in procs:
            done.get()
        rates.append(n / (time.perf_counter() - t0))
        for p in procs:
            p.join()
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="small,medium,large")
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    print(f"CHAOS training phase, {os.cpu_count()} logical CPUs; medians of {args.repeat}; "
          "torch = mnist_hogwild pattern")
    print(f"{'net':7s} {'P':>3s} {'img/s':>9s} {'speed-up':>8s} {'effic.':>7s} {'torch img/s':>11s} "
          f"{'ours/torch':>10s}")
    for net in args.nets.split(","):
        images, labels = load_images(IMAGES[net])
        base = None
        for p in threads:
            rate = ours(net, p, images, labels, args.repeat)
            base = base or rate
            n_torch = TORCH_IMAGES[net]
            t = None if args.no_torch else torch_hogwild(net, p, images[:n_torch], labels[:n_torch], args.repeat)
            tcol = f"{t:11.0f} {rate / t:9.1f}x" if t else f"{'-':>11s} {'-':>10s}"
            print(f"{net:7s} {p:3d} {rate:9.0f} {rate / base:7.2f}x {rate / base / p:6.0%} {tcol}", flush=True)


if __name__ == "__main__":
    main()
