"""One step for every customer, in phases: trigger, consideration, choice, purchase, lifecycle.

docs/model.md, "Step order", states the rules; each phase below is a small function named after
its section there:

* ``_need_order`` — the order in which a customer's needs arise within the step (random per
  customer and step, so results do not depend on the order needs are declared in);
* ``_lifecycle_ends`` / ``_occasions`` — the lifecycle: a contractual relationship ends with the
  customer's hazard; the need arises (``occurrence``) or, non-contractually, purchases arrive at
  the customer's Poisson rate;
* ``_trigger`` — what makes the customer choose on an occasion, and what they consider: no
  provider or looking around (a full search among known firms and the outside option), a
  contextual ecosystem offer or a referral (the current provider against that offer); with no
  trigger the customer is on autopilot and buys from the current provider, with no choice (the
  only draws are whether the customer looks around and whether a contextual offer fires);
* ``choice._choose_provider`` — the choice among what is considered;
* ``_purchase`` — the spend and its accounting;
* ``_dropout`` — non-contractual dropout after a repeat purchase;
* ``_cross_sell`` / ``_contact`` — cross-sell contacts, each a binary choice between the offered
  unit and the status quo;
* ``_close_books`` — the end-of-step accounting.

Conventions:
    * A customer is a firm's customer at the end of a step when they use at least one of its
      offerings; they are *new* in the step if they were not at the start, *churned* if they were
      and are not any more (changes inside a step are not breaks).
    * ``since[i, k]`` is the step at which the customer became, without a break, a customer of the
      firm providing need k: their cohort with that firm.
    * A relationship ended by the lifecycle is not re-chosen in the same step.

Notes:
    ``_step_customers`` runs ``_step_groups`` on Numba's thread count (``threads``) over fixed
    groups of blocks of customers (see ``accounting``), so totals are identical for any thread
    count.

    Speed and compile time. Numba's IR inlining (``inline="always"``) copies the callee, with
    its whole scope, once per block and at every call site, then types and lowers the result, so
    it is kept for the phases called once (``_need_order``, ``_trigger``, ``_purchase``, the
    choice, the books), and the need's turn is written out in ``_step_block`` itself. Small
    helpers used in many places (``_move``, ``_brands_in_use``, the risk estimate, ``_bit``, the
    random numbers) are ordinary jitted functions, those taking arrays compiled without
    reference counting as ``_step_block`` is; LLVM inlines them into the kernel (no call is left
    in the hot loop). Rare phases (a cross-sell contact, a service failure's experience, a
    dropout, a joint exit) are compiled apart and called. Integer arguments that could be typed
    several ways (a literal, an int8 provider, an unsigned index) are cast to int64, and scalar
    helpers declare their one signature (``jit.scalar``), so that each function is compiled
    once. Random draws of a customer reuse the customer's key of each stream (``CK_*``,
    ``rng.customer_key``): one round of the mixer per draw instead of four, the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.cpython.unsafe.numbers import trailing_zeros

from ecosim.kernels.accounting import (
    BLOCK,
    C_ALIVE,
    C_CONTRIBUTION,
    CELL_CONTACTS,
    CELL_CONVERSIONS,
    CELL_TARGETS,
    F_CAPTURED,
    F_CHURNED,
    F_CHURNED_MULTI,
    F_CHURNED_SINGLE,
    F_CUSTOMERS,
    F_NEW,
    F_PARTNER_INCOME,
    F_REFERRAL_JOINS,
    F_START_MULTI,
    F_START_SINGLE,
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
    SF_CAPTURED,
    SF_CUSTOMERS,
    SF_REVENUE,
    SF_WALLET,
)
from ecosim.kernels.bits import popcount
from ecosim.kernels.business import (
    ACCURACY,
    CONTACT_ATTENTION,
    CONTACTS_PER_STEP,
    CONTEXT_REACH,
    DATA_GAIN,
    ENTRY_BONUS,
    GROUP,
    INCENTIVE,
    MAX_RISK,
    ORGANISATION,
    PARTNER_FEE,
    RISK_PRICING,
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
from ecosim.kernels.distributions import draw_at
from ecosim.kernels.jit import scalar
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
    FAILED,
    HAS_NEED,
    INCOME_SCALE,
    NOT_FAILED,
    OPENNESS,
    PRICE_SENS,
    PURCHASED,
)
from ecosim.kernels.rng import (
    STREAM_ATTENTION,
    STREAM_CHOICE,
    STREAM_CONTACT,
    STREAM_CONTEXT,
    STREAM_LIFECYCLE,
    STREAM_NEED,
    STREAM_OCCURRENCE,
    STREAM_OPEN,
    STREAM_ORDER,
    STREAM_POLICY,
    STREAM_RISK,
    STREAM_SATISFACTION,
    STREAM_TASTE,
    bits_at,
    customer_key,
    normal_at,
    normal_quantile,
    normal_stream_key,
    stream_key,
    uniform,
    uniform_at,
)
from ecosim.kernels.state import (
    FATIGUE_ANNOYANCE,
    FATIGUE_DECAY,
    FATIGUE_OPENNESS,
    FATIGUE_PER_CONTACT,
    HABIT_GAIN,
    JOINT_EXIT,
    PRICE_ALERT,
    RISK_MEAN,
    RISK_ON,
    RISK_SD,
    SAT_ALERT,
    SAT_FAILURE,
    SAT_MEMORY,
    SAT_NOISE,
    SAT_OPENNESS,
    SHOCK_SCALE,
    TASTE_SCALE,
)
from ecosim.kernels.threads import run_ranges

# Per-customer keys of the streams drawn for every customer-need (``rng.customer_key``): computed
# once per customer, each draw then costs one round of the mixer instead of four. The first
# ``N_CK_EVERY`` are drawn from for almost every customer and computed for each; the others
# (a basket not kept yet, risk decisions, a choice) when needed.
(CK_ORDER, CK_OPEN, CK_OCCURRENCE, CK_LIFECYCLE, CK_CONTEXT, CK_SATISFACTION, CK_POLICY, CK_NEED,
 CK_NEED_NORMAL, CK_RISK, CK_TASTE, CK_CHOICE) = range(12)
N_CK = 12
N_CK_EVERY = 7

# Transaction log columns (float64 rows): customer, time, need, firm, amount, contribution.
TX_CUSTOMER, TX_TIME, TX_NEED, TX_FIRM, TX_AMOUNT, TX_MARGIN = range(6)
N_TX = 6


@scalar
def _bit(f: int) -> uint64:
    return np.uint64(1) << np.uint64(f)


@scalar
def _firm_bit(p: int) -> uint64:
    """``_bit(p)`` for a provider p, 0 for none (p < 0), without a branch."""
    return np.uint64(p >= 0) << np.uint64(p & 63)


@njit(cache=True, _nrt=False)
def _firms_used(state, i):
    """Bitmask of the firms customer i uses now, for any need."""
    used = np.uint64(0)
    for k in range(state.provider.shape[1]):
        used |= _firm_bit(np.int64(state.provider[i, k]))
    return used


@njit(cache=True, _nrt=False)
def _alive_needs(state, i):
    """Bitmask of the needs customer i has and is alive for (``HAS_NEED`` and not ``DEAD``)."""
    alive = np.uint64(0)
    for k in range(state.flags.shape[1]):
        flags = state.flags[i, k]
        alive |= np.uint64((flags & HAS_NEED) != 0 and (flags & DEAD) == 0) << np.uint64(k)
    return alive


@njit(cache=True, _nrt=False)
def _needs_from(state, i, f):
    """Bitmask of the needs customer i takes from firm f now."""
    needs = np.uint64(0)
    for k in range(state.provider.shape[1]):
        needs |= np.uint64(state.provider[i, k] == f) << np.uint64(k)
    return needs


@njit(cache=True, _nrt=False)
def _cell(market, f, segment, age_band, income_band, n_income):
    """Targeting cell of a customer as firm f sees them."""
    targeting = market.firm_int[f, TARGETING]
    if targeting == TARGET_BEHAVIOURAL:
        return np.int64(segment)
    if targeting == TARGET_SOCIODEMOGRAPHIC:
        return np.int64(age_band) * n_income + np.int64(income_band)
    return np.int64(0)


@njit(cache=True)
def _reach(market, risk_on):
    """Per-need bitmasks of the step, computed once.

    Firms offering k, with a contextual offer for k, and with a business-model rule for k
    (bundling k, in an ecosystem group, or pricing k by risk); whether any contextual offer or
    business-model rule is on at all (else they are skipped); per need and awareness unit, the
    firms offering k under that unit (``unit_firms``) and whether every firm offering k does so
    under the unit of its own index (``own_units``: one brand per firm, or awareness per firm);
    with risk decisions on, the lenders of each need (firms that lose part of its spend to
    defaults); per firm, the needs it offers (``firm_needs``); and the firms that cross-sell
    (``contacting``).
    """
    n_firms, n_needs = market.available.shape
    offered = np.zeros(n_needs, np.uint64)
    context_firms = np.zeros(n_needs, np.uint64)
    model_firms = np.zeros(n_needs, np.uint64)
    unit_firms = np.zeros((n_needs, 64), np.uint64)
    own_units = np.ones(n_needs, np.bool_)
    lenders = np.zeros(n_needs, np.uint64)
    firm_needs = np.zeros(n_firms, np.uint64)
    contacting = np.uint64(0)
    context_on = False
    plain = True
    for f in range(n_firms):
        g = market.firm_int[f, GROUP]
        if g >= 0:
            plain = False
            if market.firm_real[g, CONTEXT_REACH] > 0.0:
                context_on = True
        if market.bundle_mask[f] != 0:
            plain = False
        if market.firm_real[f, CONTACTS_PER_STEP] > 0.0:
            contacting |= _bit(f)
    for k in range(n_needs):
        for f in range(n_firms):
            g = market.firm_int[f, GROUP]
            if market.available[f, k]:
                offered[k] |= _bit(f)
                firm_needs[f] |= _bit(k)
                unit_firms[k, market.unit[f, k]] |= _bit(f)
                if market.unit[f, k] != f:
                    own_units[k] = False
                if g >= 0 and market.firm_real[g, CONTEXT_REACH] > 0.0:
                    context_firms[k] |= _bit(f)
                if risk_on and market.loss_rate[f, k] > 0.0:
                    lenders[k] |= _bit(f)
                    if market.firm_real[f, RISK_PRICING] > 0.0:
                        model_firms[k] |= _bit(f)
                        plain = False
            if g >= 0 or _in_bundle(market.bundle_mask, f, k):
                model_firms[k] |= _bit(f)
    bundle_saving = np.empty(n_firms)  # -ln(1 - discount) of each firm's bundle
    for f in range(n_firms):
        bundle_saving[f] = _bundle_saving(market.firm_real, f)
    return (offered, context_firms, model_firms, bundle_saving, context_on, plain, unit_firms,
            lenders, own_units, firm_needs, contacting)


@njit(inline="always", cache=True)
def _known_firms(known, unit_firms, own_units, k):
    """Firms offering need k under an awareness unit the customer knows (``known``: units).

    With ``own_units[k]`` (every firm offering k does so under the unit of its own index) the
    known units are the known firms (the caller keeps those offering k).
    """
    if own_units[k]:
        return known
    firms = np.uint64(0)
    u = 0
    while known:
        if known & np.uint64(1):
            firms |= unit_firms[k, u]
        known >>= np.uint64(1)
        u += 1
    return firms


@njit(cache=True, _nrt=False)
def _risk_estimate(rules, market, group_count, n_held_needs, risk_key, f, risk, provider_k):
    """Lender f's estimate of the customer's relative risk ``rho`` (docs/model.md).

    ``mean + w (rho - mean) + sqrt(w (1 - w)) sd z``: the posterior mean of a normal signal whose
    accuracy ``w`` (the share of the variance of risk it explains) is the lender's own plus its
    ecosystem's pooled data, ``w0 + (1 - w0) data_gain share``, the share being the customer's
    *other* needs the group serves (``provider_k``, the provider of the need being financed, is
    left out, so the estimate is the same when the customer chooses and when they pay); ``z`` is
    fixed per (customer, lender). ``risk`` holds the customer's ``rho`` last and, before it, each
    lender's ``z`` once drawn in the step (NaN until then): a lender's noise is drawn once a step,
    from ``risk_key``, the customer's key of the normals of ``STREAM_RISK`` (``rng.normal_key``).
    """
    b = rules.behaviour
    rho = risk[risk.shape[0] - 1]
    w = market.firm_real[f, ACCURACY]
    g = market.firm_int[f, GROUP]
    if g >= 0 and n_held_needs > 0:
        others = group_count[g]
        if provider_k >= 0 and market.firm_int[provider_k, GROUP] == g:
            others -= 1
        w += (1.0 - w) * market.firm_real[g, DATA_GAIN] * min(1.0, others / n_held_needs)
    z = risk[f]
    if z != z:  # slots 128 + f: disjoint from the sub-slots 0..127 the true risk's draw uses
        z = normal_at(risk_key, 128 + f)
        risk[f] = z
    return b[RISK_MEAN] + w * (rho - b[RISK_MEAN]) + np.sqrt(w * (1.0 - w)) * b[RISK_SD] * z


@njit(cache=True, _nrt=False)
def _risk_price(market, f, estimate):
    """Lender f's price multiplier for an estimate: ``max(estimate, 0.05) ** risk_pricing``."""
    pricing = market.firm_real[f, RISK_PRICING]
    if pricing == 0.0:
        return 1.0
    return max(estimate, 0.05) ** pricing


@njit(cache=True, _nrt=False)
def _declined(rules, market, group_count, n_held_needs, risk_key, risk, candidates, lenders_k,
              current):
    """The lenders among ``candidates`` (other than the current provider) that decline."""
    mask = candidates & lenders_k
    if current >= 0:
        mask &= ~_bit(current)
    declined = np.uint64(0)
    f = 0
    while mask:
        if mask & np.uint64(1):
            if _risk_estimate(rules, market, group_count, np.int64(n_held_needs), risk_key,
                              np.int64(f), risk, np.int64(current)) \
                    > market.firm_real[f, MAX_RISK]:
                declined |= _bit(f)
        mask >>= np.uint64(1)
        f += 1
    return declined


@njit(inline="always", cache=True)
def _extra_utility(extra, market, bundle_saving, held, group_count, current, k, trial_firm,
                   row, candidates, model_firms, rules, risk_key, risk, n_held_needs, lenders_k):
    """Business-model utility of each candidate firm for need k, into ``extra``.

    ``model_firms``: bitmask of the firms that bundle k, belong to an ecosystem group or price k
    by risk; the bundle, entry-bonus and risk-price rules give the others exactly 0, so they are
    not evaluated for them.
    """
    f = 0
    mask = candidates
    while mask:
        if mask & np.uint64(1):
            u = 0.0
            if model_firms & _bit(f):
                u = _bundle_utility(bundle_saving, market.firm_int, market.bundle_mask,
                                    held[f] - (1 if f == current
                                               and _in_bundle(market.bundle_mask, f, k) else 0),
                                    f, k, row[PRICE_SENS])
                g = market.firm_int[f, GROUP]
                if g >= 0:
                    others = group_count[g] - (1 if current >= 0
                                               and market.firm_int[current, GROUP] == g else 0)
                    if others > 0:
                        u += row[CONV_SENS] * market.firm_real[g, ENTRY_BONUS]
                if lenders_k & _bit(f) and market.firm_real[f, RISK_PRICING] > 0.0:
                    u -= row[PRICE_SENS] * np.log(_risk_price(
                        market, f, _risk_estimate(rules, market, group_count,
                                                  np.int64(n_held_needs), risk_key, np.int64(f),
                                                  risk, np.int64(current))))
            if f == trial_firm:
                u += market.firm_real[f, INCENTIVE]
            extra[f] = u
        mask >>= np.uint64(1)
        f += 1


@njit(cache=True, _nrt=False)
def _brands_in_use(market, state, i):
    """Bitmask of the brands of the offerings customer i uses now (familiarity)."""
    brands = np.uint64(0)
    for k in range(state.provider.shape[1]):
        p = state.provider[i, k]
        if p >= 0:
            brands |= _bit(market.brand[p, k])
    return brands


@njit(inline="always", cache=True)
def _need_order(order_key, need_id, active, m, order, priority):
    """The needs ``active[:m]`` (indices, ascending) in the order they arise this step.

    Into ``order[:m]``. Each need gets a random priority keyed by its stable id, so the order is
    the same whatever order the needs are declared in: ascending priorities, ties (never seen:
    64-bit hashes) in index order. The order of a subset of the needs is the order of all of
    them with the others left out, so the step orders only the needs with something to do. A
    need's place is its rank, counted without branches: the comparisons of random priorities
    are unpredictable, and an insertion sort's branches missed on about half of them (14 ns a
    customer-need).
    """
    for a in range(m):
        priority[a] = bits_at(order_key, need_id[active[a]])
    for a in range(m):
        p = priority[a]
        rank = 0
        for c in range(m):
            q = priority[c]
            rank += (q < p) | ((q == p) & (c < a))
        order[rank] = active[a]


@njit(cache=True, _nrt=False)
def _move(state, market, firm_since, held, group_count, start_mask, step, i, k, old, new):
    """Change the provider of need k from ``old`` to ``new`` (either may be OUTSIDE)."""
    if old >= 0:
        held[old] -= _in_bundle(market.bundle_mask, old, k)
        if market.firm_int[old, GROUP] >= 0:
            group_count[market.firm_int[old, GROUP]] -= 1
    state.habit[i, k] = 0.0
    if state.satisfaction.shape[0] > 0:  # held only with satisfaction on
        state.satisfaction[i, k] = 0.0
        state.flags[i, k] &= NOT_FAILED
    state.provider[i, k] = new
    if new >= 0:
        held[new] += _in_bundle(market.bundle_mask, new, k)
        if market.firm_int[new, GROUP] >= 0:
            group_count[market.firm_int[new, GROUP]] += 1
        if not (start_mask & _bit(new)):  # a new customer of the firm: cohort = this step
            firm_since[new] = step
        state.since[i, k] = firm_since[new]


@njit(inline="always", cache=True)
def _contextual_offers(context_key, need_id, j, market, group_count, current, pending):
    """Bitmask of the ecosystem offers for the need that fire in context on occasion j.

    ``pending``: the firms with a contextual offer for the need that are not already
    considered. An offer fires with its group's ``context_reach`` when the customer uses the group
    for another need. Each draw is keyed by its coordinates, so leaving out the firms already
    considered (firing would add nothing) changes no draw.
    """
    fired = np.uint64(0)
    f = 0
    while pending:
        if pending & np.uint64(1):
            g = market.firm_int[f, GROUP]
            others = group_count[g] - (1 if current >= 0 and market.firm_int[current, GROUP] == g
                                       else 0)
            if others > 0 and uniform_at(context_key, (need_id * 64 + j) * 64 + f) < \
                    market.firm_real[g, CONTEXT_REACH]:
                fired |= _bit(f)
        pending >>= np.uint64(1)
        f += 1
    return fired


@njit(inline="always", cache=True)
def _trigger(keys, k, need_id, j, current, openness, known, trial_firm, market, group_count,
             offered_k, context_firms_k, context_on, closed, unit_firms, own_units):
    """What the customer considers on occasion j of need k: ``(candidates, full_search)``.

    A full search (no provider, or the customer looks around with probability ``openness``)
    considers every firm offering k under a known awareness unit (``known``: a bitmask of
    units, brands or firms) and the outside option. Otherwise a contextual offer
    that fires or the firm that referred the customer this step is compared with the current
    provider alone. ``candidates == bit(current)`` without a full search is autopilot. Firms the
    customer left whole this step (``closed``) are not considered again.
    """
    full = current < 0 or uniform_at(keys[CK_OPEN], need_id * 64 + j) < openness
    candidates = np.uint64(0)
    if current >= 0:
        candidates |= _bit(current)
    if full:
        candidates |= _known_firms(known, unit_firms, own_units, k)
    if context_on:
        candidates |= _contextual_offers(keys[CK_CONTEXT], need_id, j, market, group_count,
                                         current, context_firms_k & ~candidates)
    if trial_firm >= 0:
        candidates |= _bit(trial_firm)
    return candidates & offered_k & ~closed, full


@njit(inline="always", cache=True)
def _lifecycle_ends(rules, market, needs, keys, k, life_i, current):
    """Whether the lifecycle ends the relationship with the current provider this step.

    Contractual: with the customer's hazard times the need's and the offering's ``hazard_scale``.
    """
    if rules.lifecycle_kind == CONTRACTUAL and current >= 0:
        return _relationship_ends(keys[CK_LIFECYCLE], needs.need_id[k],
                                  life_i[0] * needs.hazard_scale[k]
                                  * market.hazard_scale[current, k])
    return False


@njit(cache=True, _nrt=False)
def _joint_exit(rules, i, need_id, current, closed):
    """After the hazard ends a relationship: the firms the customer leaves whole this step.

    With probability ``joint_exit`` the current provider joins ``closed`` (a bitmask): every other
    relationship of the customer with it ends in the same step.
    """
    joint = rules.behaviour[JOINT_EXIT]
    if joint > 0.0 and uniform(rules.key, STREAM_LIFECYCLE, rules.step, i,
                               need_id * 64 + 62) < joint:
        closed |= _bit(current)
    return closed


@njit(inline="always", cache=True)
def _occasions(rules, needs, state, keys, i, k, life_i):
    """How many times need k arises this step (contractual: 0 or 1; else Poisson purchases)."""
    if rules.lifecycle_kind == CONTRACTUAL:
        return 1 if uniform_at(keys[CK_OCCURRENCE], needs.need_id[k]) < needs.occurrence[k] \
            else 0
    if state.flags[i, k] & DEAD:
        return 0
    return _purchase_count(rules.key, rules.step, i, needs.need_id[k], life_i[0])


@njit(inline="always", cache=True)
def _cohort_group(b, books):
    """The group of blocks whose cohort ledger block b adds to (``accounting.group_of``)."""
    return ((b + 1) * books.cohort.shape[0] - 1) // books.fk.shape[0]


@njit(inline="always", cache=True)
def _purchase(b, i, k, s, step, chosen, basket, t_in_step, since_ik, market, books, held,
              group_count, n_held_needs, captured, rules, risk, risk_key):
    """Book one purchase of ``basket`` (reference spend) of need k from firm ``chosen``.

    With risk decisions on, a lender's spend carries its risk price and it loses ``loss_rate ×
    rho`` of it (the customer's true risk); otherwise ``loss_rate`` cut by pooled data.
    """
    spend = basket * market.price[chosen, k] * _bundle_price_factor(
        market.firm_real, market.firm_int, market.bundle_mask, held[chosen], chosen, k)
    if rules.behaviour[RISK_ON] > 0.0 and market.loss_rate[chosen, k] > 0.0:
        estimate = _risk_estimate(rules, market, group_count, np.int64(n_held_needs), risk_key,
                                  np.int64(chosen), risk, np.int64(chosen))
        spend *= _risk_price(market, np.int64(chosen), estimate)
        loss = spend * market.loss_rate[chosen, k] * risk[risk.shape[0] - 1]
    else:
        loss = spend * market.loss_rate[chosen, k] * _pooled_loss_factor(
            market.firm_real, market.firm_int, group_count, chosen, n_held_needs)
    gross = spend * market.margin_rate[chosen, k]
    fee = spend * market.firm_real[chosen, PARTNER_FEE]
    fk = books.fk
    fk[b, FK_REVENUE, chosen, k] += spend
    fk[b, FK_GROSS_MARGIN, chosen, k] += gross
    fk[b, FK_LOSSES, chosen, k] += loss
    fk[b, FK_PURCHASES, chosen, k] += 1.0
    # added whether or not the seller is a partner (adding 0 changes no total): a branch on it
    # would vary from need to need
    fk[b, FK_PARTNER_FEES, chosen, k] += fee
    books.f[b, F_PARTNER_INCOME, max(market.firm_int[chosen, GROUP], 0)] += fee
    books.sf[b, SF_REVENUE, s, chosen] += spend
    books.sf[b, SF_CAPTURED, s, chosen] += basket
    captured[chosen] += basket
    books.cohort[_cohort_group(b, books), C_CONTRIBUTION, chosen, since_ik] += gross - loss - fee
    tx = books.tx
    if tx.shape[1] > 0:
        c = books.tx_count[b]
        if c < tx.shape[1]:
            tx[b, c, 0] = i
            tx[b, c, 1] = step - 1 + t_in_step
            tx[b, c, 2] = k
            tx[b, c, 3] = chosen
            tx[b, c, 4] = spend
            tx[b, c, 5] = gross - loss - fee
            books.tx_count[b] = c + 1
        else:
            books.capped[b] = 1


@njit(cache=True, _nrt=False)
def _dropout(rules, state, i, k, need_id, j, life_i):
    """Non-contractual: after a purchase, whether the customer drops out of need k for good.

    The first purchase of a relationship is the trial (a customer holding a provider at step 0
    made it at t = 0); dropout follows every later (repeat) purchase, as in BG/NBD.
    """
    if state.flags[i, k] & PURCHASED:
        if _drops_out(rules.key, rules.step, i, need_id, j, life_i[1]):
            state.flags[i, k] |= DEAD
            return True
    else:
        state.flags[i, k] |= PURCHASED
    return False


@njit(cache=True, _nrt=False)
def _experience(rules, market, state, satisfaction_key, i, k, need_id, j, chosen):
    """The moment of a purchase and its satisfaction; returns whether it was a service failure.

    ``m = ln(experience) + noise z`` (z standard normal per occasion); satisfaction moves
    towards it by ``memory``; a moment below the failure threshold sets ``FAILED``.
    """
    b = rules.behaviour
    m = market.log_experience[chosen, k]
    if b[SAT_NOISE] > 0.0:
        m += b[SAT_NOISE] * normal_quantile(uniform_at(satisfaction_key, need_id * 64 + j))
    state.satisfaction[i, k] += np.float32(b[SAT_MEMORY] * (m - state.satisfaction[i, k]))
    if m < b[SAT_FAILURE]:
        state.flags[i, k] |= FAILED
        return True
    return False


@njit(inline="always", cache=True)
def _need_start(rules, market, needs, state, scratch, start_mask, i, k, life_i, current, closed):
    """Need k at the start of its turn: the provider it keeps, or whether its relationship ends.

    The provider is dropped when it no longer offers the need (the firm left the market or
    dropped the offering); the relationship ends when the customer left the firm whole this step
    (``closed``) or when the lifecycle ends it, which may close the firm (``_joint_exit``).
    Returns ``(current, ended, closed)``.
    """
    firm_since, held, group_count = scratch[0], scratch[1], scratch[2]
    step = rules.step
    if current >= 0 and not market.available[current, k]:
        _move(state, market, firm_since, held, group_count, start_mask, step, i, k, current,
              OUTSIDE)
        current = OUTSIDE
    if current >= 0 and closed & _bit(current):  # the customer left this firm whole
        _move(state, market, firm_since, held, group_count, start_mask, step, i, k, current,
              OUTSIDE)
        return OUTSIDE, True, closed
    if _lifecycle_ends(rules, market, needs, scratch[13], k, life_i, current):
        closed = _joint_exit(rules, i, needs.need_id[k], current, closed)
        _move(state, market, firm_since, held, group_count, start_mask, step, i, k, current,
              OUTSIDE)
        return OUTSIDE, True, closed
    return current, False, closed


@njit(cache=True, _nrt=False)
def _contact(b, i, k, f, cell, rules, market, state, books, reach, scratch, brands_used, row,
             annoyance, start_mask, need_id, risk, n_held_needs):
    """One cross-sell contact of firm f for need k: f's offer against the status quo.

    The customer considers it with the firm's ``attention`` probability; then it is a binary
    choice: f against the current provider, or against the outside option when the customer has
    none. The contacted offer loses ``annoyance`` utility (``fatigue.annoyance`` × the customer's
    fatigue). Winning makes f the provider.
    """
    model_firms, bundle_saving, lenders = reach[2], reach[3], reach[7]
    firm_since, held, group_count, extra = scratch[0], scratch[1], scratch[2], scratch[3]
    books.fk[b, FK_CONTACTS, f, k] += 1.0
    books.cells[b, CELL_CONTACTS, f, cell] += 1.0
    attention = market.firm_real[f, CONTACT_ATTENTION]
    if attention < 1.0 and uniform(rules.key, STREAM_ATTENTION, rules.step, i,
                                   need_id * 64 + f) >= attention:
        return False
    current = np.int64(state.provider[i, k])
    candidates = _bit(f)
    if current >= 0:
        candidates |= _bit(current)
    _extra_utility(extra, market, bundle_saving, held, group_count, current, k, -1, row,
                   candidates, model_firms[k], rules, scratch[13][CK_RISK], risk, n_held_needs,
                   lenders[k])
    extra[f] -= annoyance
    shock_key = customer_key(stream_key(rules.key, STREAM_CONTACT, rules.step), i)
    chosen = _choose_provider(customer_key(scratch[12][CK_TASTE], i), shock_key, k, need_id, f,
                              current, state.habit[i, k], candidates, current < 0, extra,
                              brands_used, row, market, rules.behaviour[TASTE_SCALE],
                              rules.behaviour[SHOCK_SCALE], scratch[10], scratch[11])
    if chosen == f:
        _move(state, market, firm_since, held, group_count, start_mask, rules.step, i, k,
              current, f)
        books.fk[b, FK_CONVERSIONS, f, k] += 1.0
        books.cells[b, CELL_CONVERSIONS, f, cell] += 1.0
        return True
    return False


@njit(inline="always", cache=True)
def _cross_sell(b, i, s, rules, market, customers, needs, state, books, reach, scratch,
                brands_used, row, fat, start_mask, ended, risk, n_held_needs, m, alive):
    """Cross-sell: each firm contacts its own customers; returns the customer's new fatigue.

    ``silo``: each product unit contacts on its own (one draw per need it could sell);
    ``value_stream``: one draw per firm, then one coordinated offer, the need with the largest
    utility gain. Needs are visited in the step's order (``scratch`` holds its first ``m``: every
    need the customer has), firms in index order; a need whose relationship the lifecycle ended
    this step (``ended``) is not contacted, nor, with risk decisions on, a need whose lender
    would decline the customer. A contact that wins a need can leave the firm that provided it
    without the customer: it does not contact. ``alive``: the needs the customer has and is
    alive for; the needs a firm may contact for are a bitmask, so that the loop over the needs
    has one test, not five that vary from need to need.
    """
    order, keys = scratch[5], scratch[13]
    lenders, group_count = reach[7], scratch[2]
    behaviour = rules.behaviour
    todo = _firms_used(state, i) & reach[10]  # the contacting firms the customer uses
    while todo:
        f = np.int64(trailing_zeros(todo))
        todo &= todo - np.uint64(1)
        # needs f offers, that the customer has, is alive for and takes elsewhere
        open_needs = reach[9][f] & alive & ~ended & ~_needs_from(state, i, f)
        if not open_needs:
            continue
        cell = _cell(market, f, s, customers.age_band[i], customers.income_band[i],
                     rules.n_income)
        p_contact = market.contact_p[f, cell]
        value_stream = market.firm_int[f, ORGANISATION] == VALUE_STREAM
        if value_stream and uniform_at(keys[CK_POLICY], f) >= p_contact:
            continue
        best_k = -1
        best_gain = -np.inf
        for r in range(m):  # the needs the customer has are among the first m
            k = order[r]
            if not (open_needs & _bit(k)):
                continue
            current = np.int64(state.provider[i, k])
            if lenders[k] & _bit(f) and _declined(rules, market, group_count,
                                                 np.int64(n_held_needs), keys[CK_RISK], risk,
                                                 _bit(f), lenders[k], current):
                continue
            if value_stream:  # one coordinated best offer: the largest utility gain
                # no habit term: f is not the current provider
                gain = _utility(row, np.int64(f), k, current, np.float32(0.0), brands_used,
                                market)
                if current >= 0:
                    gain -= _utility(row, current, k, current, state.habit[i, k], brands_used,
                                     market)
                if gain > best_gain:
                    best_gain = gain
                    best_k = k
            elif uniform_at(keys[CK_POLICY], (needs.need_id[k] + 1) * 64 + f) < p_contact:
                if _contact(b, i, k, f, cell, rules, market, state, books, reach, scratch,
                            brands_used, row, behaviour[FATIGUE_ANNOYANCE] * fat, start_mask,
                            needs.need_id[k], risk, np.int64(n_held_needs)):
                    brands_used = _brands_in_use(market, state, i)
                    todo &= _firms_used(state, i)
                fat += behaviour[FATIGUE_PER_CONTACT]
        if value_stream and best_k >= 0:
            if _contact(b, i, np.int64(best_k), f, cell, rules, market, state, books, reach,
                        scratch, brands_used, row, behaviour[FATIGUE_ANNOYANCE] * fat,
                        start_mask, needs.need_id[best_k], risk, np.int64(n_held_needs)):
                brands_used = _brands_in_use(market, state, i)
                todo &= _firms_used(state, i)
            fat += behaviour[FATIGUE_PER_CONTACT]
    return fat


@njit(inline="always", cache=True)
def _open_books(i, market, state, scratch):
    """Start-of-step bookkeeping of customer i: who provides what, into ``scratch``.

    Returns ``(brands_used, n_held_needs, m)``: the brands the customer uses, the number of
    needs they have and are alive for (the denominator of pooled data), and the number of
    needs with something to do this step, whose indices go to ``scratch[15][:m]``: those the
    customer has or holds a provider for (one they no longer have is given up).
    """
    firm_since, held, group_count = scratch[0], scratch[1], scratch[2]
    start_provider, products, captured, active = scratch[4], scratch[8], scratch[7], scratch[15]
    held[:] = 0
    group_count[:] = 0
    products[:] = 0
    captured[:] = 0.0
    brands_used = np.uint64(0)
    n_held_needs = 0
    m = 0
    for k in range(state.provider.shape[1]):
        p = state.provider[i, k]
        flags = state.flags[i, k]
        start_provider[k] = p
        if flags & HAS_NEED and not flags & DEAD:
            n_held_needs += 1
        active[m] = k
        m += np.int64(((flags & HAS_NEED) != 0) | (p >= 0))
        if p >= 0:
            firm_since[p] = state.since[i, k]
            brands_used |= _bit(market.brand[p, k])
            held[p] += _in_bundle(market.bundle_mask, p, k)
            products[p] += 1
            if market.firm_int[p, GROUP] >= 0:
                group_count[market.firm_int[p, GROUP]] += 1
    return brands_used, n_held_needs, m


@njit(inline="always", cache=True)
def _close_books(b, i, s, rules, market, customers, state, books, reach, scratch, known, fat,
                 start_mask, trial_firm, wallet, alive):
    """End-of-step accounting of customer i: customers, new and churned, cohorts, wallets.

    ``alive``: the needs the customer has and is alive for (``_alive_needs``).

    Firms are visited as the set bits of the customer's firms at the start and end of the step,
    and a contacting firm's targets (the needs it offers that the customer has, is alive for and
    takes elsewhere) are counted as bits: the loops over every firm and need, and their
    unpredictable branches, were an eighth of the step.
    """
    firm_since, start_provider, captured, products = scratch[0], scratch[4], scratch[7], \
        scratch[8]
    firm_uses = scratch[14]  # per firm, the needs the customer takes from it (0 in between)
    firm_needs, contacting = reach[9], reach[10]
    fk, f_ledger, step = books.fk, books.f, rules.step
    n_firms, n_needs = market.available.shape
    end_mask = np.uint64(0)
    unit_mask = np.uint64(0)
    for k in range(n_needs):
        p0 = start_provider[k]
        current = state.provider[i, k]
        if current != p0:
            if p0 >= 0:
                fk[b, FK_CHURNED, p0, k] += 1.0
            if current >= 0:
                fk[b, FK_NEW, current, k] += 1.0
        if current >= 0:
            fk[b, FK_CUSTOMERS, current, k] += 1.0
            end_mask |= _bit(current)
            unit_mask |= _bit(market.unit[current, k])
            firm_uses[current] |= _bit(k)
    known |= unit_mask
    state.aware[i] = known
    state.customer_of[i] = end_mask
    state.unit_of[i] = unit_mask
    state.fatigue[i] = fat
    state.trial[i] = -1
    books.sf[b, SF_CUSTOMERS, s, n_firms] += 1.0
    group = _cohort_group(b, books)
    todo = start_mask | end_mask
    while todo:
        f = np.int64(trailing_zeros(todo))
        todo &= todo - np.uint64(1)
        bit = _bit(f)
        if end_mask & bit:
            f_ledger[b, F_CUSTOMERS, f] += 1.0
            f_ledger[b, F_WALLET, f] += wallet
            f_ledger[b, F_CAPTURED, f] += captured[f]
            books.sf[b, SF_CUSTOMERS, s, f] += 1.0
            if start_mask & bit:
                books.cohort[group, C_ALIVE, f, firm_since[f]] += 1.0
            else:
                f_ledger[b, F_NEW, f] += 1.0
                books.cohort[group, C_ALIVE, f, step] += 1.0
                if f == trial_firm:
                    f_ledger[b, F_REFERRAL_JOINS, f] += 1.0
            if contacting & bit:
                targets = popcount(firm_needs[f] & alive & ~firm_uses[f])
                if market.firm_int[f, ORGANISATION] == VALUE_STREAM:
                    targets = min(targets, 1)
                cell = _cell(market, f, s, customers.age_band[i], customers.income_band[i],
                             rules.n_income)
                books.cells[b, CELL_TARGETS, f, cell] += targets
            firm_uses[f] = 0
        if start_mask & bit:
            single = products[f] == 1
            f_ledger[b, F_START_SINGLE if single else F_START_MULTI, f] += 1.0
            if not end_mask & bit:
                f_ledger[b, F_CHURNED, f] += 1.0
                f_ledger[b, F_CHURNED_SINGLE if single else F_CHURNED_MULTI, f] += 1.0


def _step_customers(rules, market, customers, needs, state, books):
    """Advance every customer by one step and fill the per-block ledgers.

    Args:
        rules: ``state.Rules`` — replication key, step (>= 1), lifecycle kind, number of income
            bands, behaviour parameters (habit gain, fatigue, price alert, taste and shock
            scales).
        market: ``state.Market`` — the (F, K) offers (``available`` = firm active and offering the
            need; ``loss_rate`` share of spend lost to defaults; ``price_rise`` = max(0, change
            of ln price this step)), business models and policies (``business``), and
            ``contact_p`` (F, C) cross-sell contact probability per targeting cell.
        customers: ``state.Customers`` — (N, 8) float32 traits, (N, 2) float32 lifecycle draws
            (hazard or purchase rate per step, dropout probability), uint8 bands.
        needs: ``state.Needs`` — stable ids, occurrence per step, basket distributions (spend per
            occurrence at price index 1, currency, before the income multiplier).
        state: ``state.State`` — per customer-need provider, habit, cohort step and flags; per
            customer known and used firms (uint64 bitmasks), fatigue and the referring firm of
            this step (-1 none); updated in place.
        books: ``state.Books`` — per-block ledgers (``accounting.Ledgers``), zeroed; the
            transaction rows (capacity 0 for no log), their counts, and ``capped`` set to 1 in a
            block where a cap bound (purchases per step or log capacity).
    """
    reach = _reach(market, rules.behaviour[RISK_ON] > 0.0)
    run_ranges(_step_groups, books.cohort.shape[0], rules, market, customers, needs, state, books,
               reach)


@njit(nogil=True, cache=True)
def _step_groups(first, last, rules, market, customers, needs, state, books, reach):
    """Advance the customers of the cohort groups ``first .. last - 1`` (``threads.run_ranges``).

    A group's blocks run in order, on one thread: they share its cohort ledger.
    """
    n = state.provider.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    n_groups = books.cohort.shape[0]  # the cohort ledger's groups of blocks (accounting)
    n_firms, n_needs = market.available.shape
    for g in range(first, last):
        for b in range(g * n_blocks // n_groups, (g + 1) * n_blocks // n_groups):
            # per-customer scratch: firm_since, held, group_count, extra, start_provider, order,
            # priority, captured, products, risk (lenders' noise, then rho), a choice's options
            # (utility and upper bound; their hashes), the step's stream keys, a customer's
            # keys, the needs the customer takes from each firm and the needs with something to
            # do
            scratch = (np.zeros(n_firms, np.int64), np.zeros(n_firms, np.int64),
                       np.zeros(n_firms, np.int64), np.zeros(n_firms),
                       np.zeros(n_needs, np.int64), np.zeros(n_needs, np.int64),
                       np.zeros(n_needs, np.uint64), np.zeros(n_firms),
                       np.zeros(n_firms, np.int64), np.ones(n_firms + 1), np.zeros((3, 65)),
                       np.zeros((2, 65), np.uint64), np.zeros(N_CK, np.uint64),
                       np.zeros(N_CK, np.uint64), np.zeros(n_firms, np.uint64),
                       np.zeros(n_needs, np.int64))
            _step_block(b, rules, market, customers, needs, state, books, reach, scratch)


# Compiled without Numba's reference counting: it allocates nothing, and every array it touches
# is owned by the caller for the whole call. With it, each array a phase takes from a group is
# counted in and out on every use (hundreds of atomic operations per customer: 4x the time).
@njit(cache=True, _nrt=False)
def _step_block(b, rules, market, customers, needs, state, books, reach, scratch):
    """Advance the customers of block b, in index order, into the block's ledgers."""
    n, n_needs = state.provider.shape
    n_firms = market.available.shape[0]
    offered, context_firms, model_firms, bundle_saving, context_on, plain, unit_firms, \
        lenders, own_units, _, _ = reach
    firm_since, held, group_count, extra, captured = scratch[0], scratch[1], scratch[2], \
        scratch[3], scratch[7]
    behaviour = rules.behaviour
    risk_on = behaviour[RISK_ON] > 0.0
    sat_on = behaviour[SAT_MEMORY] > 0.0
    cached = customers.basket.shape[0] > 0
    order = scratch[5]
    streams, keys = scratch[12], scratch[13]
    streams[CK_ORDER] = stream_key(rules.key, STREAM_ORDER, rules.step)
    streams[CK_OPEN] = stream_key(rules.key, STREAM_OPEN, rules.step)
    streams[CK_OCCURRENCE] = stream_key(rules.key, STREAM_OCCURRENCE, rules.step)
    streams[CK_LIFECYCLE] = stream_key(rules.key, STREAM_LIFECYCLE, rules.step)
    streams[CK_CONTEXT] = stream_key(rules.key, STREAM_CONTEXT, rules.step)
    streams[CK_SATISFACTION] = stream_key(rules.key, STREAM_SATISFACTION, rules.step)
    streams[CK_POLICY] = stream_key(rules.key, STREAM_POLICY, rules.step)
    streams[CK_NEED] = stream_key(rules.key, STREAM_NEED, 0)  # a need's basket: fixed
    streams[CK_NEED_NORMAL] = normal_stream_key(rules.key, STREAM_NEED, 0)
    streams[CK_RISK] = normal_stream_key(rules.key, STREAM_RISK, 0)  # lenders' noise: fixed
    streams[CK_TASTE] = stream_key(rules.key, STREAM_TASTE, 0)  # persistent tastes: fixed
    streams[CK_CHOICE] = stream_key(rules.key, STREAM_CHOICE, rules.step)  # purchases' shocks
    for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
        for c in range(N_CK_EVERY):
            keys[c] = customer_key(streams[c], i)
        if plain:  # what _extra_utility would write for every firm but a referrer
            extra[:] = 0.0
        row = customers.traits[i]
        life_i = customers.life[i]
        s = customers.segment[i]
        start_mask = state.customer_of[i]
        known = state.aware[i]
        trial_firm = state.trial[i]
        fat = state.fatigue[i] * (1.0 - behaviour[FATIGUE_DECAY])
        base_open = row[OPENNESS] + behaviour[FATIGUE_OPENNESS] * fat
        brands_used, n_held_needs, m = _open_books(i, market, state, scratch)
        risk = scratch[9]  # each lender's estimation noise (drawn when first needed), then rho
        if risk_on:
            keys[CK_RISK] = customer_key(streams[CK_RISK], i)
            risk[:] = np.nan
            risk[n_firms] = customers.risk[i]
            for c in range(customers.noise_firms.shape[0]):  # the noise drawn in earlier steps
                risk[customers.noise_firms[c]] = customers.noise[i, c]
        _need_order(keys[CK_ORDER], needs.need_id, scratch[15], m, order, scratch[6])
        wallet = 0.0
        closed = np.uint64(0)
        ended = np.uint64(0)
        for r in range(m):
            k = order[r]
            if not (state.flags[i, k] & HAS_NEED):
                p = np.int64(state.provider[i, k])
                if p >= 0:  # the need has faded (a falling prevalence trend)
                    _move(state, market, firm_since, held, group_count, start_mask,
                          rules.step, i, k, p, OUTSIDE)
                    ended |= _bit(k)
                    brands_used = _brands_in_use(market, state, i)
                continue
            # the need's turn (docs/model.md "Step order"): lifecycle, occasions, triggers,
            # choices and purchases; satisfaction (on when its memory > 0) scales looking around
            # and the price alert, and a service failure makes the next occasion a full search;
            # with risk decisions on, lenders that decline the customer are not considered.
            # Written out here rather than in an inlined phase: Numba copies an inlined
            # function's IR per block with its whole scope, and this loop is most of the kernel
            current, lapsed, closed = _need_start(rules, market, needs, state, scratch,
                                                  start_mask, i, k, life_i,
                                                  np.int64(state.provider[i, k]), closed)
            if lapsed:
                brands_used = _brands_in_use(market, state, i)
                ended |= _bit(k)
                continue
            n_occasions = _occasions(rules, needs, state, keys, i, k, life_i)
            if n_occasions == MAX_PURCHASES:
                books.capped[b] = 1
            if n_occasions == 0:
                continue
            need_id = needs.need_id[k]
            # the customer's basket for the need is fixed for the run (its trend aside): kept
            # in customers.basket once drawn when the cache is on (a row per customer)
            base = customers.basket[i, k] if cached else np.nan
            if base != base:
                base = draw_at(needs.basket_dist[k], needs.basket_p[k, 0], needs.basket_p[k, 1],
                               customer_key(streams[CK_NEED], i),
                               customer_key(streams[CK_NEED_NORMAL], i), need_id) \
                    * row[INCOME_SCALE]
                if cached:
                    customers.basket[i, k] = base
            basket = base * needs.basket_scale[k]
            openness = base_open
            failed = False
            if current >= 0:
                alert = behaviour[PRICE_ALERT]
                rise = market.price_rise[current, k]
                if sat_on:
                    satisfaction = state.satisfaction[i, k]
                    if satisfaction != 0.0:
                        openness = base_open * np.exp(-behaviour[SAT_OPENNESS] * satisfaction)
                        if rise > 0.0:
                            alert *= np.exp(-behaviour[SAT_ALERT] * satisfaction)
                    failed = (state.flags[i, k] & FAILED) != 0
                openness += alert * rise
            t_in_step = 0.0
            spent = 0.0
            for j in range(n_occasions):
                candidates, full = _trigger(keys, k, need_id, j, current,
                                            1.0 if failed else openness, known, trial_firm,
                                            market, group_count, offered[k], context_firms[k],
                                            context_on, closed, unit_firms, own_units)
                if failed:  # the service failure has made this occasion a search
                    failed = False
                    state.flags[i, k] &= NOT_FAILED
                if lenders[k] & candidates:
                    candidates &= ~_declined(rules, market, group_count, np.int64(n_held_needs),
                                             keys[CK_RISK], risk, candidates, lenders[k],
                                             current)
                if not full and candidates == _bit(current):
                    chosen = current  # autopilot: no choice
                else:
                    if not plain or trial_firm >= 0:
                        _extra_utility(extra, market, bundle_saving, held, group_count, current,
                                       k, trial_firm, row, candidates, model_firms[k], rules,
                                       keys[CK_RISK], risk, n_held_needs, lenders[k])
                    chosen = _choose_provider(customer_key(streams[CK_TASTE], i),
                                              customer_key(streams[CK_CHOICE], i), k,
                                              need_id, j, current, state.habit[i, k],
                                              candidates, full, extra, brands_used, row, market,
                                              behaviour[TASTE_SCALE], behaviour[SHOCK_SCALE],
                                              scratch[10], scratch[11])
                if chosen == current and chosen >= 0:
                    h = state.habit[i, k]
                    state.habit[i, k] = min(1.0, h + behaviour[HABIT_GAIN]
                                            * market.experience[chosen, k] * (1.0 - h))
                elif chosen != current:
                    _move(state, market, firm_since, held, group_count, start_mask, rules.step,
                          i, k, current, chosen)
                    if chosen >= 0:
                        known |= _bit(market.unit[chosen, k])
                    brands_used = _brands_in_use(market, state, i)
                current = chosen
                spent += basket
                if books.tx.shape[1] > 0:
                    # every purchase advances the clock of the step, whoever sells it: the
                    # times are sequential order statistics of all n_occasions
                    t_in_step = _next_purchase_time(rules.key, rules.step, i, need_id, j,
                                                    n_occasions, t_in_step)
                if chosen >= 0:
                    _purchase(b, i, k, s, rules.step, chosen, basket, t_in_step,
                              state.since[i, k], market, books, held, group_count, n_held_needs,
                              captured, rules, risk, keys[CK_RISK])
                    if sat_on:
                        failed = _experience(rules, market, state, keys[CK_SATISFACTION], i, k,
                                             need_id, j, chosen)
                    if rules.lifecycle_kind != CONTRACTUAL and _dropout(rules, state, i, k,
                                                                        need_id, j, life_i):
                        _move(state, market, firm_since, held, group_count, start_mask,
                              rules.step, i, k, current, OUTSIDE)
                        brands_used = _brands_in_use(market, state, i)
                        break
            wallet += spent
            books.sf[b, SF_WALLET, s, n_firms] += spent
            books.sk[b, s, k] += spent
        if closed:  # needs that arose before the joint exit: the relationships the customer had
            # with the firm at the start of the step end too
            for k in range(n_needs):
                p = np.int64(state.provider[i, k])
                if p >= 0 and closed & _bit(p) and scratch[4][k] == p:
                    _move(state, market, firm_since, held, group_count, start_mask,
                          rules.step, i, k, p, OUTSIDE)
                    ended |= _bit(k)
            brands_used = _brands_in_use(market, state, i)
        alive = _alive_needs(state, i)
        fat = _cross_sell(b, i, s, rules, market, customers, needs, state, books, reach,
                          scratch, brands_used, row, fat, start_mask, ended, risk, n_held_needs,
                          m, alive)
        _close_books(b, i, s, rules, market, customers, state, books, reach, scratch, known,
                     fat, start_mask, trial_firm, wallet, alive)
        if risk_on:  # keep the noise drawn in this step for the next ones
            for c in range(customers.noise_firms.shape[0]):
                customers.noise[i, c] = risk[customers.noise_firms[c]]
