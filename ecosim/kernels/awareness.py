"""Awareness: advertising reach with diminishing returns plus word of mouth.

docs/model.md, "Step order", step 2. A customer is referred by at most one firm per step: firms
are tried in index order and the first successful draw wins.

A customer unaware of firm ``f`` becomes aware with probability
``1 - (1 - p_f) * (1 - q_f * s_i * w_if)`` where ``p_f`` is the advertising reach of the step,
``q_f`` the word-of-mouth coefficient, ``s_i`` the customer's social influence and ``w_if`` the
share of the customer's neighbours who were customers of ``f`` at the end of the previous step
(the share among all customers when there is no network: mean field). With one product and
adoption on awareness this is the discrete Bass model.

Referrals are pulled, not pushed: a non-customer of ``f`` with ``m`` neighbours using ``f`` is
referred with probability ``1 - (1 - rate_f)^m`` (``m = degree × share`` without a network); a
referred customer learns of ``f`` and carries its trial incentive through the step.

Notes:
    ``_spread_awareness`` is jitted and parallel over customers. It reads only last step's
    ``customer_of`` and writes only ``aware``, so the update is synchronous.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ecosim.kernels.accounting import BLOCK
from ecosim.kernels.population import SOCIAL
from ecosim.kernels.rng import STREAM_AWARENESS, uniform


@njit(parallel=True, cache=True)
def _spread_awareness(key, step, active, reach_p, wom_q, launch_p, referral_rate,
                      mean_field_share, mean_field_degree, indptr, indices, traits, customer_of,
                      aware, trial):
    """One step of awareness and referrals for every customer, in place on ``aware``/``trial``.

    Args:
        key: replication key.
        step: current step (>= 1).
        active: (F,) whether each firm is in the market.
        reach_p: (F,) advertising reach probability this step.
        wom_q: (F,) word-of-mouth coefficient in [0, 1].
        launch_p: (F,) awareness a firm gets in the step it enters (its ``initial_awareness``).
        referral_rate: (F,) probability per step that a customer refers each neighbour.
        mean_field_share: (F,) share of all customers using each firm (used without a network).
        mean_field_degree: contacts per customer assumed for referrals without a network.
        indptr, indices: CSR adjacency of the social network (``indptr`` of length 0 = none).
        traits: (N, 8) float32 customer traits.
        customer_of: (N,) uint64 bitmask of the firms each customer used at the end of last step.
        aware: (N,) uint64 bitmask of known firms, updated in place.
        trial: (N,) int8 firm that referred the customer this step (-1 none), written here.
    """
    n = aware.shape[0]
    n_firms = active.shape[0]
    networked = indptr.shape[0] > 0
    n_blocks = (n + BLOCK - 1) // BLOCK
    # Firms whose neighbour counts a customer can need: any active firm they do not know yet,
    # and referral firms they do not use (see below).
    referring = np.uint64(0)
    for f in range(n_firms):
        if active[f] and referral_rate[f] > 0.0:
            referring |= np.uint64(1) << np.uint64(f)
    all_active = np.uint64(0)
    for f in range(n_firms):
        if active[f]:
            all_active |= np.uint64(1) << np.uint64(f)
    for b in prange(n_blocks):
        users = np.zeros(n_firms, np.int64)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            known = aware[i]
            own = customer_of[i]
            s_i = traits[i, SOCIAL]
            degree = 0
            if networked:
                # Count the neighbours using f only for the firms read below: unknown ones
                # (word of mouth) and referral firms the customer does not use (a superset of
                # those read, so every count that is read is exact); one branch-free pass over
                # the neighbours per such firm.
                start, stop = indptr[i], indptr[i + 1]
                degree = stop - start
                wanted = (all_active & ~known) | (referring & ~own)
                f = 0
                while wanted:
                    if wanted & np.uint64(1):
                        count = np.uint64(0)
                        shift = np.uint64(f)
                        for e in range(start, stop):
                            count += (customer_of[indices[e]] >> shift) & np.uint64(1)
                        users[f] = count
                    wanted >>= np.uint64(1)
                    f += 1
            referred = -1
            for f in range(n_firms):
                if not active[f]:
                    continue
                bit = np.uint64(1) << np.uint64(f)
                share = mean_field_share[f]
                if networked:
                    share = users[f] / degree if degree > 0 else 0.0
                if not (known & bit):
                    p = 1.0 - ((1.0 - reach_p[f]) * (1.0 - launch_p[f])
                               * (1.0 - wom_q[f] * s_i * share))
                    if uniform(key, STREAM_AWARENESS, step, i, f) < p:
                        known |= bit
                if referral_rate[f] > 0.0 and referred < 0 and not (own & bit):
                    referrers = users[f] if networked else mean_field_degree * share
                    p_ref = 1.0 - (1.0 - referral_rate[f]) ** referrers
                    if uniform(key, STREAM_AWARENESS, step, i, 64 + f) < p_ref:
                        referred = f
                        known |= bit
            aware[i] = known
            trial[i] = referred
