"""``prefetch(a, i)``: ask the CPU to start loading ``a[i]`` into its caches, and go on.

A kernel that reads elements at scattered positions it knows in advance (a customer's
neighbours in the social network) stalls on each cache miss; prefetching the elements a few
iterations ahead overlaps those misses with useful work. A prefetch changes no value and cannot
fault (LLVM's ``llvm.prefetch``: a hint, for reading, kept in every cache level).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, array, index):  # noqa: ARG001 (Numba's intrinsic signature)
    """Prefetch ``array[index]`` of a 1-D array (no bounds check: a hint cannot fault)."""
    if not (isinstance(array, types.Array) and array.ndim == 1
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_type, _ = signature.args
        ary = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, ary, [index])
        i8_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read (0), keep in all cache levels (3), data cache (1)
        builder.call(function, [builder.bitcast(pointer, i8_pointer), ir.Constant(i32, 0),
                                ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
