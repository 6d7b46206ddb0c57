"""Social networks for word of mouth, stored as CSR arrays (``indptr``, ``indices``).

``indptr`` (int64, ``n + 1``) gives where each customer's neighbours start in ``indices``
(int32, two entries per undirected edge); each list is sorted ascending, without self-loops or
repeated neighbours. Both generators draw from their own stream of the replication's seed, so a
network is the same in every arm of an experiment.

The build is lean: edge lists are int32 (a network has at most 2**31 - 1 customers, which
validation checks), a ring lattice's sources are implicit, random numbers are drawn in chunks
of ``CHUNK``, and the neighbour lists are filled with their repeats, then sorted, deduplicated
and packed in place (``kernels.network``). The chunks give the same numbers in the same order
as one call each, so a seed gives the same network as the vectorised build this replaced
(``tests/test_network.py`` checks both, and the peak memory).
"""

from __future__ import annotations

import numpy as np

from ecosim.config.schema import NetworkConfig
from ecosim.kernels.network import count_degrees, fill_adjacency, ring_lattice, sort_unique

#: Random numbers drawn per call (2 MiB of float64 uniforms or int64 integers at a time).
CHUNK = 1 << 18
_NO_SOURCES = np.zeros(0, np.int32)


def _integers(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``rng.integers(0, n, size)`` as int32, drawn in chunks (the same numbers, in order)."""
    out = np.empty(size, np.int32)
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        out[start:stop] = rng.integers(0, n, stop - start)
    return out


def _with_repeats(sources: np.ndarray, targets: np.ndarray, half: int,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """``indptr`` and neighbour lists of an edge list, self-loops dropped, repeats kept.

    Edge ``e`` links ``sources[e]`` (or ``e // half`` when ``half > 0``) and ``targets[e]``.
    """
    indptr = np.empty(n + 1, np.int64)
    adjacency = np.empty(count_degrees(sources, targets, half, indptr), np.int32)
    fill_adjacency(sources, targets, half, indptr, adjacency)
    return indptr, adjacency


def _packed(indptr: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """``adjacency`` sorted, deduplicated and shrunk to its packed length, in place."""
    size = sort_unique(indptr, adjacency)
    # Nothing else refers to ``adjacency`` (no views), so it can be shrunk where it lies.
    adjacency.resize(size, refcheck=False)
    return adjacency


def erdos_renyi(n: int, degree: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """G(n, m) random graph with ``m = n * degree / 2`` edges (mean degree ``degree``).

    Draws the ``m`` sources, then the ``m`` targets, uniformly among the ``n`` customers.
    """
    m = int(round(n * degree / 2))
    sources = _integers(rng, n, m)
    targets = _integers(rng, n, m)
    indptr, adjacency = _with_repeats(sources, targets, 0, n)
    del sources, targets
    return indptr, _packed(indptr, adjacency)


def watts_strogatz(n: int, degree: int, rewire: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ring lattice of ``degree`` neighbours whose edges are rewired with probability ``rewire``.

    Customer ``i`` links to ``i + 1, ..., i + degree // 2`` (mod n). One uniform per edge, in
    edge order, decides whether it is rewired; then each rewired edge, in order, gets a target
    drawn uniformly among the ``n`` customers.
    """
    half = max(degree // 2, 1)
    size = n * half
    targets = np.empty(size, np.int32)
    ring_lattice(targets, half, n)
    for start in range(0, size, CHUNK):  # rewired edges are marked -1 ...
        stop = min(start + CHUNK, size)
        targets[start:stop][rng.random(stop - start) < rewire] = -1
    for start in range(0, size, CHUNK):  # ... and then given their targets
        block = targets[start:min(start + CHUNK, size)]
        moved = np.flatnonzero(block < 0)
        block[moved] = rng.integers(0, n, moved.size)
    indptr, adjacency = _with_repeats(_NO_SOURCES, targets, half, n)
    del targets
    return indptr, _packed(indptr, adjacency)


def build_network(cfg: NetworkConfig, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The configured network; ``kind: none`` gives empty arrays (mean-field word of mouth)."""
    if cfg.kind == "none" or n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    if cfg.kind == "erdos_renyi":
        return erdos_renyi(n, cfg.degree, rng)
    return watts_strogatz(n, cfg.degree, cfg.rewire, rng)
