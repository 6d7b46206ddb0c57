"""Choice: which provider a triggered choice lands on (see docs/model.md, "Choice").

Utility of firm ``f`` for customer ``i`` and need ``k``::

    quality_fk - price_sensitivity_i * ln(price_index_fk)
      + convenience_sensitivity_i * convenience_fk + brand_affinity_i * familiarity_i(brand_fk)
      + [f is the current provider] * (habit_strength_i * habit_ik + switching_cost_i)
      + taste_scale * taste_ifk + shock_scale * shock_ifk,occasion

and the outside option (not buying from any firm) has ``0 + taste_scale * taste_i0k + shock_scale
* shock``. ``taste`` is a standard Gumbel drawn once per (customer, need, option) — keyed without
the step, so it is the customer's persistent match with the option and needs no memory — and
``shock`` a standard Gumbel per occasion. With ``taste_scale = 0`` every occasion is a fresh
multinomial logit of scale ``shock_scale``; with ``shock_scale = 0`` a customer always makes the
same choice among the same options. Familiarity is 1 when the customer already uses an offering of
the same brand, else 0. A draw depends only on its coordinates, not on who else is considered, so
arms share their shocks (common random numbers).

Notes:
    Scalar helpers, jitted and inlined into the customer step kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ecosim.kernels.population import (
    BRAND_AFF,
    CONV_SENS,
    HABIT_STR,
    MAX_INDEX,
    PRICE_SENS,
    SWITCH_COST,
)
from ecosim.kernels.rng import STREAM_TASTE, gumbel_of, hash_draw

OUTSIDE = -1


def _gumbel_brackets(cells: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a Gumbel draw given the cell of its uniform: (lower, upper) per cell.

    The uniform behind a draw lies in ``[c / cells, (c + 1) / cells]`` where ``c`` is the top
    bits of its hash (``rng.uniform``), and ``-log(-log(u))`` is increasing in ``u``; ``margin``
    absorbs the rounding of the logarithms (errors are ~1e-15 here).
    """
    with np.errstate(divide="ignore"):
        edges = -np.log(-np.log(np.arange(cells + 1) / cells))  # -inf ... +inf
    return edges[:-1] - margin, edges[1:] + margin


#: Cells of the Gumbel brackets: the top 10 bits of a draw's 64-bit hash (width 1/1024 of u).
_CELL_SHIFT = np.uint64(54)
_GUMBEL_LOW, _GUMBEL_HIGH = _gumbel_brackets(1 << 10, 1e-9)


@njit(inline="always", cache=True)
def _choice_slot(need_id, option, occasion):
    """Draw slot of one (need, option, occasion) triple: injective, and stable across arms.

    ``need_id`` is the need's stable id (from its name, so declaring needs in another order
    changes no draw), ``option`` a firm index or ``MAX_INDEX`` for the outside option,
    ``occasion`` < 64 the purchase of the step (or the contacting firm, for contacts).
    """
    return ((np.uint64(need_id) * np.uint64(MAX_INDEX + 1) + np.uint64(option)) * np.uint64(64)
            + np.uint64(occasion))


@njit(inline="always", cache=True)
def _utility(trait_row, f, k, current, habit_ik, brands_used, market):
    """Deterministic utility of firm ``f`` for need ``k`` (see module docstring)."""
    u = (market.quality[f, k] - trait_row[PRICE_SENS] * market.log_price[f, k]
         + trait_row[CONV_SENS] * market.convenience[f, k])
    if brands_used & (np.uint64(1) << np.uint64(market.brand[f, k])):
        u += trait_row[BRAND_AFF]
    if f == current:
        u += trait_row[HABIT_STR] * habit_ik + trait_row[SWITCH_COST]
    return u


@njit(inline="always", cache=True)
def _noise_bounds(key, stream, step, i, slot_taste, slot_shock, taste_scale, shock_scale):
    """Lower and upper bounds of an option's noise from the top bits of its two hashes."""
    low = 0.0
    high = 0.0
    if taste_scale > 0.0:
        cell = hash_draw(key, STREAM_TASTE, 0, i, slot_taste) >> _CELL_SHIFT
        low += taste_scale * _GUMBEL_LOW[cell]
        high += taste_scale * _GUMBEL_HIGH[cell]
    if shock_scale > 0.0:
        cell = hash_draw(key, stream, step, i, slot_shock) >> _CELL_SHIFT
        low += shock_scale * _GUMBEL_LOW[cell]
        high += shock_scale * _GUMBEL_HIGH[cell]
    return low, high


@njit(inline="always", cache=True)
def _noise(key, stream, step, i, slot_taste, slot_shock, taste_scale, shock_scale):
    """An option's noise: persistent taste plus the occasion's shock, each at its scale."""
    e = 0.0
    if taste_scale > 0.0:
        e += taste_scale * gumbel_of(hash_draw(key, STREAM_TASTE, 0, i, slot_taste))
    if shock_scale > 0.0:
        e += shock_scale * gumbel_of(hash_draw(key, stream, step, i, slot_shock))
    return e


@njit(inline="always", cache=True)
def _choose_provider(key, stream, step, i, k, need_id, occasion, current, habit_ik, candidates,
                     with_outside, extra, brands_used, trait_row, market, taste_scale,
                     shock_scale):
    """The option chosen on one triggered occasion of need ``k``.

    A firm of ``candidates``, or OUTSIDE (only when ``with_outside``: a full search).

    ``candidates`` is the bitmask of firms compared; ``extra[f]`` is utility from business models
    and policies (bundle, entry bonus, incentives, a contact's annoyance). ``stream`` and
    ``occasion`` key the occasion's shocks (purchases and contacts have streams of their own).

    The result is the first option, in the order outside option then firms by index, whose
    utility plus noise is the largest. Each noise term costs two logarithms, so it is evaluated
    only where it can matter: a first pass brackets every option's total from the cells of its
    uniforms (tables ``_GUMBEL_LOW``/``_GUMBEL_HIGH``) and keeps the highest lower bound; an
    option whose upper bound is below it cannot be the largest. The second pass evaluates the
    others exactly, in the same order and with the same arithmetic as evaluating every option, so
    the choice is identical, typically with one or two evaluations instead of one per option.
    """
    floor = -np.inf
    if with_outside:
        slot_t = _choice_slot(need_id, MAX_INDEX, 0)
        slot_s = _choice_slot(need_id, MAX_INDEX, occasion)
        low, high = _noise_bounds(key, stream, step, i, slot_t, slot_s, taste_scale, shock_scale)
        floor = low
    mask = candidates
    f = 0
    while mask:
        if mask & np.uint64(1):
            v = _utility(trait_row, f, k, current, habit_ik, brands_used, market) + extra[f]
            low, high = _noise_bounds(key, stream, step, i, _choice_slot(need_id, f, 0),
                                      _choice_slot(need_id, f, occasion), taste_scale,
                                      shock_scale)
            floor = max(floor, v + low)  # branch-free
        mask >>= np.uint64(1)
        f += 1
    best = OUTSIDE
    best_u = -np.inf
    if with_outside:
        low, high = _noise_bounds(key, stream, step, i, slot_t, slot_s, taste_scale, shock_scale)
        if high >= floor:
            best_u = _noise(key, stream, step, i, slot_t, slot_s, taste_scale, shock_scale)
    f = 0
    while candidates:
        if candidates & np.uint64(1):
            v = _utility(trait_row, f, k, current, habit_ik, brands_used, market) + extra[f]
            slot_t = _choice_slot(need_id, f, 0)
            slot_s = _choice_slot(need_id, f, occasion)
            low, high = _noise_bounds(key, stream, step, i, slot_t, slot_s, taste_scale,
                                      shock_scale)
            if v + high >= floor:
                u = v + _noise(key, stream, step, i, slot_t, slot_s, taste_scale, shock_scale)
                if u > best_u:
                    best_u = u
                    best = f
        candidates >>= np.uint64(1)
        f += 1
    return best
