"""``popcount(x)``: the number of set bits of a uint64 bitmask, in one instruction.

The kernels hold sets of firms and needs as uint64 bitmasks; counting a set's members with a
loop over its bits costs a branch per bit, which the CPU mispredicts when the sets vary from
customer to customer. Numba has no popcount of its own, so this is LLVM's ``llvm.ctpop``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def popcount(typingctx, x):  # noqa: ARG001 (Numba's intrinsic signature)
    """Number of set bits of ``x`` (uint64), as int64."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        function = builder.module.declare_intrinsic("llvm.ctpop", [i64])
        return builder.call(function, [args[0]])

    return types.int64(types.uint64), codegen
