"""Awareness as the discrete Bass model (docs/model.md "Step order", step 2; docs/design.md §7).

One firm, one need arising every step, no network (word of mouth sees the share of all
customers), social influence 1, nobody aware and nobody a customer at step 0, a quality nobody
refuses, no exogenous churn. A customer who becomes aware at step t adopts in the choice phase of
the same step, so the adopter share F_t follows

    F_t = F_{t-1} + (1 - F_{t-1}) (1 - (1 - p)(1 - q F_{t-1})),  p = 1 - exp(-budget / (N c)).

Tolerances: given the realised F_{t-1}, the step's adopters are Binomial(N (1 - F_{t-1}), pi_t);
the realised path is compared with the deterministic recursion within 5 standard deviations
propagated by the delta method.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

N = 20_000
HORIZON = 30
P, Q = 0.01, 0.4  # innovation and imitation per step
REACH_COST = 2.0
Z = 5.0


def bass_recursion(p: float, q: float, horizon: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected adopter share F_t and its delta-method variance, t = 0..horizon.

    Var F_t = g'(F_{t-1})^2 Var F_{t-1} + (1 - F_{t-1}) pi (1 - pi) / n, with
    g(F) = F + (1 - F) pi(F), pi(F) = 1 - (1 - p)(1 - q F), g'(F) = 1 - pi(F) + (1 - F)(1 - p) q.
    """
    share, var = np.zeros(horizon + 1), np.zeros(horizon + 1)
    for t in range(1, horizon + 1):
        f = share[t - 1]
        pi = 1 - (1 - p) * (1 - q * f)
        share[t] = f + (1 - f) * pi
        slope = 1 - pi + (1 - f) * (1 - p) * q
        var[t] = slope ** 2 * var[t - 1] + (1 - f) * pi * (1 - pi) / n
    return share, var


def test_adoption_follows_the_discrete_bass_model(monopoly, run_model):
    budget = -math.log(1 - P) * N * REACH_COST
    cfg = monopoly(N, HORIZON, initial_share=0.0, initial_awareness=0.0)
    cfg.firms["solo"].marketing.budget = budget
    cfg.firms["solo"].marketing.reach_cost = REACH_COST
    cfg.firms["solo"].marketing.word_of_mouth = Q
    history = run_model(cfg)
    adopters = history.customers[:, 0]
    assert adopters[0] == 0
    assert np.array_equal(np.diff(adopters), history.new_customers[1:, 0])  # nobody leaves

    # one step at a time, given the realised past: an exact binomial test per step
    for t in range(1, HORIZON + 1):
        remaining = int(N - adopters[t - 1])
        pi = 1 - (1 - P) * (1 - Q * adopters[t - 1] / N)
        if remaining:
            # two-sided p > 1e-6 is about 5 SD where the normal approximation holds
            result = stats.binomtest(int(history.new_customers[t, 0]), remaining, pi)
            assert result.pvalue > 1e-6, (t, history.new_customers[t, 0], remaining * pi)

    # the whole path against the deterministic recursion
    share, var = bass_recursion(P, Q, HORIZON, N)
    got = adopters / N
    assert np.all(np.abs(got - share) <= Z * np.sqrt(var) + 1e-12), (got, share, np.sqrt(var))
    assert got[HORIZON // 3] > 0.2 and got[-1] > 0.9  # the S-curve is actually traversed


def test_advertising_alone_reaches_one_minus_exp_budget_per_step(monopoly, run_model):
    """q = 0: F_t = 1 - (1 - p)^t, the pure-innovation limit (binomial SE at each step)."""
    budget = -math.log(1 - 0.05) * N * REACH_COST  # p = 0.05
    cfg = monopoly(N, 20, initial_share=0.0, initial_awareness=0.0)
    cfg.firms["solo"].marketing.budget = budget
    cfg.firms["solo"].marketing.reach_cost = REACH_COST
    history = run_model(cfg)
    expected = 1 - (1 - 0.05) ** np.arange(21)
    se = np.sqrt(expected * (1 - expected) / N)
    got = history.customers[:, 0] / N
    assert np.all(np.abs(got - expected) <= Z * se + 1e-12), (got, expected)
