"""The training loop of `kernels.network.train_images` with a cycle-counter read around every
layer's forward and backward (the same `forward_layer` / `backward_layer`, so the same updates).

Compiled only when first called; the plain loops never read the counter. The counter is
`llvm.readcyclecounter` (rdtsc on x86-64: constant rate with `constant_tsc`, converted to
seconds by the caller against time.perf_counter).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from cnnperf.engine.kernels.base import entry_kernel, kernel
from cnnperf.engine.kernels.network import backward_layer, forward_layer, load_image, output_loss


@intrinsic
def _cycles(typingctx):
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.uint64(), codegen


@entry_kernel
def read_cycles():
    """The cycle counter now (callable from Python, to convert ticks to seconds)."""
    return _cycles()


@entry_kernel
def counter_cost(n):
    """Mean ticks between two back-to-back counter reads, over n reads."""
    t0 = _cycles()
    for _ in range(n):
        _cycles()
    return (_cycles() - t0) / (n + 1)


@kernel
def train_images_profiled(desc, W, act, delta, arg, col, dcol, grad, bucket, images, labels, lo, hi, lr, act_kind,
                          rotate, prefetch, ticks, conn, dense, direct_dense, extra, exact, gout):
    """`train_images` (the same last arguments) with ticks[i, 0] += forward ticks of layer i,
    ticks[i, 1] += backward (+ update) ticks. Returns (errors, loss sum, ticks from the first image's start to
    the last one's end)."""
    L = desc.shape[0]
    errors, loss = 0, 0.0
    start = _cycles()
    for n in range(lo, hi):
        load_image(act, images, n)
        for i in range(1, L):
            t0 = _cycles()
            forward_layer(i, desc, W, act, arg, col, dcol, act_kind, conn, extra, exact)
            ticks[i, 0] += _cycles() - t0
        lo_n, pred = output_loss(desc, act, delta, labels, n)
        loss += lo_n
        errors += pred != labels[n]
        for i in range(L - 1, 0, -1):
            t0 = _cycles()
            backward_layer(i, desc, W, act, delta, arg, col, dcol, grad, bucket, lr, act_kind, rotate, prefetch,
                           conn, dense, direct_dense, extra, gout)
            ticks[i, 1] += _cycles() - t0
    return errors, loss, _cycles() - start
