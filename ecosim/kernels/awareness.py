"""Awareness: advertising reach with diminishing returns plus word of mouth (DESIGN §2.4 step 2).

A customer unaware of firm ``f`` becomes aware with probability
``1 - (1 - p_f) * (1 - q_f * s_i * w_if)`` where ``p_f`` is the advertising reach of the step,
``q_f`` the word-of-mouth coefficient, ``s_i`` the customer's social influence and ``w_if`` the
share of the customer's neighbours who were customers of ``f`` at the end of the previous step
(the share among all customers when there is no network: mean field). With one product and
adoption on awareness this is the discrete Bass model.

Notes:
    ``_spread_awareness`` is jitted and parallel over customers. It reads only last step's
    ``customer_of`` and writes only ``aware``, so the update is synchronous.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ecosim.kernels.population import SOCIAL
from ecosim.kernels.rng import STREAM_AWARENESS, uniform


@njit(parallel=True, cache=True)
def _spread_awareness(key, step, active, reach_p, wom_q, mean_field_share, indptr, indices,
                      traits, customer_of, aware):
    """One step of awareness for every customer, in place on ``aware``.

    Args:
        key: replication key; step: current step (>= 1).
        active: (F,) whether each firm is in the market.
        reach_p: (F,) advertising reach probability this step.
        wom_q: (F,) word-of-mouth coefficient in [0, 1].
        mean_field_share: (F,) share of all customers using each firm (used when ``indptr`` is
            empty, i.e. no network).
        indptr, indices: CSR adjacency of the social network (``indptr`` of length 0 = none).
        traits: (N, 8) float32 customer traits.
        customer_of: (N,) uint64 bitmask of the firms each customer used at the end of last step.
        aware: (N,) uint64 bitmask of known firms, updated in place.
    """
    n = aware.shape[0]
    n_firms = active.shape[0]
    networked = indptr.shape[0] > 0
    for i in prange(n):
        known = aware[i]
        s_i = traits[i, SOCIAL]
        for f in range(n_firms):
            bit = np.uint64(1) << np.uint64(f)
            if not active[f] or (known & bit):
                continue
            share = mean_field_share[f]
            if networked:
                start, stop = indptr[i], indptr[i + 1]
                share = 0.0
                if stop > start:
                    users = 0
                    for e in range(start, stop):
                        if customer_of[indices[e]] & bit:
                            users += 1
                    share = users / (stop - start)
            p = 1.0 - (1.0 - reach_p[f]) * (1.0 - wom_q[f] * s_i * share)
            if uniform(key, STREAM_AWARENESS, step, i, f) < p:
                known |= bit
        aware[i] = known
