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
def _choose_provider(key, step, i, k, draw, current, habit_ik, candidates, extra, brands_used,
                     trait_row, quality, log_price, convenience, brand):
    """The firm chosen for one occurrence of need ``k`` among ``candidates``, or OUTSIDE.

    ``candidates`` is the bitmask of firms considered (the current provider, the known firms when
    the customer is open, contextual and referred offers); the outside option is always there.
    ``extra[f]`` is utility from business models and policies (bundle, entry bonus, incentives).
    ``draw`` indexes the occurrence (purchase or contact) so each gets its own shocks.
    """
    best = OUTSIDE
    best_u = gumbel(key, STREAM_CHOICE, step, i, _choice_slot(k, MAX_INDEX, draw))
    f = 0
    while candidates:
        if candidates & np.uint64(1):
            u = _utility(trait_row, f, k, current, habit_ik, brands_used, quality, log_price,
                         convenience, brand) + extra[f]
            u += gumbel(key, STREAM_CHOICE, step, i, _choice_slot(k, f, draw))
            if u > best_u:
                best_u = u
                best = f
        candidates >>= np.uint64(1)
        f += 1
    return best
