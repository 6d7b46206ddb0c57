"""Referral odds in the awareness kernel against a reference implementation, draw for draw.

A non-customer of firm f with m neighbours using f is referred with probability
``1 - (1 - rate_f) ** m``. The kernel takes ``(1 - rate) ** m`` from a table computed once per step
for m < ``_POWERS`` and calls ``pow`` above it; both must give exactly what Python's ``**`` (the
same C ``pow``) gives, so the referrals are compared customer by customer with the same uniforms.
"""

from __future__ import annotations

import numpy as np

from ecosim.kernels.accounting import BLOCK
from ecosim.kernels.awareness import _POWERS, _spread_awareness, referral_stays
from ecosim.kernels.population import N_TRAITS, SOCIAL
from ecosim.kernels.rng import STREAM_AWARENESS, uniform
from ecosim.kernels.threads import run_ranges


def test_referrals_follow_one_minus_survival_of_each_neighbour():
    n_users, n_firms, key, step = 200, 2, 2024, 3
    rates = np.array([0.02, 0.3])  # firm 0 a rare referrer, firm 1 a keen one
    counts = np.arange(0, 2 * _POWERS + 10)  # neighbours using the firms: in and past the table
    repeats = 40
    m_of = np.repeat(counts, repeats)  # customer n_users + j has m_of[j] user neighbours
    n = n_users + m_of.size
    # CSR: customer n_users + j is linked to the first m_of[j] users (one direction is enough)
    indptr = np.zeros(n + 1, np.int64)
    indptr[n_users + 1:] = np.cumsum(m_of)
    indices = np.concatenate([np.arange(m, dtype=np.int32) % n_users for m in m_of])
    customer_of = np.zeros(n, np.uint64)
    customer_of[:n_users] = 0b11  # the users use both firms
    aware = np.full(n, 0b11, np.uint64)  # everyone knows both: only referrals are drawn
    trial = np.full(n, -2, np.int8)
    traits = np.zeros((n, N_TRAITS), np.float32)
    traits[:, SOCIAL] = 1.0
    zeros = np.zeros(n_firms)
    run_ranges(_spread_awareness, (n + BLOCK - 1) // BLOCK, np.uint64(key), step,
               np.ones(n_firms, np.bool_), zeros, zeros, zeros, np.ones(n_firms, np.bool_),
               rates, referral_stays(rates), np.arange(n_firms, dtype=np.int64), zeros, zeros,
               10.0, indptr, indices, traits, customer_of, customer_of, True, aware, trial)

    expected = np.full(n, -1, np.int8)
    for i in range(n_users, n):
        m = int(m_of[i - n_users])
        for f in range(n_firms):  # firms in index order until one refers
            if uniform(key, STREAM_AWARENESS, step, i, 64 + f) < 1.0 - (1.0 - rates[f]) ** m:
                expected[i] = f
                break
    np.testing.assert_array_equal(trial[n_users:], expected[n_users:])
    # the draws did refer, from both firms, with and without the table (past it, nearly everyone)
    assert set(np.unique(trial[n_users:][m_of < _POWERS])) == {-1, 0, 1}
    assert {0, 1} <= set(np.unique(trial[n_users:][m_of >= _POWERS]))
