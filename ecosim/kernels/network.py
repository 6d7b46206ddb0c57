"""Jitted steps of the network build: undirected CSR adjacency from an edge list, in place.

An edge list is ``targets`` with, for edge ``e``, the source ``sources[e]`` or, when ``half > 0``
(a ring lattice), ``e // half`` without an array. Self-loops are dropped and duplicate edges
merged; each customer's neighbours end up sorted ascending. Every array is allocated by the
caller (the build's memory is NumPy's, so ``tracemalloc`` sees all of it); nothing here
allocates.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def _source(e: int, sources: np.ndarray, half: int) -> int:
    """Source customer of edge ``e``: implicit on a ring lattice (``half > 0``), else listed."""
    if half > 0:
        return e // half
    return sources[e]


@njit(cache=True)
def ring_lattice(targets: np.ndarray, half: int, n: int) -> None:
    """Targets of a ring lattice: edge ``e = i * half + j`` links ``i`` to ``(i + j + 1) % n``."""
    for e in range(targets.shape[0]):
        targets[e] = (e // half + e % half + 1) % n


@njit(cache=True)
def count_degrees(sources: np.ndarray, targets: np.ndarray, half: int,
                  indptr: np.ndarray) -> int:
    """Fill ``indptr`` (n + 1, int64) with the start of each customer's list, duplicates counted.

    Returns the number of edge ends, ``indptr[n]`` (twice the edges that are not self-loops).
    """
    indptr[:] = 0
    for e in range(targets.shape[0]):
        s, t = _source(e, sources, half), targets[e]
        if s != t:
            indptr[s + 1] += 1
            indptr[t + 1] += 1
    for i in range(1, indptr.shape[0]):
        indptr[i] += indptr[i - 1]
    return indptr[-1]


@njit(cache=True)
def fill_adjacency(sources: np.ndarray, targets: np.ndarray, half: int, indptr: np.ndarray,
                   adjacency: np.ndarray) -> None:
    """Write both ends of every edge into ``adjacency`` (``indptr[n]`` int32), by customer.

    ``indptr`` serves as the cursor and is restored: after the pass ``indptr[i]`` is the end of
    customer ``i``'s list, i.e. the start of ``i + 1``'s, and shifting it by one gives it back.
    """
    for e in range(targets.shape[0]):
        s, t = _source(e, sources, half), targets[e]
        if s != t:
            adjacency[indptr[s]] = t
            indptr[s] += 1
            adjacency[indptr[t]] = s
            indptr[t] += 1
    for i in range(indptr.shape[0] - 1, 0, -1):
        indptr[i] = indptr[i - 1]
    indptr[0] = 0


@njit(cache=True)
def sort_unique(indptr: np.ndarray, adjacency: np.ndarray) -> int:
    """Sort each customer's list, drop repeated neighbours and pack the lists to the front.

    ``indptr`` is rewritten to the packed lists; returns their total length (``indptr[n]``).
    Writing never overtakes reading, so the packing is done in place.
    """
    write = 0
    start = indptr[0]
    for i in range(indptr.shape[0] - 1):
        end = indptr[i + 1]
        adjacency[start:end].sort()
        indptr[i] = write
        previous = -1
        for j in range(start, end):
            value = adjacency[j]
            if value != previous:
                adjacency[write] = value
                write += 1
                previous = value
        start = end
    indptr[-1] = write
    return write
