"""Draws from the configured distribution families, on the counter-based generator.

A distribution is passed to kernels as ``(code, p1, p2)`` with the codes below and the family's
natural parameters, so a draw for customer ``i`` is a pure function of its coordinates: sampling
the population in parallel gives the same customers for any thread count, and an arm that changes
one segment's price sensitivity leaves every other draw unchanged.

Notes:
    ``draw`` states a draw by its coordinates; the kernels, which draw many values of a customer,
    call ``draw_at`` with the customer's keys of the stream (the same numbers), inlined.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ecosim.kernels.rng import customer_key, normal_at, normal_key, stream_key, uniform_at

FIXED, NORMAL, LOGNORMAL, BETA, GAMMA, UNIFORM = 0, 1, 2, 3, 4, 5
#: Family name -> code, in the order of ``ecosim.config.schema.DIST_PARAMS``.
DIST_CODES = {"fixed": FIXED, "normal": NORMAL, "lognormal": LOGNORMAL, "beta": BETA,
              "gamma": GAMMA, "uniform": UNIFORM}

# Sub-slots: a draw of slot s uses slots s * _SUB .. s * _SUB + _SUB - 1 of its stream.
_SUB = 128  # a gamma uses at most 62 sub-slots; beta puts its second gamma at +64


@njit(cache=True, _nrt=False)
def _std_gamma(shape, uniform_key, normal_key, base):
    """Marsaglia–Tsang (2000) standard gamma; ``shape < 1`` via the ``U**(1/shape)`` boost."""
    boost = 1.0
    if shape < 1.0:
        boost = uniform_at(uniform_key, base) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    for attempt in range(1, 30):  # acceptance is > 95% per attempt: 30 never binds in practice
        x = normal_at(normal_key, base + attempt)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform_at(uniform_key, base + 32 + attempt)
        if np.log(u) < 0.5 * x * x + d - d * v + d * np.log(v):
            return d * v * boost
    return d * boost


@njit(inline="always", cache=True)
def draw_at(code, p1, p2, uniform_key, normal_key, slot):
    """``draw`` from the customer's keys of the stream (``rng.customer_key``, ``rng.normal_key``).

    A kernel that draws several values of one customer in one stream computes the two keys once.
    """
    base = slot * _SUB
    if code == FIXED:
        return p1
    if code == NORMAL:
        return p1 + p2 * normal_at(normal_key, base)
    if code == LOGNORMAL:
        return np.exp(p1 + p2 * normal_at(normal_key, base))
    if code == UNIFORM:
        return p1 + (p2 - p1) * uniform_at(uniform_key, base)
    if code == GAMMA:
        return p2 * _std_gamma(p1, uniform_key, normal_key, base)
    # BETA: the ratio of two gammas on disjoint sub-slots
    ga = _std_gamma(p1, uniform_key, normal_key, base)
    gb = _std_gamma(p2, uniform_key, normal_key, base + 64)
    return ga / (ga + gb)


@njit(inline="always", cache=True)
def draw(code, p1, p2, key, stream, step, customer, slot):
    """One draw of the family ``code`` with parameters ``(p1, p2)`` at the given coordinates."""
    if code == FIXED:
        return p1
    return draw_at(code, p1, p2, customer_key(stream_key(key, stream, step), customer),
                   normal_key(key, stream, step, customer), slot)
