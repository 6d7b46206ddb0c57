"""``kernels.bits.popcount`` against Python's own count of set bits."""

from __future__ import annotations

import numpy as np
from numba import njit

from ecosim.kernels.bits import popcount


@njit(cache=True)
def _counts(values):
    out = np.empty(values.shape[0], np.int64)
    for j in range(values.shape[0]):
        out[j] = popcount(values[j])
    return out


def test_popcount_counts_every_bit() -> None:
    rng = np.random.default_rng(7)
    edges = [0, 1, 2, 3, 1 << 63, (1 << 64) - 1, 0xF0F0_F0F0_F0F0_F0F0, (1 << 32) - 1]
    singles = [1 << b for b in range(64)]
    randoms = rng.integers(0, 1 << 64, size=1000, dtype=np.uint64, endpoint=False).tolist()
    values = np.array(edges + singles + randoms, np.uint64)
    expected = [bin(int(v)).count("1") for v in values]
    assert _counts(values).tolist() == expected
