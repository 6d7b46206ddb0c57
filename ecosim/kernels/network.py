"""Jitted steps of the network build: undirected CSR adjacency from an edge list, in place.

An edge list is ``targets`` with, for edge ``e``, the source ``sources[e]`` or, when ``half > 0``
(a ring lattice), ``e // half`` without an array. Self-loops are dropped and duplicate edges
merged; each customer's neighbours end up sorted ascending. Every array is allocated by the
caller (the build's memory is NumPy's, so ``tracemalloc`` sees all of it); nothing here
allocates.

Speed (10^7 customers, degree 10: 5 * 10^7 edges): a ring lattice's edges are walked as a loop
over customers and their ``half`` edges, not by dividing each edge's index (an integer division
is some 40 cycles); a rewired or random edge's ends are anywhere in memory, so the cursors and
slots they write to are prefetched a few edges ahead (``_AHEAD``); and each customer's list is
sorted in place by a written-out Shell sort, which on the usual ten neighbours is an insertion
sort (NumPy's sort of a slice costs more to call than to run on ten values, and over a second to
compile). The same arrays as before; the Watts–Strogatz build of 10^7 customers went from about
6 to about 3 s (2-core VM, back to back).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ecosim.kernels.prefetch import prefetch


@njit(cache=True)
def ring_lattice(targets: np.ndarray, half: int, n: int) -> None:
    """Targets of a ring lattice: edge ``e = i * half + j`` links ``i`` to ``(i + j + 1) % n``."""
    e = 0
    for i in range(n):
        for j in range(half):
            t = i + j + 1
            while t >= n:  # past the end of the ring (a ring smaller than half wraps again)
                t -= n
            targets[e] = t
            e += 1


#: Edges ahead whose cursors are prefetched: the cursor (``indptr``) at ``_AHEAD``, the slot it
#: points to (``adjacency``) at half that, once the cursor has arrived.
_AHEAD = 16


@njit(inline="always", cache=True)
def _prefetch_cursor(sources, targets, e, with_sources, indptr, adjacency):
    """Prefetch the cursors of edge ``e + _AHEAD`` and the slots of edge ``e + _AHEAD // 2``.

    A rewired or random edge's ends are anywhere in memory: without this each costs two cache
    misses in a row (the cursor, then the slot). ``with_sources`` > 0: the sources are listed.
    """
    size = targets.shape[0]
    if e + _AHEAD < size:
        prefetch(indptr, targets[e + _AHEAD])
        if with_sources > 0:
            prefetch(indptr, sources[e + _AHEAD])
    if e + _AHEAD // 2 < size:
        prefetch(adjacency, indptr[targets[e + _AHEAD // 2]])
        if with_sources > 0:
            prefetch(adjacency, indptr[sources[e + _AHEAD // 2]])


@njit(cache=True)
def _count_edge(s: int, t: int, indptr: np.ndarray) -> None:
    """Count edge (s, t) in both lists (``count_degrees``); a self-loop is dropped."""
    if s != t:
        indptr[s + 1] += 1
        indptr[t + 1] += 1


@njit(cache=True)
def count_degrees(sources: np.ndarray, targets: np.ndarray, half: int,
                  indptr: np.ndarray) -> int:
    """Fill ``indptr`` (n + 1, int64) with the start of each customer's list, duplicates counted.

    Edge ``e`` links ``sources[e]`` or, on a ring lattice (``half > 0``), ``e // half`` to
    ``targets[e]``. Returns the number of edge ends, ``indptr[n]`` (twice the edges that are not
    self-loops).
    """
    indptr[:] = 0
    size = targets.shape[0]
    if half > 0:
        for s in range(size // half):
            for e in range(s * half, (s + 1) * half):
                if e + _AHEAD < size:  # a rewired edge's target is anywhere
                    prefetch(indptr, targets[e + _AHEAD] + 1)
                _count_edge(s, np.int64(targets[e]), indptr)
    else:
        for e in range(size):
            if e + _AHEAD < size:
                prefetch(indptr, sources[e + _AHEAD] + 1)
                prefetch(indptr, targets[e + _AHEAD] + 1)
            _count_edge(np.int64(sources[e]), np.int64(targets[e]), indptr)
    for i in range(1, indptr.shape[0]):
        indptr[i] += indptr[i - 1]
    return indptr[-1]


@njit(cache=True)
def _fill_edge(s: int, t: int, indptr: np.ndarray, adjacency: np.ndarray) -> None:
    """Write edge (s, t) at both lists' cursors (``fill_adjacency``); a self-loop is dropped."""
    if s != t:
        adjacency[indptr[s]] = t
        indptr[s] += 1
        adjacency[indptr[t]] = s
        indptr[t] += 1


@njit(cache=True)
def fill_adjacency(sources: np.ndarray, targets: np.ndarray, half: int, indptr: np.ndarray,
                   adjacency: np.ndarray) -> None:
    """Write both ends of every edge into ``adjacency`` (``indptr[n]`` int32), by customer.

    Edges as in ``count_degrees``, in index order. ``indptr`` serves as the cursor and is
    restored: after the pass ``indptr[i]`` is the end of customer ``i``'s list, i.e. the start
    of ``i + 1``'s, and shifting it by one gives it back.
    """
    size = targets.shape[0]
    if half > 0:
        for s in range(size // half):
            for e in range(s * half, (s + 1) * half):
                _prefetch_cursor(sources, targets, e, -1, indptr, adjacency)
                _fill_edge(s, np.int64(targets[e]), indptr, adjacency)
    else:
        for e in range(size):
            _prefetch_cursor(sources, targets, e, 1, indptr, adjacency)
            _fill_edge(np.int64(sources[e]), np.int64(targets[e]), indptr, adjacency)
    for i in range(indptr.shape[0] - 1, 0, -1):
        indptr[i] = indptr[i - 1]
    indptr[0] = 0


def _shell_gaps() -> np.ndarray:
    """Ciura's gaps, extended by x2.25 up to 2**31 (a list is never longer than that)."""
    gaps = [1, 4, 10, 23, 57, 132, 301, 701]
    while gaps[-1] < 2**31:
        gaps.append(int(gaps[-1] * 2.25))
    return np.array(gaps, np.int64)


#: Gaps of the Shell sort of a customer's list; a gap is used when the list is over three times
#: as long, so a list of up to 12 neighbours (the usual) is sorted by insertion alone.
_GAPS = _shell_gaps()


@njit(cache=True)
def _sort_list(adjacency: np.ndarray, start: int, end: int) -> None:
    """Sort ``adjacency[start:end]`` ascending in place (Shell sort: no call, no allocation).

    Written out rather than NumPy's sort of the slice, which costs more to call than to run on
    ten values and over a second to compile.
    """
    size = end - start
    g = 0
    while g + 1 < _GAPS.shape[0] and 3 * _GAPS[g + 1] < size:
        g += 1
    while g >= 0:
        gap = _GAPS[g]
        for j in range(start + gap, end):
            value = adjacency[j]
            h = j
            while h - gap >= start and adjacency[h - gap] > value:
                adjacency[h] = adjacency[h - gap]
                h -= gap
            adjacency[h] = value
        g -= 1


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
        _sort_list(adjacency, start, end)
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
