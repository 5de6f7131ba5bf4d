"""Interconnect calibration under mpiexec: Hockney alpha, beta by ping-pong, checked by an
allreduce, written into the profile's [network] section (rank 0 writes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cnnperf.errors import CnnperfError
from cnnperf.fileio import check_writable
from cnnperf.hardware import HardwareProfile, load_profile, save_profile

CHECK_FLOATS = 76040  # the medium network's weights: a realistic allreduce


def calibrate_interconnect(out: str | Path, log: Callable[[str], None] = print) -> HardwareProfile:
    """Measure alpha and beta and add them to the profile at `out` (rank 0 writes it)."""
    from cnnperf.measure.mpi_bench import allreduce_seconds, fit_hockney, pingpong
    from cnnperf.models.comm import allreduce_seconds as model_allreduce
    from cnnperf.parallel.distributed import mpi_world

    check_writable(out)
    comm = mpi_world()
    if comm is None or comm.size < 2:
        raise CnnperfError("--mpi measures the interconnect between ranks: start it as 'mpiexec -n 2 cnnperf calibrate "
                           "--mpi --out PROFILE'")
    if not Path(out).is_file():
        raise CnnperfError(f"{out} not found: calibrate the machine first (without --mpi), then add the interconnect")
    profile = load_profile(str(out))
    points = pingpong(comm)
    alpha, beta = fit_hockney(points)
    measured = allreduce_seconds(comm, CHECK_FLOATS)
    if comm.rank != 0:
        return profile
    model = float(model_allreduce(comm.size, 4 * CHECK_FLOATS, alpha, beta))
    for size, t in points:
        log(f"ping-pong {size:>9,} B: {t * 1e6:10.2f} us one way")
    log(f"Hockney fit: alpha = {alpha * 1e6:.3g} us, beta = {beta / 1e9:.3g} GB/s")
    log(f"allreduce of {CHECK_FLOATS:,} floats on {comm.size} ranks: measured {measured * 1e6:.1f} us, ring model "
        f"{model * 1e6:.1f} us")
    network = {"alpha_s": alpha, "beta_bytes_per_s": beta,
               "source": f"cnnperf calibrate --mpi: ping-pong fit over {len(points)} sizes, {comm.size} ranks; "
                         f"allreduce check {measured * 1e6:.1f} us measured vs {model * 1e6:.1f} us modelled"}
    profile = replace(profile, extra={**profile.extra, "network": network})
    save_profile(out, profile)
    return profile
