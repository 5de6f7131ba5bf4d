"""Memory of a training run, estimated from the network spec's Python integers before any array
exists (an absurd network would overflow int64 offsets or end in MemoryError), and checked
against what the machine has available (MemAvailable in /proc/meminfo).

Per process: the shared weights + `threads` x (one worker's network instance + its thread
stack) + the data. The instance follows the engine's buffers (activations and deltas, pooling
arg-max, im2col columns, column and weight gradients, pooling buckets), each rounded up; a test
holds the estimate at or above the engine's real allocation and within 10 % + 16 kB of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnperf.engine.layout import conv_buffers
from cnnperf.engine.paths import conv_path
from cnnperf.engine.store import GUARD_BYTES
from cnnperf.errors import CnnperfError
from cnnperf.networks import NetworkSpec
from cnnperf.parallel.pool import WORKER_STACK_BYTES

F32, I64 = 4, 8
PAD = 64  # alignment and overrun slack the engine adds per buffer and block (in items, generous)
BUFFERS = 7  # aligned buffers of one workspace (act, delta, arg, col, dcol, grad, bucket)
BUFFER_BYTES = 64 + GUARD_BYTES  # each: alignment and the guard after it (engine.store.aligned_zeros)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of one run; `processes` run on this machine (MPI ranks per node)."""

    weights_bytes: int
    workspace_bytes: int  # one worker: its network instance and thread stack
    threads: int
    data_bytes: int
    processes: int = 1

    @property
    def total_bytes(self) -> int:
        return self.processes * (self.weights_bytes + self.threads * self.workspace_bytes + self.data_bytes)

    def describe(self) -> str:
        per = (f"weights {format_bytes(self.weights_bytes)}, {self.threads:,} worker(s) x "
               f"{format_bytes(self.workspace_bytes)} of network instance and stack, "
               f"data {format_bytes(self.data_bytes)}")
        if self.processes > 1:
            return f"{self.processes} processes x ({per})"
        return per


def format_bytes(n: float) -> str:
    for unit, size in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}" if n < 1e3 * 1e18 else f"{float(n):.2g} bytes"
    return f"{int(n)} bytes"


def weights_bytes(spec: NetworkSpec) -> int:
    """The shared store: every layer's weight and bias block, each aligned."""
    return F32 * sum(s.maps * s.fan_in + s.maps + 2 * PAD for s in spec.shapes if s.weights) + BUFFER_BYTES


def instance_bytes(spec: NetworkSpec) -> int:
    """One worker's network instance (engine workspace), from the spec alone."""
    shapes = spec.shapes
    act = sum(s.neurons + PAD for s in shapes) + PAD  # activations; deltas the same
    arg = sum(s.neurons + PAD for s in shapes if s.kind == "maxpool")
    col = dcol = grad = bucket = 0
    for i, s in enumerate(shapes):
        if s.weights:
            grad = max(grad, s.maps * s.fan_in + s.maps + 2 * PAD)
        if s.kind == "conv":  # the engine's own sizes (pure Python integers): im2col rows, scratch, buckets
            kept, scratch, ints = conv_buffers(shapes, i, conv_path(shapes, i))
            col, dcol, bucket = col + kept, max(dcol, scratch), max(bucket, ints)
    floats = 2 * act + col + dcol + PAD + grad
    ints = arg + bucket + 2 * PAD
    return F32 * floats + I64 * ints + BUFFERS * BUFFER_BYTES


def estimate_memory(spec: NetworkSpec, threads: int, data_bytes: int, processes: int = 1) -> MemoryEstimate:
    stack = WORKER_STACK_BYTES if threads > 1 else 0  # one thread runs in the caller's thread
    return MemoryEstimate(weights_bytes(spec), instance_bytes(spec) + stack, threads, data_bytes, processes)


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux), else None (then nothing is checked)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(estimate: MemoryEstimate, available: int | None = None) -> None:
    """Refuse a run that needs more memory than the machine has available (one line, the fix)."""
    have = available_bytes() if available is None else available
    need = estimate.total_bytes
    if have is not None and need > have:
        raise CnnperfError(f"this run needs about {format_bytes(need)} of memory ({estimate.describe()}) but this "
                           f"machine has {format_bytes(have)} available; use fewer --threads, a smaller network "
                           "or fewer images")
