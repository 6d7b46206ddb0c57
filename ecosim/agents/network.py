"""Social networks for word of mouth, stored as CSR arrays (``indptr``, ``indices``).

Both generators are vectorised NumPy and draw from their own stream of the replication's seed,
so a network is the same in every arm of an experiment.
"""

from __future__ import annotations

import numpy as np

from ecosim.config.schema import NetworkConfig


def to_csr(source: np.ndarray, target: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected CSR adjacency from an edge list, without self-loops or duplicate edges."""
    keep = source != target
    lo = np.minimum(source[keep], target[keep]).astype(np.int64)
    hi = np.maximum(source[keep], target[keep]).astype(np.int64)
    # Sorted unique edge keys; sort + adjacent difference is what np.unique returns, and much
    # faster than it for large int64 arrays (NumPy 2.4: ~14 s against 0.2 s for 5e6 keys).
    pairs = np.sort(lo * n + hi)
    if pairs.size:
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    lo, hi = pairs // n, pairs % n
    src = np.concatenate([lo, hi])
    dst = np.concatenate([hi, lo])
    # Order by (src, dst): the keys src * n + dst are distinct, so one sort gives lexsort's order.
    order = np.argsort(src * n + dst, kind="stable")
    indices = dst[order].astype(np.int32)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, indices


def erdos_renyi(n: int, degree: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """G(n, m) random graph with ``m = n * degree / 2`` edges (mean degree ``degree``)."""
    m = int(round(n * degree / 2))
    return to_csr(rng.integers(0, n, m), rng.integers(0, n, m), n)


def watts_strogatz(n: int, degree: int, rewire: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ring lattice of ``degree`` neighbours whose edges are rewired with probability ``rewire``."""
    half = max(degree // 2, 1)
    source = np.repeat(np.arange(n, dtype=np.int64), half)
    target = (source + np.tile(np.arange(1, half + 1), n)) % n
    moved = rng.random(source.shape[0]) < rewire
    target[moved] = rng.integers(0, n, int(moved.sum()))
    return to_csr(source, target, n)


def build_network(cfg: NetworkConfig, n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The configured network; ``kind: none`` gives empty arrays (mean-field word of mouth)."""
    if cfg.kind == "none" or n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    if cfg.kind == "erdos_renyi":
        return erdos_renyi(n, cfg.degree, rng)
    return watts_strogatz(n, cfg.degree, cfg.rewire, rng)
