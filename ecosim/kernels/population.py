"""Sampling the customer population and its state at step 0.

Notes:
    ``_sample_customers`` and ``_initial_state`` are jitted range kernels run on Numba's thread
    count (``threads.run_ranges``); every draw is keyed by the customer index, so the population
    does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from ecosim.kernels.distributions import draw_at
from ecosim.kernels.rng import (
    STREAM_INITIAL,
    STREAM_PREVALENCE,
    STREAM_RISK,
    STREAM_SOCIODEMO,
    STREAM_TRAITS,
    customer_key,
    normal_stream_key,
    stream_key,
    uniform_at,
)

#: Column of each trait in the ``traits`` array (float32, one row per customer).
PRICE_SENS, CONV_SENS, BRAND_AFF, HABIT_STR, OPENNESS, SOCIAL, SWITCH_COST, INCOME_SCALE = range(8)
N_TRAITS = 8
#: Bits of the per customer-need ``flags``.
HAS_NEED, DEAD, PURCHASED, FAILED = np.uint8(1), np.uint8(2), np.uint8(4), np.uint8(8)
#: ``flags & NOT_FAILED`` clears ``FAILED`` (a service failure waiting to trigger a search).
NOT_FAILED = np.uint8(0xF7)
#: Slots reserved per customer for draws that index firms (the most firms a market may have).
MAX_INDEX = 64


@njit(inline="always", cache=True)
def _pick(cum, u):
    """Index of the first cumulative weight above ``u`` (``len(cum)`` if none)."""
    for j in range(cum.shape[0]):
        if u < cum[j]:
            return j
    return cum.shape[0]


@njit(nogil=True, cache=True)
def _sample_customers(first, last, key, segment_cum, factor_dist, factor_p, switch_dist, switch_p,
                      life_dist, life_p, seg_age_band, seg_income_band, informativeness,
                      n_age_bands, income_scale, prevalence, need_id, segment, age_band,
                      income_band, traits, life, flags):
    """Draw each customer's segment, factors, socio-demographics, lifecycle and needs.

    Args:
        first, last: the customers ``first .. last - 1`` (``threads.run_ranges``).
        key: replication key (``rng.run_key``).
        segment_cum: (S,) cumulative segment weights, last = 1.
        factor_dist, factor_p: (S, 6) family codes and (S, 6, 2) parameters of the six factors.
        switch_dist, switch_p: switching-cost family code and (2,) parameters.
        life_dist, life_p: (2,) family codes and (2, 2) parameters of the lifecycle draws
            (contractual: hazard, unused; noncontractual: purchase rate, dropout).
        seg_age_band, seg_income_band: (S,) typical bands of each segment.
        informativeness: probability that a band is the segment's typical one.
        n_age_bands: number of age bands.
        income_scale: (B,) basket multiplier per income band.
        prevalence: (K,) share of customers having each need.
        need_id: (K,) stable id of each need (keys its draws; see ``state.need_ids``).
        segment, age_band, income_band, traits, life, flags: outputs, one row per customer.
    """
    n_segments = segment_cum.shape[0]
    n_income = income_scale.shape[0]
    # the streams' keys, then each customer's (rng.customer_key): one round of the mixer a draw
    traits_key = stream_key(key, STREAM_TRAITS, 0)
    traits_normal_key = normal_stream_key(key, STREAM_TRAITS, 0)
    sociodemo_key = stream_key(key, STREAM_SOCIODEMO, 0)
    prevalence_key = stream_key(key, STREAM_PREVALENCE, 0)
    for i in range(first, last):
        uk = customer_key(traits_key, i)
        nk = customer_key(traits_normal_key, i)
        s = min(_pick(segment_cum, uniform_at(uk, 0)), n_segments - 1)
        segment[i] = s
        for j in range(6):
            traits[i, j] = draw_at(factor_dist[s, j], factor_p[s, j, 0], factor_p[s, j, 1], uk,
                                   nk, 1 + j)
        traits[i, OPENNESS] = min(max(traits[i, OPENNESS], 0.0), 1.0)
        traits[i, SOCIAL] = min(max(traits[i, SOCIAL], 0.0), 1.0)
        traits[i, SWITCH_COST] = draw_at(switch_dist, switch_p[0], switch_p[1], uk, nk, 7)
        for j in range(2):
            life[i, j] = draw_at(life_dist[j], life_p[j, 0], life_p[j, 1], uk, nk, 8 + j)
        sk = customer_key(sociodemo_key, i)
        if uniform_at(sk, 0) < informativeness:
            age_band[i] = seg_age_band[s]
        else:
            age_band[i] = min(int(uniform_at(sk, 1) * n_age_bands), n_age_bands - 1)
        if uniform_at(sk, 2) < informativeness:
            income_band[i] = seg_income_band[s]
        else:
            income_band[i] = min(int(uniform_at(sk, 3) * n_income), n_income - 1)
        traits[i, INCOME_SCALE] = income_scale[income_band[i]]
        pk = customer_key(prevalence_key, i)
        for k in range(prevalence.shape[0]):
            flags[i, k] = HAS_NEED if uniform_at(pk, need_id[k]) < prevalence[k] \
                else np.uint8(0)


@njit(nogil=True, cache=True)
def _initial_state(first, last, key, initial_awareness, share_cum, offered, unit, initial_habit,
                   need_id, trial_made, flags, provider, habit, since, aware, customer_of, unit_of):
    """Step-0 awareness and providers.

    Args:
        first, last: the customers ``first .. last - 1`` (``threads.run_ranges``).
        key: replication key.
        initial_awareness: (U,) share of customers who know each awareness unit (brand or firm).
        share_cum: (K, F) cumulative initial shares of the firms in each need (last <= 1).
        offered: (F, K) whether firm f offers need k.
        unit: (F, K) the awareness unit of each offering.
        initial_habit: habit in [0, 1] of the relationships that exist at step 0.
        need_id: (K,) stable id of each need.
        trial_made: mark step-0 relationships ``PURCHASED`` (non-contractual: their trial
            purchase was at t = 0, so dropout follows every purchase of the run).
        flags, provider, habit, since, aware, customer_of, unit_of: the state arrays, written in
            place.
    """
    n_needs = provider.shape[1]
    n_firms = offered.shape[0]
    n_units = initial_awareness.shape[0]
    initial_key = stream_key(key, STREAM_INITIAL, 0)
    for i in range(first, last):
        ik = customer_key(initial_key, i)
        known = np.uint64(0)
        using = np.uint64(0)
        units = np.uint64(0)
        for u in range(n_units):
            if uniform_at(ik, u) < initial_awareness[u]:
                known |= np.uint64(1) << np.uint64(u)
        for k in range(n_needs):
            provider[i, k] = -1
            habit[i, k] = 0.0
            since[i, k] = 0
            if flags[i, k] & HAS_NEED:
                f = _pick(share_cum[k], uniform_at(ik, MAX_INDEX + need_id[k]))
                if f < n_firms and offered[f, k]:
                    provider[i, k] = f
                    if trial_made:
                        flags[i, k] |= PURCHASED
                    habit[i, k] = initial_habit
                    using |= np.uint64(1) << np.uint64(f)
                    units |= np.uint64(1) << np.uint64(unit[f, k])
        aware[i] = known | units
        customer_of[i] = using
        unit_of[i] = units


@njit(nogil=True, cache=True)
def _update_prevalence(first, last, key, prevalence, need_id, trending, flags):
    """Who has each trending need at this step's prevalence, in place on ``flags``.

    A customer has need k when their fixed draw (the one ``_sample_customers`` used) is below
    ``prevalence[k]``, so a rising prevalence adds customers and a falling one removes them,
    the same ones in every arm. Only needs with ``trending[k]`` are touched.
    """
    n_needs = flags.shape[1]
    prevalence_key = stream_key(key, STREAM_PREVALENCE, 0)
    for i in range(first, last):
        pk = customer_key(prevalence_key, i)
        for k in range(n_needs):
            if trending[k]:
                if uniform_at(pk, need_id[k]) < prevalence[k]:
                    flags[i, k] |= HAS_NEED
                else:
                    flags[i, k] &= np.uint8(0xFE)


@njit(nogil=True, cache=True)
def _true_risks(first, last, key, code, p1, p2, out):
    """Each customer's true relative risk, as the step kernel draws it (``step._true_risk``)."""
    risk_key = stream_key(key, STREAM_RISK, 0)
    risk_normal_key = normal_stream_key(key, STREAM_RISK, 0)
    for i in range(first, last):
        out[i] = draw_at(code, p1, p2, customer_key(risk_key, i),
                         customer_key(risk_normal_key, i), 0)


@njit(nogil=True, cache=True)
def _customer_counts(provider, segment, unit_counts, segment_counts):
    """Who uses whom, counted in one pass (step 0's history), added into the two arrays.

    Args:
        provider: (N, K) int8 provider of each customer-need (-1 none).
        segment: (N,) segment of each customer.
        unit_counts: (F, K) customers using each firm for each need.
        segment_counts: (S, F + 1) customers of each segment using each firm for some need;
            column F counts every customer of the segment.
    """
    n_firms = unit_counts.shape[0]
    for i in range(provider.shape[0]):
        s = segment[i]
        using = np.uint64(0)
        for k in range(provider.shape[1]):
            p = provider[i, k]
            if p >= 0:
                unit_counts[p, k] += 1
                using |= np.uint64(1) << np.uint64(p)
        segment_counts[s, n_firms] += 1
        while using:  # the firms used, as set bits
            segment_counts[s, trailing_zeros(using)] += 1
            using &= using - np.uint64(1)
