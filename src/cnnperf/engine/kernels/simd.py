"""Explicit vectors: 16 and 8 lanes (the connection-table kernels) and the native width `VL`
of the CPU Numba compiles for (the register-blocked GEMM, convolution and pooling kernels).

Numba runs LLVM without its SLP vectoriser, and the loop vectoriser keeps accumulators of a
pixel-vectorised loop in memory when stores might alias loads. `Vec` is an LLVM
`<16 x float>` (or `<16 x double>`; `vload8` and friends: 8 lanes; `nload` and friends: `VL`
lanes) value, so a tile of accumulators lives in registers across a reduction loop; LLVM splits
a vector wider than the CPU's into several registers. Loads and stores are unaligned; arithmetic
is never reassociated (an FMA is `llvm.fma`), so a kernel rounds the same wherever LLVM inlines it
(the profiled loop and the plain one train bit-identically).

`VL` and `REGISTERS` come from the target features Numba compiles for (NUMBA_CPU_FEATURES, else
the host's): 16 fp32 lanes and 32 registers with AVX-512F, 8 and 16 with AVX/AVX2, 4 and 16
otherwise. Register tiles are chosen from them (module constants, fixed at compile time; Numba's
cache keys compiled code by the same target, so a cache never mixes widths). Buffers are padded
to `PAD` = 16 floats whatever the width, so the operations executed do not depend on it.
Even/odd loads (`nload_even`, `nload_odd`), `niota` and `vselect_gt` run 2x2 max pooling a vector
of windows at a time, and with lane doubling (`ndup_lo`, `ndup_hi`) 2x2 average pooling.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import models, register_model
from numba.extending import intrinsic

from cnnperf.engine.kernels.base import U, inline_kernel

LANES = 16
PAD = 16


def target_vector() -> tuple[int, int]:
    """(fp32 lanes, vector registers) of the CPU Numba compiles for."""
    import llvmlite.binding as ll
    from numba.core import config
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else ll.get_host_cpu_features().flatten()
    on = {f[1:] for f in features.split(",") if f.startswith("+")}
    if "avx512f" in on:
        return 16, 32
    if "avx" in on:
        return 8, 16
    return 4, 16


VL, REGISTERS = target_vector()
MASKED_STORES = VL == 16  # k-masked stores (AVX-512) are as fast as plain ones; AVX2's vmaskmovps is not


class Vec(types.Type):
    """`lanes` values of `dtype` in one SSA register value."""

    def __init__(self, dtype, lanes=LANES):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vec{lanes}({dtype})")


@register_model(Vec)
class VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.lanes))


_EXACT = ("nnan", "ninf", "nsz")  # no reassociation or contraction: every caller gets the same rounding


def _vector_pointer(context, builder, aryty, ary, offset, lanes):
    data = context.make_array(aryty)(context, builder, ary).data
    vty = ir.VectorType(context.get_value_type(aryty.dtype), lanes)
    return builder.bitcast(builder.gep(data, [offset]), vty.as_pointer())


def _load(lanes):
    def typer(typingctx, ary, offset):
        def codegen(context, builder, sig, args):
            load = builder.load(_vector_pointer(context, builder, sig.args[0], args[0], args[1], lanes))
            load.align = sig.args[0].dtype.bitwidth // 8
            return load
        return Vec(ary.dtype, lanes)(ary, offset), codegen
    typer.__name__ = typer.__qualname__ = f"vload{lanes}"
    return typer


def _store(lanes):
    def typer(typingctx, ary, offset, v):
        def codegen(context, builder, sig, args):
            store = builder.store(args[2], _vector_pointer(context, builder, sig.args[0], args[0], args[1], lanes))
            store.align = sig.args[0].dtype.bitwidth // 8
            return context.get_dummy_value()
        return types.none(ary, offset, v), codegen
    typer.__name__ = typer.__qualname__ = f"vstore{lanes}"
    return typer


def _broadcast(builder, vty, value, lanes):
    """`lanes` copies of a scalar value (insert into lane 0, shuffle)."""
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))


def _first_lanes(context, builder, n, n_type, lanes):
    """The mask of lanes 0 .. n-1 (lane i: i < n)."""
    ity = ir.VectorType(ir.IntType(64), lanes)
    nv = _broadcast(builder, ity, context.cast(builder, n, n_type, types.int64), lanes)
    return builder.icmp_signed("<", ir.Constant(ity, list(range(lanes))), nv)


def _splat(lanes):
    def typer(typingctx, ary, x):
        def codegen(context, builder, sig, args):
            dt = sig.args[0].dtype
            vty = ir.VectorType(context.get_value_type(dt), lanes)
            return _broadcast(builder, vty, context.cast(builder, args[1], sig.args[1], dt), lanes)
        return Vec(ary.dtype, lanes)(ary, x), codegen
    typer.__name__ = typer.__qualname__ = f"vsplat{lanes}"
    return typer


def _keep(lanes):
    def typer(typingctx, v, n):
        def codegen(context, builder, sig, args):
            mask = _first_lanes(context, builder, args[1], sig.args[1], lanes)
            return builder.select(mask, args[0], ir.Constant(args[0].type, None))
        return v(v, n), codegen
    typer.__name__ = typer.__qualname__ = f"vkeep{lanes}"
    return typer


def _store_first(lanes):
    def typer(typingctx, ary, offset, v, n):
        def codegen(context, builder, sig, args):
            ptr = _vector_pointer(context, builder, sig.args[0], args[0], args[1], lanes)
            mask = _first_lanes(context, builder, args[3], sig.args[3], lanes)
            fnty = ir.FunctionType(ir.VoidType(), [ptr.type.pointee, ptr.type, ir.IntType(32), mask.type])
            name = f"llvm.masked.store.v{lanes}f{sig.args[0].dtype.bitwidth}.p0"
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            builder.call(fn, [args[2], ptr, ir.Constant(ir.IntType(32), sig.args[0].dtype.bitwidth // 8), mask])
            return context.get_dummy_value()
        return types.none(ary, offset, v, n), codegen
    typer.__name__ = typer.__qualname__ = f"vstore_first{lanes}"
    return typer


def _load_parity(lanes, parity):
    def typer(typingctx, ary, offset):
        def codegen(context, builder, sig, args):
            load = builder.load(_vector_pointer(context, builder, sig.args[0], args[0], args[1], 2 * lanes))
            load.align = sig.args[0].dtype.bitwidth // 8
            return builder.shuffle_vector(load, load, ir.Constant(ir.VectorType(ir.IntType(32), lanes),
                                                                  [2 * i + parity for i in range(lanes)]))
        return Vec(ary.dtype, lanes)(ary, offset), codegen
    typer.__name__ = typer.__qualname__ = f"vload_{'odd' if parity else 'even'}{lanes}"
    return typer


def _dup(lanes, half):
    def typer(typingctx, v):
        def codegen(context, builder, sig, args):
            mask = [half * lanes // 2 + i // 2 for i in range(lanes)]
            return builder.shuffle_vector(args[0], args[0], ir.Constant(ir.VectorType(ir.IntType(32), lanes), mask))
        return v(v), codegen
    typer.__name__ = typer.__qualname__ = f"vdup_{'hi' if half else 'lo'}{lanes}"
    return typer


def _iota(lanes):
    def typer(typingctx, ary, start, step):
        def codegen(context, builder, sig, args):
            dt = sig.args[0].dtype
            vty = ir.VectorType(context.get_value_type(dt), lanes)
            a = _broadcast(builder, vty, context.cast(builder, args[1], sig.args[1], dt), lanes)
            b = _broadcast(builder, vty, context.cast(builder, args[2], sig.args[2], dt), lanes)
            return builder.add(a, builder.mul(b, ir.Constant(vty, list(range(lanes)))))
        return Vec(ary.dtype, lanes)(ary, start, step), codegen
    typer.__name__ = typer.__qualname__ = f"viota{lanes}"
    return typer


vload = intrinsic(_load(LANES))  # ary[offset : offset + 16] (no bounds check)
vstore = intrinsic(_store(LANES))  # ary[offset : offset + 16] = v (no bounds check)
vsplat = intrinsic(_splat(LANES))  # 16 copies of x, in the dtype of `ary`
vload8 = intrinsic(_load(8))
vstore8 = intrinsic(_store(8))
vsplat8 = intrinsic(_splat(8))
vload4 = intrinsic(_load(4))
vstore4 = intrinsic(_store(4))
vkeep4, vkeep8, vkeep16 = intrinsic(_keep(4)), intrinsic(_keep(8)), intrinsic(_keep(16))
vstore_first8 = intrinsic(_store_first(8))  # ary[offset : offset + n] = v[:n] (a masked store)
nload = intrinsic(_load(VL))  # ary[offset : offset + VL]
nstore = intrinsic(_store(VL))
nsplat = intrinsic(_splat(VL))
nkeep = intrinsic(_keep(VL))  # v with lanes n, n+1, ... set to 0
nstore_first = intrinsic(_store_first(VL))  # ary[offset : offset + n] = v[:n] (a masked store)
nload_even = intrinsic(_load_parity(VL, 0))  # ary[offset : offset + 2*VL : 2]
nload_odd = intrinsic(_load_parity(VL, 1))  # ary[offset + 1 : offset + 2*VL : 2]
niota = intrinsic(_iota(VL))  # start + step * (0, 1, ..., VL-1) in the (integer) dtype of `ary`
ndup_lo = intrinsic(_dup(VL, 0))  # (v0, v0, v1, v1, ..., v[VL/2-1], v[VL/2-1])
ndup_hi = intrinsic(_dup(VL, 1))  # (v[VL/2], v[VL/2], ..., v[VL-1], v[VL-1])


@intrinsic
def vselect_gt(typingctx, a, b, x, y):
    """Lane by lane: x where a > b, else y (a, b: float vectors; x, y: vectors of one type)."""
    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[2], args[3])
    return x(a, b, x, y), codegen


@intrinsic
def vfma(typingctx, acc, w, x):
    """acc + w * x, lane by lane: one fused multiply-add (llvm.fma, never split or reordered)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(args[0].type, [args[0].type] * 3),
                                            f"llvm.fma.v{sig.args[0].lanes}f{sig.args[0].dtype.bitwidth}")
        return builder.call(fn, [args[1], args[2], args[0]])
    return acc(acc, w, x), codegen


@intrinsic
def vadd(typingctx, a, b):
    """a + b, lane by lane."""
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1], flags=_EXACT)
    return a(a, b), codegen


@intrinsic
def vmul(typingctx, a, b):
    """a * b, lane by lane."""
    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1], flags=_EXACT)
    return a(a, b), codegen


@intrinsic
def vsum(typingctx, v):
    """The sum of the lanes (a tree of shuffles and adds)."""
    def codegen(context, builder, sig, args):
        x = args[0]
        lanes = width = sig.args[0].lanes
        while width > 1:
            width //= 2
            hi = builder.shuffle_vector(x, x, ir.Constant(ir.VectorType(ir.IntType(32), lanes),
                                                          [width + (i % width) for i in range(lanes)]))
            x = builder.fadd(x, hi, flags=_EXACT)
        return builder.extract_element(x, ir.Constant(ir.IntType(32), 0))
    return v.dtype(v), codegen


@intrinsic
def prefetch_write(typingctx, ary, offset):
    """Fetch the cache line holding ary[offset] for writing (PREFETCHW where the CPU has it, else a
    read prefetch): the line arrives owned, so a read followed by a write of it costs one coherence
    transaction instead of two. Never faults (an address past the array is harmless)."""
    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(builder.gep(data, [args[1]]), i8p), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(ary, offset), codegen


@inline_kernel
def store_part(out, o, v, n):
    """out[o : o + min(n, VL)] = v (nothing when n <= 0)."""
    if n >= VL:
        nstore(out, o, v)
    elif n > 0:
        nstore_first(out, o, v, n)


@inline_kernel
def store_sums(out, o, n, s0, s1, s2, s3):
    """out[o + i] = the lane sum of s_i for i < n (1..4)."""
    out[U(o)] = vsum(s0)
    if n > 1:
        out[U(o + 1)] = vsum(s1)
    if n > 2:
        out[U(o + 2)] = vsum(s2)
    if n > 3:
        out[U(o + 3)] = vsum(s3)
