"""Communication model for CHAOS over MPI ranks (cnnperf extension of the paper's models).

Hockney: a message of B bytes takes alpha + B / beta. A ring allreduce of B bytes over R
ranks takes 2 (R-1) alpha + 2 (R-1)/R * B / beta. The term `comm` is the number of weight
synchronisations times the allreduce time of the weight vector (float32).
"""

from __future__ import annotations

import numpy as np

from cnnperf.errors import CnnperfError
from cnnperf.hardware import HardwareProfile
from cnnperf.models.base import Prediction

EQUATION = "comm = ep * ceil(ceil(i/R) / K) * ( 2(R-1)*alpha + 2(R-1)/R * 4*n_weights / beta )"


def interconnect(profile: HardwareProfile) -> tuple[float, float, str]:
    """(alpha_s, beta_bytes_per_s, source) from the profile's [network] section."""
    net = profile.extra.get("network")
    if not net:
        raise CnnperfError(f"profile {profile.name} has no [network] section (alpha_s, beta_bytes_per_s); "
                           "measure it with 'mpiexec -n 2 cnnperf calibrate --mpi --out PROFILE' or use a cluster "
                           "profile")
    return float(net["alpha_s"]), float(net["beta_bytes_per_s"]), str(net.get("source", ""))


def allreduce_seconds(ranks, n_bytes, alpha_s: float, beta: float) -> np.ndarray:
    """Ring allreduce (Hockney). 0 for one rank."""
    r = np.asarray(ranks, dtype=float)
    return np.where(r > 1, 2 * (r - 1) * alpha_s + 2 * (r - 1) / r * n_bytes / beta, 0.0)


def syncs_per_epoch(images, ranks, sync_every) -> np.ndarray:
    """Weight averages per epoch: every K training images per rank, and once at the end."""
    per_rank = np.ceil(np.asarray(images, dtype=float) / np.asarray(ranks, dtype=float))
    if sync_every is None:
        return np.ones_like(per_rank)
    return np.ceil(per_rank / sync_every)


def predict_distributed(model, net, profile: HardwareProfile, p, ranks, i, it, ep, *, n_weights: int,
                        sync_every: int | None = None, ranks_per_node: int = 1, **kw) -> Prediction:
    """R ranks x p threads, `ranks_per_node` ranks sharing one node of the profile: each node
    processes its ranks' shares (n/R of the images) with n*p threads (CPI, time slicing), the
    memory contention is that of p threads on one rank's weights; plus the term `comm`."""
    if getattr(model, "WHOLE_RUN", False):
        raise CnnperfError(f"strategy {model.LABEL} is fitted to whole single-process runs; the distributed model "
                           "needs separable terms: use another strategy with --ranks")
    r = np.asarray(ranks, dtype=float)
    n = np.minimum(ranks_per_node, r)
    node_p, node_i = np.asarray(p) * n, np.asarray(i) * n / r
    base = model.predict(net, profile, node_p, node_i, np.asarray(it) * n / r, ep, **kw)
    terms = dict(base.terms)
    # memory contention is among the threads sharing one weight store (one rank's p), not the node's
    c = net.contention
    terms["mem"] = c(profile.contention_threads(c, p)) * node_i * np.asarray(ep, dtype=float) / node_p * \
        profile.time_slice_at(node_p)
    alpha, beta, _ = interconnect(profile) if np.any(r > 1) else (0.0, 1.0, "")
    terms["comm"] = np.asarray(ep, dtype=float) * syncs_per_epoch(i, r, sync_every) * \
        allreduce_seconds(r, 4 * n_weights, alpha, beta)
    return Prediction(base.strategy, base.net, np.asarray(p) + 0 * r, np.asarray(i) + 0 * r, np.asarray(it) + 0 * r,
                      np.asarray(ep) + 0 * r, terms, base.cpi, base.threads_per_core,
                      base.equation + "\n  + " + EQUATION, base.time_slice, base.notes, base.inputs)
