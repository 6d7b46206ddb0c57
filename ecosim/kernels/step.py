"""One step for every customer: lifecycle, needs and choices, cross-sell, and the accounting.

The phases of DESIGN §2.4 steps 3 to 6 are fused into one pass over each customer's row of state,
so the state is read from memory once per step. Each rule lives in its own inlined helper
(``lifecycle``, ``choice``, ``business``); this module holds the bookkeeping between them.

Conventions:
    * A customer is a firm's customer at the end of a step when they use at least one of its
      offerings; they are *new* in the step if they were not at the start, *churned* if they were
      and are not any more (changes inside a step are not breaks).
    * ``since[i, k]`` is the step at which the customer became, without a break, a customer of the
      firm providing need k: their cohort with that firm.
    * A relationship ended by the lifecycle is not re-chosen in the same step.
    * A cross-sell contact is a forced consideration of one offer against the status quo; winning
      it makes the firm the provider of that need (spending follows when the need arises).

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
    CELL_CONTACTS,
    CELL_CONVERSIONS,
    F_CHURNED,
    F_CUSTOMERS,
    F_NEW,
    F_PARTNER_INCOME,
    F_REFERRAL_JOINS,
    F_WALLET,
    FK_CHURNED,
    FK_CONTACTS,
    FK_CONVERSIONS,
    FK_CUSTOMERS,
    FK_GROSS_MARGIN,
    FK_LOSSES,
    FK_NEW,
    FK_PARTNER_FEES,
    FK_PURCHASES,
    FK_REVENUE,
    SF_CUSTOMERS,
    SF_REVENUE,
    SF_WALLET,
)
from ecosim.kernels.business import (
    CONTACTS_PER_STEP,
    CONTEXT_REACH,
    ENTRY_BONUS,
    GROUP,
    INCENTIVE,
    ORGANISATION,
    PARTNER_FEE,
    TARGET_BEHAVIOURAL,
    TARGET_SOCIODEMOGRAPHIC,
    TARGETING,
    VALUE_STREAM,
    _bundle_price_factor,
    _bundle_saving,
    _bundle_utility,
    _in_bundle,
    _pooled_loss_factor,
)
from ecosim.kernels.choice import OUTSIDE, _choose_provider, _utility
from ecosim.kernels.distributions import draw
from ecosim.kernels.lifecycle import (
    CONTRACTUAL,
    MAX_PURCHASES,
    _drops_out,
    _next_purchase_time,
    _purchase_count,
    _relationship_ends,
)
from ecosim.kernels.population import (
    CONV_SENS,
    DEAD,
    HAS_NEED,
    INCOME_SCALE,
    OPENNESS,
    PRICE_SENS,
    PURCHASED,
)
from ecosim.kernels.rng import STREAM_NEED, STREAM_OCCURRENCE, STREAM_OPEN, STREAM_POLICY, uniform

# Transaction log columns (float64 rows): customer, time, need, firm, amount, contribution.
TX_CUSTOMER, TX_TIME, TX_NEED, TX_FIRM, TX_AMOUNT, TX_MARGIN = range(6)
N_TX = 6
# Behaviour parameters shared by all customers (``behaviour`` array).
(HABIT_GAIN, FATIGUE_PER_CONTACT, FATIGUE_DECAY, FATIGUE_OPENNESS, FATIGUE_ANNOYANCE,
 PRICE_ALERT) = range(6)
N_BEHAVIOUR = 6
# Draw indices of cross-sell contacts, after those of purchases (< MAX_PURCHASES).
_CONTACT_DRAW = 48
_CONTEXT_SLOT = 1 << 16


@njit(inline="always", cache=True)
def _bit(f):
    return np.uint64(1) << np.uint64(f)


@njit(inline="always", cache=True)
def _cell(firm_int, f, segment, age_band, income_band, n_income):
    """Targeting cell of a customer as firm f sees them."""
    targeting = firm_int[f, TARGETING]
    if targeting == TARGET_BEHAVIOURAL:
        return segment
    if targeting == TARGET_SOCIODEMOGRAPHIC:
        return age_band * n_income + income_band
    return 0


@njit(inline="always", cache=True)
def _extra_utility(extra, firm_real, firm_int, bundle_mask, bundle_saving, held, group_count,
                   current, k, trial_firm, row, candidates, model_firms):
    """Business-model utility of each candidate firm for need k, into ``extra``.

    ``model_firms``: bitmask of the firms that bundle k or belong to an ecosystem group; the
    bundle and entry-bonus rules give the others exactly 0, so they are not evaluated for them.
    """
    f = 0
    mask = candidates
    while mask:
        if mask & np.uint64(1):
            u = 0.0
            if model_firms & _bit(f):
                u = _bundle_utility(bundle_saving, firm_int, bundle_mask,
                                    held[f] - (1 if f == current and _in_bundle(bundle_mask, f, k)
                                               else 0), f, k, row[PRICE_SENS])
                g = firm_int[f, GROUP]
                if g >= 0:
                    others = group_count[g] - (1 if current >= 0
                                               and firm_int[current, GROUP] == g else 0)
                    if others > 0:
                        u += row[CONV_SENS] * firm_real[g, ENTRY_BONUS]
            if f == trial_firm:
                u += firm_real[f, INCENTIVE]
            extra[f] = u
        mask >>= np.uint64(1)
        f += 1


@njit(inline="always", cache=True)
def _contextual_offers(key, step, i, k, j, firm_real, firm_int, group_count, current, pending):
    """Bitmask of the ecosystem offers for need k that fire in context for this occurrence.

    ``pending``: the firms with a contextual offer for k (an ecosystem group with a positive
    reach, offering k) that are not already considered. Each draw is keyed by its coordinates,
    so leaving out the firms already considered (firing would add nothing) changes no draw.
    """
    fired = np.uint64(0)
    f = 0
    while pending:
        if pending & np.uint64(1):
            g = firm_int[f, GROUP]
            others = group_count[g] - (1 if current >= 0 and firm_int[current, GROUP] == g
                                       else 0)
            if others > 0 and uniform(key, STREAM_POLICY, step, i,
                                      _CONTEXT_SLOT + (k * 64 + j) * 64 + f) < firm_real[
                                          g, CONTEXT_REACH]:
                fired |= _bit(f)
        pending >>= np.uint64(1)
        f += 1
    return fired


@njit(inline="always", cache=True)
def _move(provider, habit, since, held, group_count, firm_since, start_mask, firm_int,
          bundle_mask, step, i, k, old, new):
    """Change the provider of need k from ``old`` to ``new`` (either may be OUTSIDE)."""
    if old >= 0:
        held[old] -= _in_bundle(bundle_mask, old, k)
        if firm_int[old, GROUP] >= 0:
            group_count[firm_int[old, GROUP]] -= 1
    habit[i, k] = 0.0
    provider[i, k] = new
    if new >= 0:
        held[new] += _in_bundle(bundle_mask, new, k)
        if firm_int[new, GROUP] >= 0:
            group_count[firm_int[new, GROUP]] += 1
        if not (start_mask & _bit(new)):  # a new customer of the firm: cohort = this step
            firm_since[new] = step
        since[i, k] = firm_since[new]


@njit(parallel=True, cache=True)
def _step_customers(key, step, lifecycle_kind, traits, life, segment, age_band, income_band,
                    n_income, occurrence, basket_dist, basket_p, behaviour,
                    available, price, log_price, quality, convenience, experience, margin_rate,
                    loss_rate, brand, price_rise, firm_real, firm_int, bundle_mask, contact_p,
                    provider, habit, since, flags, aware, customer_of, fatigue, trial,
                    fk, f_ledger, sf, cohort, cells, tx, tx_count, capped):
    """Advance every customer by one step and fill the per-block ledgers.

    Args:
        key: replication key; step: current step (>= 1).
        lifecycle_kind: ``lifecycle.CONTRACTUAL`` or ``NONCONTRACTUAL``.
        traits: (N, 8) float32 traits; life: (N, 2) float32 lifecycle draws (hazard or purchase
            rate per step, dropout probability).
        segment, age_band, income_band: (N,) uint8 segment and socio-demographic bands;
            n_income: number of income bands.
        occurrence: (K,) probability per step that a need arises (contractual).
        basket_dist, basket_p: (K,) family codes and (K, 2) parameters of spend per occurrence
            at price index 1 (currency), before the income multiplier.
        behaviour: (6,) habit gain, fatigue per contact, fatigue decay, openness per unit of
            fatigue, utility lost per unit of fatigue by a contacted offer, openness per unit of
            ln price rise.
        available, price, log_price, quality, convenience, experience, margin_rate, loss_rate,
            brand, price_rise: (F, K) offers; ``available`` = firm active and offering the need;
            ``loss_rate`` share of spend lost to defaults; ``price_rise`` = max(0, change of
            ln price this step).
        firm_real, firm_int, bundle_mask: business models and policies (``business``).
        contact_p: (F, C) cross-sell contact probability per customer of each targeting cell.
        provider, habit, since, flags: (N, K) state per customer-need, updated in place.
        aware, customer_of: (N,) uint64 bitmasks of known and used firms, updated in place.
        fatigue: (N,) float32 contact fatigue; trial: (N,) int8 firm that referred the customer
            this step (-1 none), reset here.
        fk, f_ledger, sf, cohort, cells: per-block ledgers (``accounting.Ledgers``), zeroed.
        tx: (blocks, capacity, 6) transaction rows, or capacity 0 for no log; tx_count: (blocks,).
        capped: (blocks,) set to 1 where a cap bound (purchases per step or log capacity).
    """
    n, n_needs = provider.shape
    n_firms = available.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    tx_capacity = tx.shape[1]
    habit_gain = behaviour[HABIT_GAIN]
    # Rules that are off for every firm this step are skipped below (same results, less work):
    # contextual offers, and business-model utility (then zero for every firm but a referrer).
    context_on = False
    plain = True
    for f in range(n_firms):
        g = firm_int[f, GROUP]
        if g >= 0:
            plain = False
            if firm_real[g, CONTEXT_REACH] > 0.0:
                context_on = True
        if bundle_mask[f] != 0:
            plain = False
    offered = np.zeros(n_needs, np.uint64)  # bitmask of the firms offering need k this step
    context_firms = np.zeros(n_needs, np.uint64)  # ... with a contextual offer for k
    model_firms = np.zeros(n_needs, np.uint64)  # ... bundling k or in an ecosystem group
    for k in range(n_needs):
        for f in range(n_firms):
            g = firm_int[f, GROUP]
            if available[f, k]:
                offered[k] |= _bit(f)
                if g >= 0 and firm_real[g, CONTEXT_REACH] > 0.0:
                    context_firms[k] |= _bit(f)
            if g >= 0 or _in_bundle(bundle_mask, f, k):
                model_firms[k] |= _bit(f)
    bundle_saving = np.empty(n_firms)  # -ln(1 - discount) of each firm's bundle
    for f in range(n_firms):
        bundle_saving[f] = _bundle_saving(firm_real, f)
    for b in prange(n_blocks):
        firm_since = np.zeros(n_firms, np.int64)
        held = np.zeros(n_firms, np.int64)
        group_count = np.zeros(n_firms, np.int64)
        extra = np.zeros(n_firms)
        start_provider = np.zeros(n_needs, np.int64)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            row = traits[i]
            s = segment[i]
            start_mask = customer_of[i]
            known = aware[i]
            trial_firm = trial[i]
            fat = fatigue[i] * (1.0 - behaviour[FATIGUE_DECAY])
            base_open = row[OPENNESS] + behaviour[FATIGUE_OPENNESS] * fat
            brands_used = np.uint64(0)
            held[:] = 0
            group_count[:] = 0
            if plain:
                extra[:] = 0.0  # what _extra_utility would write for every firm but a referrer
            n_held_needs = 0
            for k in range(n_needs):
                p = provider[i, k]
                start_provider[k] = p
                if flags[i, k] & HAS_NEED and not flags[i, k] & DEAD:
                    n_held_needs += 1
                if p >= 0:
                    firm_since[p] = since[i, k]
                    brands_used |= _bit(brand[p, k])
                    held[p] += _in_bundle(bundle_mask, p, k)
                    if firm_int[p, GROUP] >= 0:
                        group_count[firm_int[p, GROUP]] += 1
            wallet = 0.0
            for k in range(n_needs):
                if not (flags[i, k] & HAS_NEED):
                    continue
                current = provider[i, k]
                if current >= 0 and not available[current, k]:
                    # the firm left the market or dropped the offering
                    _move(provider, habit, since, held, group_count, firm_since, start_mask,
                          firm_int, bundle_mask, step, i, k, current, OUTSIDE)
                    current = OUTSIDE
                n_purchases = 0
                if lifecycle_kind == CONTRACTUAL:
                    if current >= 0 and _relationship_ends(key, step, i, k, life[i, 0]):
                        _move(provider, habit, since, held, group_count, firm_since, start_mask,
                              firm_int, bundle_mask, step, i, k, current, OUTSIDE)
                        current = OUTSIDE
                    elif uniform(key, STREAM_OCCURRENCE, step, i, k) < occurrence[k]:
                        n_purchases = 1
                elif not (flags[i, k] & DEAD):
                    n_purchases = _purchase_count(key, step, i, k, life[i, 0])
                    if n_purchases == MAX_PURCHASES:
                        capped[b] = 1
                basket = 0.0
                if n_purchases > 0:
                    basket = draw(basket_dist[k], basket_p[k, 0], basket_p[k, 1], key,
                                  STREAM_NEED, 0, i, k) * row[INCOME_SCALE]
                openness = base_open
                if current >= 0:
                    openness += behaviour[PRICE_ALERT] * price_rise[current, k]
                t_in_step = 0.0
                for j in range(n_purchases):
                    candidates = np.uint64(0)
                    if current >= 0:
                        candidates |= _bit(current)
                    if current < 0 or uniform(key, STREAM_OPEN, step, i, k * 64 + j) < openness:
                        candidates |= known
                    if context_on:
                        candidates |= _contextual_offers(key, step, i, k, j, firm_real,
                                                         firm_int, group_count, current,
                                                         context_firms[k] & ~candidates)
                    if trial_firm >= 0:
                        candidates |= _bit(trial_firm)
                    candidates &= offered[k]  # only firms offering k in the market
                    if not plain or trial_firm >= 0:
                        _extra_utility(extra, firm_real, firm_int, bundle_mask, bundle_saving,
                                       held, group_count, current, k, trial_firm, row,
                                       candidates, model_firms[k])
                    chosen = _choose_provider(key, step, i, k, j, current, habit[i, k],
                                              candidates, extra, brands_used, row, quality,
                                              log_price, convenience, brand)
                    if chosen == current and chosen >= 0:
                        h = habit[i, k]
                        habit[i, k] = min(1.0, h + habit_gain * experience[chosen, k] * (1.0 - h))
                    elif chosen != current:
                        _move(provider, habit, since, held, group_count, firm_since, start_mask,
                              firm_int, bundle_mask, step, i, k, current, chosen)
                        if chosen >= 0:
                            known |= _bit(chosen)
                            brands_used |= _bit(brand[chosen, k])
                    current = chosen
                    wallet += basket
                    sf[b, SF_WALLET, s, n_firms] += basket
                    if tx_capacity > 0:
                        # every purchase advances the clock of the step, whoever sells it: the
                        # times are sequential order statistics of all n_purchases
                        t_in_step = _next_purchase_time(key, step, i, k, j, n_purchases,
                                                        t_in_step)
                    if chosen >= 0:
                        spend = basket * price[chosen, k] * _bundle_price_factor(
                            firm_real, firm_int, bundle_mask, held[chosen], chosen, k)
                        gross = spend * margin_rate[chosen, k]
                        loss = spend * loss_rate[chosen, k] * _pooled_loss_factor(
                            firm_real, firm_int, group_count, chosen, n_held_needs)
                        fee = spend * firm_real[chosen, PARTNER_FEE]
                        fk[b, FK_REVENUE, chosen, k] += spend
                        fk[b, FK_GROSS_MARGIN, chosen, k] += gross
                        fk[b, FK_LOSSES, chosen, k] += loss
                        fk[b, FK_PURCHASES, chosen, k] += 1.0
                        if fee > 0.0:
                            fk[b, FK_PARTNER_FEES, chosen, k] += fee
                            f_ledger[b, F_PARTNER_INCOME, firm_int[chosen, GROUP]] += fee
                        sf[b, SF_REVENUE, s, chosen] += spend
                        cohort[b, C_CONTRIBUTION, chosen, since[i, k]] += gross - loss - fee
                        if tx_capacity > 0:
                            c = tx_count[b]
                            if c < tx_capacity:
                                tx[b, c, 0] = i
                                tx[b, c, 1] = step - 1 + t_in_step
                                tx[b, c, 2] = k
                                tx[b, c, 3] = chosen
                                tx[b, c, 4] = spend
                                tx[b, c, 5] = gross - loss - fee
                                tx_count[b] = c + 1
                            else:
                                capped[b] = 1
                    if lifecycle_kind != CONTRACTUAL:
                        if flags[i, k] & PURCHASED:
                            if _drops_out(key, step, i, k, j, life[i, 1]):
                                flags[i, k] |= DEAD
                                _move(provider, habit, since, held, group_count, firm_since,
                                      start_mask, firm_int, bundle_mask, step, i, k, current,
                                      OUTSIDE)
                                current = OUTSIDE
                                break
                        else:
                            flags[i, k] |= PURCHASED

            # Cross-sell (DESIGN §2.4 step 5): each firm contacts its own customers.
            for f in range(n_firms):
                rate = firm_real[f, CONTACTS_PER_STEP]
                if rate <= 0.0:
                    continue
                is_customer = False
                for k in range(n_needs):
                    if provider[i, k] == f:
                        is_customer = True
                        break
                if not is_customer:
                    continue
                cell = _cell(firm_int, f, s, age_band[i], income_band[i], n_income)
                p_contact = contact_p[f, cell]
                value_stream = firm_int[f, ORGANISATION] == VALUE_STREAM
                if value_stream and uniform(key, STREAM_POLICY, step, i, f * 64 + 63) >= p_contact:
                    continue
                best_k = -1
                best_gain = -np.inf
                for k in range(n_needs):
                    current = provider[i, k]
                    if (not available[f, k] or current == f or not (flags[i, k] & HAS_NEED)
                            or flags[i, k] & DEAD):
                        continue
                    if value_stream:  # one coordinated best offer: the largest utility gain
                        gain = _utility(row, f, k, current, 0.0, brands_used, quality, log_price,
                                        convenience, brand)
                        if current >= 0:
                            gain -= _utility(row, current, k, current, habit[i, k], brands_used,
                                             quality, log_price, convenience, brand)
                        if gain > best_gain:
                            best_gain = gain
                            best_k = k
                    elif uniform(key, STREAM_POLICY, step, i, f * 64 + k) < p_contact:
                        _contact(key, step, i, k, f, current, row,
                                 behaviour[FATIGUE_ANNOYANCE] * fat, firm_real, firm_int,
                                 bundle_mask, bundle_saving, model_firms[k], held, group_count,
                                 extra, brands_used, quality, log_price, convenience, brand,
                                 provider, habit, since, firm_since, start_mask, fk, cells, b,
                                 cell)
                        fat += behaviour[FATIGUE_PER_CONTACT]
                if value_stream and best_k >= 0:
                    _contact(key, step, i, best_k, f, provider[i, best_k], row,
                             behaviour[FATIGUE_ANNOYANCE] * fat, firm_real, firm_int,
                             bundle_mask, bundle_saving, model_firms[best_k], held, group_count,
                             extra, brands_used, quality, log_price, convenience, brand,
                             provider, habit, since, firm_since, start_mask, fk, cells, b, cell)
                    fat += behaviour[FATIGUE_PER_CONTACT]

            # Accounting of the step's end state.
            end_mask = np.uint64(0)
            for k in range(n_needs):
                p0 = start_provider[k]
                current = provider[i, k]
                if current != p0:
                    if p0 >= 0:
                        fk[b, FK_CHURNED, p0, k] += 1.0
                    if current >= 0:
                        fk[b, FK_NEW, current, k] += 1.0
                if current >= 0:
                    fk[b, FK_CUSTOMERS, current, k] += 1.0
                    end_mask |= _bit(current)
                    known |= _bit(current)
            aware[i] = known
            customer_of[i] = end_mask
            fatigue[i] = fat
            trial[i] = -1
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
                        if f == trial_firm:
                            f_ledger[b, F_REFERRAL_JOINS, f] += 1.0
                elif start_mask & bit:
                    f_ledger[b, F_CHURNED, f] += 1.0


@njit(inline="always", cache=True)
def _contact(key, step, i, k, f, current, row, annoyance, firm_real, firm_int, bundle_mask,
             bundle_saving, model_firms_k, held, group_count, extra, brands_used, quality,
             log_price, convenience, brand, provider, habit, since, firm_since, start_mask, fk,
             cells, b, cell):
    """One cross-sell contact of firm f for need k: f's offer against the status quo.

    The status quo is the current provider, or the outside option when there is none. The
    contacted offer loses ``annoyance`` utility (``fatigue.annoyance`` × the customer's fatigue;
    at most 30 arguments: longer calls compile to ``CALL_FUNCTION_EX``, which Numba cannot
    inline). Winning makes f the provider.
    """
    fk[b, FK_CONTACTS, f, k] += 1.0
    cells[b, CELL_CONTACTS, f, cell] += 1.0
    candidates = _bit(f)
    if current >= 0:
        candidates |= _bit(current)
    _extra_utility(extra, firm_real, firm_int, bundle_mask, bundle_saving, held, group_count,
                   current, k, -1, row, candidates, model_firms_k)
    extra[f] -= annoyance
    habit_ik = habit[i, k]
    status_quo = current
    # Binary choice: f against the status quo (the outside option only when unserved).
    chosen = _choose_provider(key, step, i, k, _CONTACT_DRAW + (f % 16), current, habit_ik,
                              candidates, extra, brands_used, row, quality, log_price,
                              convenience, brand)
    if current >= 0 and chosen == OUTSIDE:
        chosen = status_quo
    if chosen == f:
        _move(provider, habit, since, held, group_count, firm_since, start_mask, firm_int,
              bundle_mask, step, i, k, current, f)
        fk[b, FK_CONVERSIONS, f, k] += 1.0
        cells[b, CELL_CONVERSIONS, f, cell] += 1.0
