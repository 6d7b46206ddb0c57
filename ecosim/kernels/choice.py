"""Choice: the logit choice of a provider when a need arises (DESIGN §2.4 step 4).

Utility of firm ``f`` for customer ``i`` and need ``k``::

    quality_fk - price_sensitivity_i * ln(price_index_fk)
      + convenience_sensitivity_i * convenience_fk + brand_affinity_i * familiarity_i(brand_fk)
      + [f is the current provider] * (habit_strength_i * habit_ik + switching_cost_i) + Gumbel

and the outside option has utility ``0 + Gumbel``. Familiarity is 1 when the customer already
uses an offering of the same brand, else 0. The Gumbel draw of (customer, need, firm, occurrence)
does not depend on who else is considered, so arms share their shocks (common random numbers).

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
from ecosim.kernels.rng import STREAM_CHOICE, gumbel, hash_draw

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
def _choice_slot(need, firm, purchase):
    """Draw slot of one (need, firm or outside option, purchase) triple; stable across arms."""
    return ((need * (MAX_INDEX + 1) + firm) * 64) + purchase


@njit(inline="always", cache=True)
def _utility(trait_row, f, k, current, habit_ik, brands_used, quality, log_price, convenience,
             brand):
    """Deterministic utility of firm ``f`` for need ``k`` (see module docstring)."""
    u = (quality[f, k] - trait_row[PRICE_SENS] * log_price[f, k]
         + trait_row[CONV_SENS] * convenience[f, k])
    if brands_used & (np.uint64(1) << np.uint64(brand[f, k])):
        u += trait_row[BRAND_AFF]
    if f == current:
        u += trait_row[HABIT_STR] * habit_ik + trait_row[SWITCH_COST]
    return u


@njit(inline="always", cache=True)
def _choose_provider(key, step, i, k, draw, current, habit_ik, candidates, extra, brands_used,
                     trait_row, quality, log_price, convenience, brand):
    """The firm chosen for one occurrence of need ``k`` among ``candidates``, or OUTSIDE.

    ``candidates`` is the bitmask of firms considered (the current provider, the known firms when
    the customer is open, contextual and referred offers); the outside option is always there.
    ``extra[f]`` is utility from business models and policies (bundle, entry bonus, incentives).
    ``draw`` indexes the occurrence (purchase or contact) so each gets its own shocks.

    The result is the first option, in the order outside option then firms by index, whose
    utility plus Gumbel draw is the largest. Each draw costs two logarithms, so it is evaluated
    only where it can matter: a first pass brackets every option's total from the cell of its
    uniform (table ``_GUMBEL_LOW``/``_GUMBEL_HIGH``) and keeps the highest lower bound; an option
    whose upper bound is below it cannot be the largest. The second pass evaluates the others
    exactly, in the same order and with the same arithmetic as evaluating every option, so the
    choice is identical, typically with one or two draws instead of one per option.
    """
    outside_slot = _choice_slot(k, MAX_INDEX, draw)
    cell = hash_draw(key, STREAM_CHOICE, step, i, outside_slot) >> _CELL_SHIFT
    floor = _GUMBEL_LOW[cell]
    outside_high = _GUMBEL_HIGH[cell]
    mask = candidates
    f = 0
    while mask:
        if mask & np.uint64(1):
            v = _utility(trait_row, f, k, current, habit_ik, brands_used, quality, log_price,
                         convenience, brand) + extra[f]
            cell = hash_draw(key, STREAM_CHOICE, step, i, _choice_slot(k, f, draw)) >> _CELL_SHIFT
            floor = max(floor, v + _GUMBEL_LOW[cell])  # branch-free
        mask >>= np.uint64(1)
        f += 1
    best = OUTSIDE
    best_u = -np.inf
    if outside_high >= floor:
        best_u = gumbel(key, STREAM_CHOICE, step, i, outside_slot)
    f = 0
    while candidates:
        if candidates & np.uint64(1):
            v = _utility(trait_row, f, k, current, habit_ik, brands_used, quality, log_price,
                         convenience, brand) + extra[f]
            cell = hash_draw(key, STREAM_CHOICE, step, i, _choice_slot(k, f, draw)) >> _CELL_SHIFT
            if v + _GUMBEL_HIGH[cell] >= floor:
                u = v + gumbel(key, STREAM_CHOICE, step, i, _choice_slot(k, f, draw))
                if u > best_u:
                    best_u = u
                    best = f
        candidates >>= np.uint64(1)
        f += 1
    return best
