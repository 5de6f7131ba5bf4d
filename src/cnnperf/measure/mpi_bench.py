"""MPI micro-benchmarks for the communication model: ping-pong (Hockney alpha, beta) between
ranks 0 and 1, and the allreduce of a float32 vector as a check. Run under mpiexec."""

from __future__ import annotations

import time

import numpy as np

SIZES = (8, 64, 512, 4096, 32768, 262144, 1048576, 4194304)  # bytes


def pingpong(comm, sizes=SIZES, reps: int = 30) -> list[tuple[int, float]]:
    """(bytes, one-way seconds: median half round trip) between ranks 0 and 1; others idle."""
    out = []
    for size in sizes:
        buf = np.zeros(size, dtype=np.uint8)
        times = []
        for k in range(reps + 3):
            comm.Barrier()
            if comm.rank == 0:
                t0 = time.perf_counter()
                comm.Send(buf, dest=1, tag=7)
                comm.Recv(buf, source=1, tag=7)
                if k >= 3:
                    times.append((time.perf_counter() - t0) / 2)
            elif comm.rank == 1:
                comm.Recv(buf, source=0, tag=7)
                comm.Send(buf, dest=0, tag=7)
        out.append((size, float(np.median(times)) if comm.rank == 0 else 0.0))
    return comm.bcast(out, root=0)


def fit_hockney(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares t = alpha + bytes / beta on relative residuals (so the small messages fix
    alpha and the large ones beta). Returns (alpha_s, beta_bytes_per_s)."""
    s = np.array([p[0] for p in points], float)
    t = np.array([p[1] for p in points], float)
    slope, alpha = np.polyfit(s, t, 1, w=1.0 / t)
    return max(float(alpha), 0.0), float(1.0 / slope) if slope > 0 else float("inf")


def allreduce_seconds(comm, n_floats: int, reps: int = 20) -> float:
    """Median time of an in-place float32 allreduce of n_floats (slowest rank)."""
    from mpi4py import MPI
    buf = np.ones(n_floats, dtype=np.float32)
    times = []
    for k in range(reps + 3):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        if k >= 3:
            times.append(time.perf_counter() - t0)
    return float(comm.allreduce(float(np.median(times)), op=MPI.MAX))
