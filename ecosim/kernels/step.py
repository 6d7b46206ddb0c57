"""One step for every customer: lifecycle, needs and choices, and the accounting of the step.

The phases of DESIGN §2.4 steps 3, 4 and 6 are fused into one pass over each customer's row of
state, so the state is read from memory once per step. Each phase is its own inlined helper
(``lifecycle``, ``choice``); this module holds only the bookkeeping between them.

Conventions:
    * A customer is a firm's customer at the end of a step when they use at least one of its
      offerings; they are *new* in the step if they were not at the start, *churned* if they were
      and are not any more (changes inside a step are not breaks).
    * ``since[i, k]`` is the step at which the customer became, without a break, a customer of the
      firm providing need k: their cohort with that firm.
    * A relationship ended by the lifecycle is not re-chosen in the same step.

Notes:
    ``_step_customers`` is jitted and parallel over fixed blocks of customers (see
    ``accounting``), so totals are identical for any thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ecosim.kernels.accounting import (
    BLOCK,
    C_ALIVE,
    C_CONTRIBUTION,
    F_CHURNED,
    F_CUSTOMERS,
    F_NEW,
    F_WALLET,
    FK_CHURNED,
    FK_CUSTOMERS,
    FK_GROSS_MARGIN,
    FK_LOSSES,
    FK_NEW,
    FK_PURCHASES,
    FK_REVENUE,
    SF_CUSTOMERS,
    SF_REVENUE,
    SF_WALLET,
)
from ecosim.kernels.choice import OUTSIDE, _choose_provider
from ecosim.kernels.distributions import draw
from ecosim.kernels.lifecycle import (
    CONTRACTUAL,
    MAX_PURCHASES,
    _drops_out,
    _next_purchase_time,
    _purchase_count,
    _relationship_ends,
)
from ecosim.kernels.population import DEAD, HAS_NEED, INCOME_SCALE, OPENNESS, PURCHASED
from ecosim.kernels.rng import STREAM_NEED, STREAM_OCCURRENCE, STREAM_OPEN, uniform

# Transaction log columns (float64 rows): customer, time, need, firm, amount, contribution.
TX_CUSTOMER, TX_TIME, TX_NEED, TX_FIRM, TX_AMOUNT, TX_MARGIN = range(6)
N_TX = 6


@njit(inline="always", cache=True)
def _bit(f):
    return np.uint64(1) << np.uint64(f)


@njit(parallel=True, cache=True)
def _step_customers(key, step, lifecycle_kind, traits, life, segment,
                    occurrence, basket_dist, basket_p, habit_gain,
                    available, price, log_price, quality, convenience, experience, margin_rate,
                    loss_rate, brand,
                    provider, habit, since, flags, aware, customer_of,
                    fk, f_ledger, sf, cohort, tx, tx_count, capped):
    """Advance every customer by one step and fill the per-block ledgers.

    Args:
        key: replication key; step: current step (>= 1).
        lifecycle_kind: ``lifecycle.CONTRACTUAL`` or ``NONCONTRACTUAL``.
        traits: (N, 8) float32 traits; life: (N, 2) float32 lifecycle draws (hazard or purchase
            rate per step, dropout probability); segment: (N,) segment index.
        occurrence: (K,) probability per step that a need arises (contractual).
        basket_dist, basket_p: (K,) family codes and (K, 2) parameters of spend per occurrence
            at price index 1 (currency), before the income multiplier.
        habit_gain: share of the gap to a full habit closed per kept purchase (experience 1).
        available: (F, K) bool, firm f is in the market and offers need k.
        price, log_price, quality, convenience, experience, margin_rate, loss_rate: (F, K) offer
            arrays; ``loss_rate`` is the share of spend lost to defaults.
        brand: (F, K) brand index (< 64) of each offering.
        provider, habit, since, flags: (N, K) state per customer-need, updated in place.
        aware, customer_of: (N,) uint64 bitmasks of known and used firms, updated in place.
        fk, f_ledger, sf, cohort: per-block ledgers (``accounting.Ledgers``), zeroed by caller.
        tx: (blocks, capacity, 6) transaction rows, or capacity 0 for no log; tx_count: (blocks,).
        capped: (blocks,) set to 1 where a cap bound (purchases per step or log capacity).
    """
    n, n_needs = provider.shape
    n_firms = available.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    tx_capacity = tx.shape[1]
    for b in prange(n_blocks):
        firm_since = np.zeros(n_firms, np.int64)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            row = traits[i]
            s = segment[i]
            start_mask = customer_of[i]
            known = aware[i]
            brands_used = np.uint64(0)
            for k in range(n_needs):
                p = provider[i, k]
                if p >= 0:
                    firm_since[p] = since[i, k]
                    brands_used |= _bit(brand[p, k])
            wallet = 0.0
            end_mask = np.uint64(0)
            for k in range(n_needs):
                if not (flags[i, k] & HAS_NEED):
                    continue
                p0 = provider[i, k]
                current = p0
                if current >= 0 and not available[current, k]:
                    current = OUTSIDE  # the firm left the market or dropped the offering
                    habit[i, k] = 0.0
                if lifecycle_kind == CONTRACTUAL:
                    n_purchases = 0
                    if current >= 0 and _relationship_ends(key, step, i, k, life[i, 0]):
                        current = OUTSIDE
                        habit[i, k] = 0.0
                    elif uniform(key, STREAM_OCCURRENCE, step, i, k) < occurrence[k]:
                        n_purchases = 1
                else:
                    n_purchases = 0
                    if not (flags[i, k] & DEAD):
                        n_purchases = _purchase_count(key, step, i, k, life[i, 0])
                        if n_purchases == MAX_PURCHASES:
                            capped[b] = 1
                basket = 0.0
                if n_purchases > 0:
                    basket = draw(basket_dist[k], basket_p[k, 0], basket_p[k, 1], key,
                                  STREAM_NEED, 0, i, k) * row[INCOME_SCALE]
                t_in_step = 0.0
                for j in range(n_purchases):
                    consider_all = current < 0 or uniform(key, STREAM_OPEN, step, i,
                                                          k * 64 + j) < row[OPENNESS]
                    chosen = _choose_provider(key, step, i, k, j, current, habit[i, k],
                                              consider_all, known, brands_used, row, available,
                                              quality, log_price, convenience, brand)
                    if chosen == current and chosen >= 0:
                        h = habit[i, k]
                        habit[i, k] = min(1.0, h + habit_gain * experience[chosen, k] * (1.0 - h))
                    elif chosen >= 0:
                        habit[i, k] = 0.0
                        if start_mask & _bit(chosen):
                            since[i, k] = firm_since[chosen]
                        else:
                            since[i, k] = step
                            firm_since[chosen] = step
                        known |= _bit(chosen)
                        brands_used |= _bit(brand[chosen, k])
                    else:
                        habit[i, k] = 0.0
                    current = chosen
                    wallet += basket
                    sf[b, SF_WALLET, s, n_firms] += basket
                    if chosen >= 0:
                        spend = basket * price[chosen, k]
                        gross = spend * margin_rate[chosen, k]
                        loss = spend * loss_rate[chosen, k]
                        fk[b, FK_REVENUE, chosen, k] += spend
                        fk[b, FK_GROSS_MARGIN, chosen, k] += gross
                        fk[b, FK_LOSSES, chosen, k] += loss
                        fk[b, FK_PURCHASES, chosen, k] += 1.0
                        sf[b, SF_REVENUE, s, chosen] += spend
                        cohort[b, C_CONTRIBUTION, chosen, since[i, k]] += gross - loss
                        if tx_capacity > 0:
                            t_in_step = _next_purchase_time(key, step, i, k, j, n_purchases,
                                                            t_in_step)
                            c = tx_count[b]
                            if c < tx_capacity:
                                tx[b, c, 0] = i
                                tx[b, c, 1] = step - 1 + t_in_step
                                tx[b, c, 2] = k
                                tx[b, c, 3] = chosen
                                tx[b, c, 4] = spend
                                tx[b, c, 5] = gross - loss
                                tx_count[b] = c + 1
                            else:
                                capped[b] = 1
                    if lifecycle_kind != CONTRACTUAL:
                        if flags[i, k] & PURCHASED:
                            if _drops_out(key, step, i, k, j, life[i, 1]):
                                flags[i, k] |= DEAD
                                current = OUTSIDE
                                habit[i, k] = 0.0
                                break
                        else:
                            flags[i, k] |= PURCHASED
                provider[i, k] = current
                if current != p0:
                    if p0 >= 0:
                        fk[b, FK_CHURNED, p0, k] += 1.0
                    if current >= 0:
                        fk[b, FK_NEW, current, k] += 1.0
                if current >= 0:
                    fk[b, FK_CUSTOMERS, current, k] += 1.0
                    end_mask |= _bit(current)
            aware[i] = known
            customer_of[i] = end_mask
            sf[b, SF_CUSTOMERS, s, n_firms] += 1.0
            for f in range(n_firms):
                bit = _bit(f)
                if end_mask & bit:
                    f_ledger[b, F_CUSTOMERS, f] += 1.0
                    f_ledger[b, F_WALLET, f] += wallet
                    sf[b, SF_CUSTOMERS, s, f] += 1.0
                    if start_mask & bit:
                        cohort[b, C_ALIVE, f, firm_since[f]] += 1.0
                    else:
                        f_ledger[b, F_NEW, f] += 1.0
                        cohort[b, C_ALIVE, f, step] += 1.0
                elif start_mask & bit:
                    f_ledger[b, F_CHURNED, f] += 1.0
