"""Explicit 16- and 8-lane vectors for the connection-table kernels.

Numba runs LLVM without its SLP vectoriser, and the loop vectoriser keeps accumulators of a
pixel-vectorised loop in memory when stores might alias loads. `Vec` is an LLVM
`<16 x float>` (or `<16 x double>`; `vload8` and friends: 8 lanes) value, so a tile of
accumulators lives in registers across a reduction loop; LLVM splits it into whatever the CPU
has (one AVX-512 or two AVX2 registers). Loads and stores are unaligned; arithmetic carries
fast-math flags like the other kernels.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core.extending import models, register_model
from numba.extending import intrinsic

LANES = 16


class Vec(types.Type):
    """`lanes` values of `dtype` in one SSA register value."""

    def __init__(self, dtype, lanes=LANES):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vec{lanes}({dtype})")


@register_model(Vec)
class VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.lanes))


_FAST = ("fast",)


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


def _splat(lanes):
    def typer(typingctx, ary, x):
        def codegen(context, builder, sig, args):
            dt = sig.args[0].dtype
            vty = ir.VectorType(context.get_value_type(dt), lanes)
            x = context.cast(builder, args[1], sig.args[1], dt)
            one = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                          ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
        return Vec(ary.dtype, lanes)(ary, x), codegen
    typer.__name__ = typer.__qualname__ = f"vsplat{lanes}"
    return typer


vload = intrinsic(_load(LANES))  # ary[offset : offset + 16] (no bounds check)
vstore = intrinsic(_store(LANES))  # ary[offset : offset + 16] = v (no bounds check)
vsplat = intrinsic(_splat(LANES))  # 16 copies of x, in the dtype of `ary`
vload8 = intrinsic(_load(8))
vstore8 = intrinsic(_store(8))
vsplat8 = intrinsic(_splat(8))


@intrinsic
def vfma(typingctx, acc, w, x):
    """acc + w * x, lane by lane (contracted to an FMA)."""
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], builder.fmul(args[1], args[2], flags=_FAST), flags=_FAST)
    return acc(acc, w, x), codegen


@intrinsic
def vadd(typingctx, a, b):
    """a + b, lane by lane."""
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1], flags=_FAST)
    return a(a, b), codegen


@intrinsic
def vmul(typingctx, a, b):
    """a * b, lane by lane."""
    def codegen(context, builder, sig, args):
        return builder.fmul(args[0], args[1], flags=_FAST)
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
            x = builder.fadd(x, hi, flags=_FAST)
        return builder.extract_element(x, ir.Constant(ir.IntType(32), 0))
    return v.dtype(v), codegen
