"""Choice: the logit choice of a provider when a need arises (DESIGN §2.4 step 4).

Utility of firm ``f`` for customer ``i`` and need ``k``::

    quality_fk - price_sensitivity_i * ln(price_index_fk)
      + convenience_sensitivity_i * convenience_fk + brand_affinity_i * familiarity_i(brand_fk)
      + [f is the current provider] * (habit_strength_i * habit_ik + switching_cost_i) + Gumbel

and the outside option has utility ``0 + Gumbel``. Familiarity is 1 when the customer already
uses an offering of the same brand, else 0. The Gumbel draw of (customer, need, firm, purchase)
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
from ecosim.kernels.rng import STREAM_CHOICE, gumbel

OUTSIDE = -1


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
def _choose_provider(key, step, i, k, purchase, current, habit_ik, consider_all, known,
                     brands_used, trait_row, available, quality, log_price, convenience, brand):
    """The firm chosen for one occurrence of need ``k``, or OUTSIDE.

    The consideration set is the current provider, plus every known firm offering ``k`` when
    ``consider_all`` (the customer is open this time or has no provider), plus the outside option.
    """
    best = OUTSIDE
    best_u = gumbel(key, STREAM_CHOICE, step, i, _choice_slot(k, MAX_INDEX, purchase))
    n_firms = available.shape[0]
    for f in range(n_firms):
        if not available[f, k]:
            continue
        if f != current and not (consider_all and (known & (np.uint64(1) << np.uint64(f)))):
            continue
        u = _utility(trait_row, f, k, current, habit_ik, brands_used, quality, log_price,
                     convenience, brand)
        u += gumbel(key, STREAM_CHOICE, step, i, _choice_slot(k, f, purchase))
        if u > best_u:
            best_u = u
            best = f
    return best
