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
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

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


@njit(inline="always", cache=True)
def _terms(trait_row, habit_ik):
    """The customer's weights in a utility, read once per choice.

    Price sensitivity, convenience sensitivity, brand affinity, and what staying with the
    current provider adds (habit strength x habit + switching cost).
    """
    return (trait_row[PRICE_SENS], trait_row[CONV_SENS], trait_row[BRAND_AFF],
            trait_row[HABIT_STR] * habit_ik + trait_row[SWITCH_COST])


@njit(inline="always", cache=True)
def _utility_of(terms, f, k, current, brands_used, market):
    """Deterministic utility of firm ``f`` for need ``k`` from the customer's ``_terms``.

    Written with selects rather than branches, so that the choice's loop over firms has none and
    LLVM can vectorise it.
    """
    price_sens, conv_sens, brand_aff, stay = terms
    u = (market.quality[f, k] - price_sens * market.log_price[f, k]
         + conv_sens * market.convenience[f, k])
    u = u + brand_aff if (brands_used >> np.uint64(market.brand[f, k])) & np.uint64(1) else u
    return u + stay if f == current else u


@njit(cache=True, _nrt=False)
def _utility(trait_row, f, k, current, habit_ik, brands_used, market):
    """Deterministic utility of firm ``f`` for need ``k`` (see module docstring)."""
    return _utility_of(_terms(trait_row, habit_ik), f, k, current, brands_used, market)


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


#: Widest span of firm indices (last candidate - first) a choice loops over candidate by
#: candidate; a wider one is a fixed loop over the span, vectorised.
_SPAN = 2


@njit(inline="always", cache=True)
def _first_pass(f, taste_key, shock_key, need_id, occasion, k, current, extra, brands_used, terms,
                market, taste_scale, shock_scale, seen, hashes):
    """Firm f's hashes, utility and bracket into the scratch (``_choose_provider``), no branch."""
    bt = bits_at(taste_key, _choice_slot(need_id, f, 0)) if taste_scale > 0.0 else np.uint64(0)
    bs = bits_at(shock_key, _choice_slot(need_id, f, occasion))
    v = _utility_of(terms, f, k, current, brands_used, market) + extra[f]
    low, high = _bracket(bt, bs, taste_scale, shock_scale)
    hashes[0, f] = bt
    hashes[1, f] = bs
    seen[0, f] = v
    seen[1, f] = high
    seen[2, f] = v + low


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
    ``seen`` (float64, 3 x 65) and ``hashes`` (uint64, 2 x 65) are scratch: per option (firm f
    at f, the outside option at 64) its utility, the upper and lower bounds of its noise and
    total, and its two hashes.

    The result is the first option, in the order outside option then firms by index, whose
    utility plus noise is the largest. Each noise term costs two logarithms, so it is evaluated
    only where it can matter: a first pass hashes every option once and brackets its total from
    the cells of its uniforms (tables ``_GUMBEL_LOW``/``_GUMBEL_HIGH``), keeping the highest lower
    bound; an option whose upper bound is below it cannot be the largest. The second pass
    evaluates the others exactly from the same hashes, in the same order and with the same
    arithmetic as evaluating every option, so the choice is identical; when a single option
    survives, it is the largest and nothing is evaluated.

    When the candidates' indices span more than ``_SPAN`` firms, the first pass runs over every
    firm of the span, candidate or not, in a loop without branches, and the reductions that
    follow use selects: which options survive is unpredictable, and a mispredicted branch costs
    more than the work wasted on firms that are not candidates. LLVM vectorises that loop, but
    on this project's AVX-512 machines its vector body needs a span of at least eight firms; a
    narrower span runs the scalar remainder, still without data-dependent branches. Padding the
    span so that the vector body runs made the step slower: the step waits on each choice's
    result, and the vector path's table gathers lengthen that wait (benchmarks/README.md,
    "Tenth pass").
    ``tests/test_choice_kernel.py`` checks every path against evaluating every option exactly.
    """
    tasting = taste_scale > 0.0  # without tastes their hashes are never read: not computed
    terms = _terms(trait_row, habit_ik)  # read before the loops: their stores could alias them
    first = np.int64(trailing_zeros(candidates))  # 64 and 0 when there is no candidate
    last = np.int64(64 - leading_zeros(candidates))
    floor = -np.inf
    if with_outside:
        bt = np.uint64(0)
        if tasting:
            bt = bits_at(taste_key, _choice_slot(need_id, MAX_INDEX, 0))
        bs = bits_at(shock_key, _choice_slot(need_id, MAX_INDEX, occasion))
        hashes[0, 64] = bt
        hashes[1, 64] = bs
        low, high = _bracket(bt, bs, taste_scale, shock_scale)
        seen[1, 64] = high
        floor = low
    if last - first > _SPAN:
        # A fixed loop without branches over every firm from the first candidate to the last,
        # which LLVM vectorises (a firm that is not a candidate costs a few lanes and is left
        # out of the reductions), then branch-free reductions: which options survive is
        # unpredictable.
        for f in range(first, last):
            _first_pass(f, taste_key, shock_key, need_id, occasion, k, current, extra,
                        brands_used, terms, market, taste_scale, shock_scale, seen, hashes)
        for f in range(first, last):
            floor = max(floor, seen[2, f] if (candidates >> np.uint64(f)) & np.uint64(1)
                        else -np.inf)
    else:  # two candidates or fewer: a loop over them
        mask = candidates
        while mask:
            f = np.int64(trailing_zeros(mask))
            _first_pass(f, taste_key, shock_key, need_id, occasion, k, current, extra,
                        brands_used, terms, market, taste_scale, shock_scale, seen, hashes)
            floor = max(floor, seen[2, f])
            mask &= mask - np.uint64(1)
    # The option with the highest lower bound always survives; when it is the only one, it is
    # the largest without evaluating its noise.
    survivors = 0
    survivor = OUTSIDE
    if with_outside and seen[1, 64] >= floor:
        survivors += 1
    for f in range(first, last):
        alive = (((candidates >> np.uint64(f)) & np.uint64(1)) != 0) & (seen[0, f] + seen[1, f]
                                                                       >= floor)
        survivors += np.int64(alive)
        survivor = np.int64(f) if alive else survivor
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
