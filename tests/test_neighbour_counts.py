"""Counting the neighbours who use each unit (``awareness._count_users``), against NumPy.

Word of mouth reads, for each unit a customer does not know, how many of their neighbours used
it. Below 16 neighbours the kernel adds every unit's count at once in four bit planes (a
bit-sliced counter); from 16 it counts unit by unit. Both must give the exact counts of a plain
reference, for any pattern of wanted units, including unit 63 and a customer without neighbours,
and the neighbours' bitmasks are prefetched (a hint that must be emitted and change nothing).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from ecosim.kernels.awareness import _count_users
from ecosim.kernels.prefetch import prefetch


@njit(cache=False)
def _counts(wanted, uses, indices, start, stop):
    users = np.full(64, -1, np.int64)
    _count_users(wanted, uses, indices, start, stop, users)
    return users


def _reference(wanted: int, uses: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    users = np.full(64, -1, np.int64)
    for u in range(64):
        if wanted >> u & 1:
            users[u] = int(np.count_nonzero((uses[neighbours] >> np.uint64(u)) & np.uint64(1)))
    return users


@pytest.mark.parametrize("degree", [0, 1, 5, 10, 15, 16, 17, 40])
def test_counts_equal_a_plain_count_for_every_wanted_unit(degree: int) -> None:
    rng = np.random.default_rng(degree)
    n = 500
    # dense and sparse usage, and every unit used by every neighbour (counts up to the degree)
    uses = np.concatenate([rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
                           + rng.integers(0, 2, n, dtype=np.uint64),
                           rng.integers(0, 2**12, n, dtype=np.uint64),
                           np.full(n, np.iinfo(np.uint64).max, np.uint64)])
    for case in range(60):
        neighbours = rng.integers(0, uses.shape[0], degree).astype(np.int32)
        if case % 3 == 2:
            neighbours[:] = 2 * n + rng.integers(0, n, degree)  # all bits set: count = degree
        padding = rng.integers(0, 5)
        indices = np.concatenate([rng.integers(0, uses.shape[0], padding).astype(np.int32),
                                  neighbours, np.zeros(3, np.int32)])
        wanted = int(rng.integers(0, 2**63, dtype=np.uint64)) * 2 + int(rng.integers(0, 2))
        if case % 4 == 1:
            wanted = 1 << 63 | 1 << int(rng.integers(0, 63))
        got = _counts(np.uint64(wanted), uses, indices, padding, padding + degree)
        np.testing.assert_array_equal(got, _reference(wanted, uses, neighbours))


def test_prefetch_is_emitted_and_changes_nothing() -> None:
    @njit(cache=False)
    def gather(values, indices):
        total = np.uint64(0)
        for j in range(indices.shape[0]):
            if j + 2 < indices.shape[0]:
                prefetch(values, indices[j + 2])
            total += values[indices[j]]
        return total

    values = np.arange(1000, dtype=np.uint64) * np.uint64(3)
    indices = np.array([999, 0, 17, 512, 3, 3], np.int32)
    assert gather(values, indices) == values[indices].sum()
    assembly = next(iter(gather.inspect_asm().values()))
    assert "prefetch" in assembly
