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
    Scalar helpers, jitted and inlined into the customer step kernel (by Numba's IR inlining,
    or by LLVM for those compiled as ordinary jitted functions).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ecosim.kernels.jit import scalar
from ecosim.kernels.population import (
    BRAND_AFF,
    CONV_SENS,
    HABIT_STR,
    MAX_INDEX,
    PRICE_SENS,
    SWITCH_COST,
)
from ecosim.kernels.rng import bits_at, gumbel_of

OUTSIDE = np.int64(-1)  # a numpy scalar: Numba types it int64, not a literal of its own


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


@scalar
def _choice_slot(need_id: int, option: int, occasion: int) -> uint64:
    """Draw slot of one (need, option, occasion) triple: injective, and stable across arms.

    ``need_id`` is the need's stable id (from its name, so declaring needs in another order
    changes no draw), ``option`` a firm index or ``MAX_INDEX`` for the outside option,
    ``occasion`` < 64 the purchase of the step (or the contacting firm, for contacts).
    """
    return ((np.uint64(need_id) * np.uint64(MAX_INDEX + 1) + np.uint64(option)) * np.uint64(64)
            + np.uint64(occasion))


@njit(cache=True, _nrt=False)
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
def _noise_of(bits_taste, bits_shock, taste_scale, shock_scale):
    """An option's noise from its two hashes: persistent taste plus the occasion's shock."""
    e = 0.0
    if taste_scale > 0.0:
        e += taste_scale * gumbel_of(bits_taste)
    if shock_scale > 0.0:
        e += shock_scale * gumbel_of(bits_shock)
    return e


@njit(inline="always", cache=True)
def _bracket(bits_taste, bits_shock, taste_scale, shock_scale):
    """Lower and upper bounds of an option's noise from the top bits of its two hashes."""
    low = 0.0
    high = 0.0
    if taste_scale > 0.0:
        cell = bits_taste >> _CELL_SHIFT
        low += taste_scale * _GUMBEL_LOW[cell]
        high += taste_scale * _GUMBEL_HIGH[cell]
    if shock_scale > 0.0:
        cell = bits_shock >> _CELL_SHIFT
        low += shock_scale * _GUMBEL_LOW[cell]
        high += shock_scale * _GUMBEL_HIGH[cell]
    return low, high


@njit(inline="always", cache=True)
def _choose_provider(taste_key, shock_key, k, need_id, occasion, current, habit_ik, candidates,
                     with_outside, extra, brands_used, trait_row, market, taste_scale,
                     shock_scale, seen, hashes):
    """The option chosen on one triggered occasion of need ``k``.

    A firm of ``candidates``, or OUTSIDE (only when ``with_outside``: a full search).

    ``candidates`` is the bitmask of firms compared; ``extra[f]`` is utility from business models
    and policies (bundle, entry bonus, incentives, a contact's annoyance). ``taste_key`` is the
    customer's key of ``STREAM_TASTE`` at step 0 and ``shock_key`` their key of the occasion's
    stream at this step (purchases and contacts have streams of their own; ``rng.customer_key``);
    with ``occasion`` they key the draws. Tastes are not hashed when ``taste_scale`` is 0.
    ``seen`` (float64, 2 x 65) and ``hashes`` (uint64, 2 x 65) are scratch: per option (firm f
    at f, the outside option at 64) its utility and upper bound, and its two hashes.

    The result is the first option, in the order outside option then firms by index, whose
    utility plus noise is the largest. Each noise term costs two logarithms, so it is evaluated
    only where it can matter: a first pass hashes every option once and brackets its total from
    the cells of its uniforms (tables ``_GUMBEL_LOW``/``_GUMBEL_HIGH``), keeping the highest lower
    bound; an option whose upper bound is below it cannot be the largest. The second pass
    evaluates the others exactly from the same hashes, in the same order and with the same
    arithmetic as evaluating every option, so the choice is identical; when a single option
    survives, it is the largest and nothing is evaluated.
    """
    floor = -np.inf
    tasting = taste_scale > 0.0  # without tastes their hashes are never read: not computed
    bt = np.uint64(0)
    if with_outside:
        if tasting:
            bt = bits_at(taste_key, _choice_slot(need_id, MAX_INDEX, 0))
        bs = bits_at(shock_key, _choice_slot(need_id, MAX_INDEX, occasion))
        hashes[0, 64] = bt
        hashes[1, 64] = bs
        low, high = _bracket(bt, bs, taste_scale, shock_scale)
        seen[1, 64] = high
        floor = low
    mask = candidates
    f = 0
    while mask:
        if mask & np.uint64(1):
            v = _utility(trait_row, np.int64(f), k, np.int64(current), habit_ik, brands_used,
                         market) + extra[f]
            if tasting:
                bt = bits_at(taste_key, _choice_slot(need_id, f, 0))
            bs = bits_at(shock_key, _choice_slot(need_id, f, occasion))
            hashes[0, f] = bt
            hashes[1, f] = bs
            low, high = _bracket(bt, bs, taste_scale, shock_scale)
            seen[0, f] = v
            seen[1, f] = high
            floor = max(floor, v + low)  # branch-free
        mask >>= np.uint64(1)
        f += 1
    # The option with the highest lower bound always survives; when it is the only one, it is
    # the largest without evaluating its noise.
    survivors = 0
    survivor = OUTSIDE
    if with_outside and seen[1, 64] >= floor:
        survivors += 1
    mask = candidates
    f = 0
    while mask:
        if mask & np.uint64(1) and seen[0, f] + seen[1, f] >= floor:
            survivors += 1
            survivor = f
        mask >>= np.uint64(1)
        f += 1
    if survivors <= 1:
        return survivor
    best = OUTSIDE
    best_u = -np.inf
    if with_outside and seen[1, 64] >= floor:
        best_u = _noise_of(hashes[0, 64], hashes[1, 64], taste_scale, shock_scale)
    f = 0
    while candidates:
        if candidates & np.uint64(1):
            v = seen[0, f]
            if v + seen[1, f] >= floor:
                u = v + _noise_of(hashes[0, f], hashes[1, f], taste_scale, shock_scale)
                if u > best_u:
                    best_u = u
                    best = f
        candidates >>= np.uint64(1)
        f += 1
    return best
