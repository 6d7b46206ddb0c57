"""Awareness: advertising reach with diminishing returns plus word of mouth.

docs/model.md, "Step order", step 2. A customer is referred by at most one firm per step: firms
are tried in index order and the first successful draw wins.

Awareness is held of units: brands (``customers.awareness: brand``; knowing a brand is knowing
every unit under it) or firms. A customer unaware of unit ``u`` becomes aware with probability
``1 - (1 - p_u) * (1 - q_u * s_i * w_iu)`` where ``p_u`` is the advertising reach of the step,
``q_u`` the word-of-mouth coefficient, ``s_i`` the customer's social influence and ``w_iu`` the
share of the customer's neighbours who used ``u`` at the end of the previous step
(the share among all customers when there is no network: mean field). With one product and
adoption on awareness this is the discrete Bass model.

Referrals are pulled, not pushed: a non-customer of ``f`` with ``m`` neighbours using ``f`` is
referred with probability ``1 - (1 - rate_f)^m`` (``m = degree × share`` without a network); a
referred customer learns of ``f``'s brand and carries its trial incentive through the step.

Notes:
    ``_spread_awareness`` is jitted and run on Numba's thread count over blocks of customers
    (``threads.run_ranges``). It reads only last step's
    ``customer_of``/``unit_of`` and writes only ``aware``, so the update is synchronous.

    Speed: counting the neighbours is a gather from anywhere in memory (a rewired or random
    network), so their bitmasks are prefetched a few customers ahead (``_AHEAD``); the counts of
    every unit are added in one pass (``_count_users``); the loops visit only the units a
    customer does not know and the referral firms they do not use; the referral odds
    ``(1 - rate) ** m`` come from a table of the same ``pow``s made once per step (one ``pow`` a
    customer was 2.4 % of the default market's CPU time, sampled with perf). At 10^6 customers
    of the default market (Watts–Strogatz, degree 10) the kernel went from 21 to 13 ns a
    customer-need-step on one thread, and at 10^7 from 1.1 to 0.5 s a step on two.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from ecosim.kernels.accounting import BLOCK
from ecosim.kernels.population import SOCIAL
from ecosim.kernels.prefetch import prefetch
from ecosim.kernels.rng import STREAM_AWARENESS, customer_key, stream_key, uniform_at


@njit(nogil=True, cache=True)
def _spread_awareness(first, last, key, step, unit_active, reach_p, wom_q, launch_p,
                      firm_active, referral_rate, stays, firm_unit, unit_share, firm_share,
                      mean_field_degree, indptr, indices, traits, customer_of, unit_of,
                      units_are_firms, aware, trial):
    """One step of awareness and referrals for every customer, in place on ``aware``/``trial``.

    Awareness is held of *units* (``customers.awareness``): brands, or firms. Knowing a brand is
    knowing every offering under it.

    Args:
        first, last: the blocks of customers ``first .. last - 1`` (``accounting.BLOCK``
            customers each; ``threads.run_ranges``).
        key: replication key.
        step: current step (>= 1).
        unit_active: (U,) whether each unit has an offering in the market.
        reach_p: (U,) advertising reach probability of each unit this step.
        wom_q: (U,) word-of-mouth coefficient in [0, 1].
        launch_p: (U,) awareness a unit gets in the step a firm launches it.
        firm_active: (F,) whether each firm is in the market.
        referral_rate: (F,) probability per step that a customer refers each neighbour.
        stays: (F, ``_POWERS``) ``(1 - referral_rate[f]) ** m``, the odds that m neighbours
            using f all do not refer (``referral_stays``).
        firm_unit: (F,) the unit of each firm's own brand (what a referral teaches).
        unit_share, firm_share: (U,), (F,) share of all customers using each unit / firm (used
            without a network).
        mean_field_degree: contacts per customer assumed for referrals without a network.
        indptr, indices: CSR adjacency of the social network (``indptr`` of length 0 = none).
        traits: (N, 8) float32 customer traits.
        customer_of, unit_of: (N,) uint64 bitmasks of the firms / units each customer used at
            the end of last step.
        units_are_firms: the units are the firms (``unit_of`` is ``customer_of``): one pass over
            the neighbours counts both.
        aware: (N,) uint64 bitmask of known units, updated in place.
        trial: (N,) int8 firm that referred the customer this step (-1 none), written here.
    """
    n = aware.shape[0]
    n_units = unit_active.shape[0]
    n_firms = firm_active.shape[0]
    networked = indptr.shape[0] > 0
    # Units and firms whose neighbour counts a customer can need: any active unit they do not
    # know yet (word of mouth), and referral firms they do not use (see below).
    referring = np.uint64(0)
    for f in range(n_firms):
        if firm_active[f] and referral_rate[f] > 0.0:
            referring |= np.uint64(1) << np.uint64(f)
    all_active = np.uint64(0)
    for u in range(n_units):
        if unit_active[u]:
            all_active |= np.uint64(1) << np.uint64(u)
    awareness_key = stream_key(key, STREAM_AWARENESS, step)
    for b in range(first, last):
        unit_users = np.zeros(n_units, np.int64)
        firm_users = np.zeros(n_firms, np.int64)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if networked and i + _AHEAD < n:
                _prefetch_neighbours(i + _AHEAD, indptr, indices, customer_of, unit_of,
                                     units_are_firms)
            known = aware[i]
            own = customer_of[i]
            s_i = traits[i, SOCIAL]
            degree = 0
            if networked:
                # Count the neighbours using u (f) only for what is read below: unknown units
                # and referral firms the customer does not use; one branch-free pass over the
                # neighbours per such unit or firm.
                start, stop = indptr[i], indptr[i + 1]
                degree = stop - start
                if units_are_firms:
                    _count_users((all_active & ~known) | (referring & ~own), customer_of,
                                 indices, start, stop, unit_users)
                    firm_users[:] = unit_users
                else:
                    _count_users(all_active & ~known, unit_of, indices, start, stop, unit_users)
                    _count_users(referring & ~own, customer_of, indices, start, stop,
                                 firm_users)
            # the draws of customer i (rng.customer_key: the same bits as ``uniform``)
            draws_key = customer_key(awareness_key, i)
            # the active units the customer does not know yet, in index order
            unknown = all_active & ~known
            while unknown:
                u = np.int64(trailing_zeros(unknown))
                unknown &= unknown - np.uint64(1)
                share = _users_share(unit_share, unit_users, u, networked, degree)
                p = 1.0 - ((1.0 - reach_p[u]) * (1.0 - launch_p[u])
                           * (1.0 - wom_q[u] * s_i * share))
                if uniform_at(draws_key, u) < p:
                    known |= np.uint64(1) << np.uint64(u)
            # the referral firms the customer does not use, in index order, until one refers
            referred = -1
            candidates = referring & ~own
            while candidates:
                f = np.int64(trailing_zeros(candidates))
                candidates &= candidates - np.uint64(1)
                if networked and firm_users[f] < _POWERS:
                    p_ref = 1.0 - stays[f, firm_users[f]]
                else:
                    share = _users_share(firm_share, firm_users, f, networked, degree)
                    referrers = firm_users[f] if networked else mean_field_degree * share
                    p_ref = 1.0 - (1.0 - referral_rate[f]) ** referrers
                if uniform_at(draws_key, 64 + f) < p_ref:
                    referred = f
                    known |= np.uint64(1) << np.uint64(firm_unit[f])
                    break
            aware[i] = known
            trial[i] = referred


@njit(inline="always", cache=True)
def _users_share(market_share, neighbour_users, x, networked, degree):
    """Share of the customer's contacts using unit (or firm) x.

    Among the neighbours, or among all customers without a network (mean field).
    """
    if networked:
        return neighbour_users[x] / degree if degree > 0 else 0.0
    return market_share[x]


#: Neighbour counts whose referral odds ``(1 - rate) ** m`` are computed once per step.
_POWERS = 64


@njit(cache=True)
def referral_stays(referral_rate):
    """``(1 - referral_rate[f]) ** m`` for m < ``_POWERS``: (F, ``_POWERS``), once per step.

    The same ``pow`` as for more neighbours, made once rather than once per customer (a ``pow``
    is some 20 ns; most customers have a few neighbours) or once per chunk of customers.
    """
    stays = np.empty((referral_rate.shape[0], _POWERS))
    for f in range(referral_rate.shape[0]):
        for m in range(_POWERS):
            stays[f, m] = (1.0 - referral_rate[f]) ** np.float64(m)
    return stays


#: Customers ahead whose neighbours' bitmasks are prefetched: about a cache miss's latency
#: (~100 ns) over the work of one customer.
_AHEAD = 8


@njit(inline="always", cache=True)
def _prefetch_neighbours(i, indptr, indices, customer_of, unit_of, units_are_firms):
    """Start loading what customer i's neighbours used, a few customers before it is counted.

    A rewired or random network's neighbours are anywhere in memory: one cache miss each.
    """
    for e in range(indptr[i], indptr[i + 1]):
        prefetch(customer_of, indices[e])
        if not units_are_firms:
            prefetch(unit_of, indices[e])


@njit(inline="always", cache=True)
def _count_users(wanted, uses, indices, start, stop, users):
    """For each bit set in ``wanted``, how many neighbours have it set in ``uses``.

    With fewer than 16 neighbours (most customers of most networks) the counts of every unit are
    added at once, one neighbour at a time, in four bit planes: plane ``b`` holds bit ``b`` of
    each unit's count, and adding a neighbour's 0/1 bits is a ripple-carry addition across the
    planes (a bit-sliced counter). That is one pass over the neighbours instead of one per unit
    counted, without branches. More neighbours: one pass per unit. The counts are the same.
    """
    if stop - start < 16:
        c0 = np.uint64(0)
        c1 = np.uint64(0)
        c2 = np.uint64(0)
        c3 = np.uint64(0)
        for e in range(start, stop):
            carry = uses[indices[e]] & wanted
            c0, carry = c0 ^ carry, c0 & carry
            c1, carry = c1 ^ carry, c1 & carry
            c2, carry = c2 ^ carry, c2 & carry
            c3 ^= carry
        u = 0
        while wanted:
            if wanted & np.uint64(1):
                shift = np.uint64(u)
                users[u] = (((c0 >> shift) & np.uint64(1))
                            | (((c1 >> shift) & np.uint64(1)) << np.uint64(1))
                            | (((c2 >> shift) & np.uint64(1)) << np.uint64(2))
                            | (((c3 >> shift) & np.uint64(1)) << np.uint64(3)))
            wanted >>= np.uint64(1)
            u += 1
        return
    u = 0
    while wanted:
        if wanted & np.uint64(1):
            count = np.uint64(0)
            shift = np.uint64(u)
            for e in range(start, stop):
                count += (uses[indices[e]] >> shift) & np.uint64(1)
            users[u] = count
        wanted >>= np.uint64(1)
        u += 1
