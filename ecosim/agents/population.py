"""The customers: a struct of arrays, sampled from the configuration and advanced by kernels.

Customers are many and simple, so they are never Mesa agents: each is a row in the arrays below,
and every phase of a step is one jitted pass over them (docs/model.md, "Customers").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ecosim.agents.network import build_network
from ecosim.config.schema import (
    DIST_PARAMS,
    FACTORS,
    MAX_BRANDS,
    CustomersConfig,
    DistSpec,
    NeedConfig,
)
from ecosim.kernels.accounting import BLOCK, Ledgers, n_blocks
from ecosim.kernels.awareness import _spread_awareness, referral_stays
from ecosim.kernels.business import GROUP, LAUNCH_AWARENESS, N_FIRM_INT, N_FIRM_REAL, REFERRAL_RATE
from ecosim.kernels.distributions import DIST_CODES
from ecosim.kernels.lifecycle import CONTRACTUAL, NONCONTRACTUAL
from ecosim.kernels.population import (
    N_TRAITS,
    _customer_counts,
    _initial_state,
    _sample_customers,
    _true_risks,
    _update_prevalence,
)
from ecosim.kernels.rng import STREAM_NETWORK
from ecosim.kernels.state import Books, Customers, Market, Needs, Rules, State, need_ids
from ecosim.kernels.step import N_TX, _step_customers
from ecosim.kernels.threads import run_ranges


def dist_args(spec: DistSpec) -> tuple[int, float, float]:
    """A distribution spec as the kernels take it: ``(family code, p1, p2)``."""
    names = DIST_PARAMS[spec.dist]
    values = [float(getattr(spec, name)) for name in names] + [0.0]
    return DIST_CODES[spec.dist], values[0], values[1]


def dist_sd(spec: DistSpec) -> float:
    """The standard deviation of a distribution spec."""
    code, p1, p2 = dist_args(spec)
    variances = {"fixed": 0.0, "normal": p2 * p2,
                 "lognormal": (np.exp(p2 * p2) - 1) * np.exp(2 * p1 + p2 * p2),
                 "beta": p1 * p2 / ((p1 + p2) ** 2 * (p1 + p2 + 1)) if p1 + p2 > 0 else 0.0,
                 "gamma": p1 * p2 * p2, "uniform": (p2 - p1) ** 2 / 12}
    return float(np.sqrt(variances[spec.dist]))


def dist_mean(spec: DistSpec) -> float:
    """The mean of a distribution spec (used to size buffers, never in the dynamics)."""
    code, p1, p2 = dist_args(spec)
    means = {"fixed": p1, "normal": p1, "lognormal": np.exp(p1 + p2 * p2 / 2),
             "beta": p1 / (p1 + p2) if p1 + p2 > 0 else 0.0, "gamma": p1 * p2,
             "uniform": (p1 + p2) / 2}
    return float(means[spec.dist])


@dataclass
class Offers:
    """What firms offer this step, as flat (firm, need) arrays for the kernels."""

    available: np.ndarray  # bool: firm in the market and offering the need
    price: np.ndarray  # price index, 1.0 = market reference
    quality: np.ndarray  # utility
    convenience: np.ndarray  # utility per unit of convenience sensitivity
    experience: np.ndarray  # multiplier of habit formation
    margin_rate: np.ndarray  # share of spend kept by the firm
    loss_rate: np.ndarray  # share of spend lost to defaults
    brand: np.ndarray  # brand index per offering (< 64)
    hazard_scale: np.ndarray  # multiplier of the contractual hazard (the offering's terms)
    reach_p: np.ndarray  # (F,) advertising reach probability of the firm's brand this step
    word_of_mouth: np.ndarray  # (F,) Bass imitation coefficient
    active: np.ndarray  # (F,) firm in the market
    firm_brand: np.ndarray  # (F,) brand index of the firm's own brand
    brand_reach_p: np.ndarray  # (F, MAX_BRANDS) reach of the firm's other brands' advertising

    @classmethod
    def empty(cls, n_firms: int, n_needs: int) -> Offers:
        """No firm in the market yet."""
        fk = (n_firms, n_needs)
        return cls(available=np.zeros(fk, np.bool_), price=np.ones(fk), quality=np.zeros(fk),
                   convenience=np.zeros(fk), experience=np.ones(fk), margin_rate=np.zeros(fk),
                   loss_rate=np.zeros(fk), brand=np.zeros(fk, np.int64),
                   hazard_scale=np.ones(fk),
                   reach_p=np.zeros(n_firms), word_of_mouth=np.zeros(n_firms),
                   active=np.zeros(n_firms, np.bool_), firm_brand=np.zeros(n_firms, np.int64),
                   brand_reach_p=np.zeros((n_firms, MAX_BRANDS)))


def firm_units(offers: Offers) -> np.ndarray:
    """Each offering's awareness unit when awareness is held per firm: its firm (F, K)."""
    return np.broadcast_to(np.arange(offers.brand.shape[0])[:, None], offers.brand.shape).copy()


def _either(probabilities: list[float]) -> float:
    """Probability that at least one of independent events happens (the one itself if alone)."""
    if len(probabilities) == 1:
        return probabilities[0]
    return 1.0 - float(np.prod([1.0 - p for p in probabilities]))


@dataclass
class AwarenessUnits:
    """What awareness is held of this step: brands or firms (``customers.awareness``).

    ``unit[f, k]``: the unit of firm f's offering for need k; ``firm_unit[f]``: the unit of the
    firm's own brand; per unit: in the market, advertising reach, word of mouth, launch
    awareness. With ``awareness: firm`` the units are the firms themselves.
    """

    unit: np.ndarray
    firm_unit: np.ndarray
    active: np.ndarray
    reach_p: np.ndarray
    word_of_mouth: np.ndarray
    launch_p: np.ndarray

    @classmethod
    def of(cls, by_brand: bool, offers: Offers, launch_p: np.ndarray,
           n_brands: int) -> AwarenessUnits:
        """The units of a step from the firms' offers and launch awareness (F,)."""
        n_firms = offers.active.shape[0]
        if not by_brand:
            reach = offers.reach_p.copy()
            for f in np.nonzero(offers.brand_reach_p.any(axis=1))[0]:
                reach[f] = _either([reach[f], *offers.brand_reach_p[f][offers.brand_reach_p[f]
                                                                        > 0]])
            return cls(firm_units(offers),
                       np.arange(n_firms), offers.active.copy(), reach,
                       offers.word_of_mouth.copy(), launch_p.copy())
        reach: list[list[float]] = [[] for _ in range(n_brands)]
        launch: list[list[float]] = [[] for _ in range(n_brands)]
        wom = np.zeros(n_brands)
        active = np.zeros(n_brands, np.bool_)
        for f in np.nonzero(offers.active)[0]:
            own = offers.firm_brand[f]
            active[own] = True
            reach[own].append(offers.reach_p[f])
            launch[own].append(launch_p[f])
            carried = {own, *offers.brand[f][offers.available[f]].tolist()}
            for b in carried:
                active[b] = True
                wom[b] = max(wom[b], offers.word_of_mouth[f])
            for b in np.nonzero(offers.brand_reach_p[f] > 0)[0]:
                reach[b].append(offers.brand_reach_p[f, b])
        return cls(offers.brand.copy(), offers.firm_brand.copy(), active,
                   np.array([_either(p) if p else 0.0 for p in reach]), wom,
                   np.array([_either(p) if p else 0.0 for p in launch]))


@dataclass
class Policies:
    """Business models and policies of the firms this step (see ``kernels.business``)."""

    firm_real: np.ndarray  # (F, N_FIRM_REAL)
    firm_int: np.ndarray  # (F, N_FIRM_INT)
    bundle_mask: np.ndarray  # (F,) uint64, bit k = need k in the firm's bundle
    contact_p: np.ndarray  # (F, cells) cross-sell contact probability per targeting cell

    @classmethod
    def empty(cls, n_firms: int, n_cells: int) -> Policies:
        """Standalone firms without policies."""
        firm_int = np.zeros((n_firms, N_FIRM_INT), np.int64)
        firm_int[:, GROUP] = -1
        return cls(np.zeros((n_firms, N_FIRM_REAL)), firm_int, np.zeros(n_firms, np.uint64),
                   np.zeros((n_firms, n_cells)))


class CustomerPopulation:
    """N customers with K needs facing F firms, held as arrays.

    Per customer: segment, age and income bands (uint8), eight float32 traits (the six
    behavioural factors, switching cost, income multiplier), two float32 lifecycle draws, three
    uint64 bitmasks (known awareness units, used firms) — a third (used brands) when awareness is
    held of brands that are not one per firm —, contact fatigue (float32) and the firm that
    referred them this step (int8): 64 bytes (72). Per customer-need: provider (int8), habit
    (float32), cohort step (int16) and flags (uint8): 8 bytes; with satisfaction on, 4 more;
    with risk decisions on, the true relative risk (float64) adds 8 bytes per customer.
    """

    def __init__(self, cfg: CustomersConfig, needs: dict[str, NeedConfig], n_firms: int, key: int,
                 network_seed: list[int], horizon: int, transactions: bool = False,
                 separate_units: bool = False, lenders: Sequence[int] = (),
                 basket_cache: bool = False) -> None:
        """Sample the population: traits, needs and network (no relationships yet).

        Args:
            cfg: the ``customers`` block (validated).
            needs: the needs by name, in index order.
            n_firms: number of firms (<= 64).
            key: replication key from ``kernels.rng.run_key``.
            network_seed: entropy for the network's NumPy stream (seed, replication, stream).
            horizon: number of steps, to size the cohort ledgers.
            transactions: keep a log of every purchase.
            separate_units: awareness is held of brands that are not one per firm, so the
                brands each customer uses are kept apart from the firms (8 bytes per customer);
                otherwise they are the same bitmask.
            lenders: the firms whose estimation noise of each customer is kept with risk
                decisions on (8 bytes per customer each; ``model.potential_lenders``).
            basket_cache: keep each customer-need's basket once drawn (8 bytes per
                customer-need; ``config.limits.basket_cache``); the same results either way.
        """
        self.cfg = cfg
        self.key = np.uint64(key)
        n, n_needs = cfg.n, len(needs)
        self.need_id = need_ids(list(needs))
        needs = list(needs.values())
        self.n, self.n_needs, self.n_firms = n, n_needs, n_firms
        segments = list(cfg.segments.values())
        self.segment_names = list(cfg.segments)
        self.lifecycle_kind = CONTRACTUAL if cfg.lifecycle.kind == "contractual" else NONCONTRACTUAL

        self.segment = np.empty(n, np.uint8)
        self.age_band = np.empty(n, np.uint8)
        self.income_band = np.empty(n, np.uint8)
        self.traits = np.empty((n, N_TRAITS), np.float32)
        # basket draw × income multiplier per customer-need, NaN until first drawn; no rows
        # without the cache (the step kernel then draws it at every use)
        self.basket = np.full((n if basket_cache else 0, n_needs), np.nan)
        self.life = np.empty((n, 2), np.float32)
        self.flags = np.empty((n, n_needs), np.uint8)
        self.provider = np.full((n, n_needs), -1, np.int8)
        self.habit = np.zeros((n, n_needs), np.float32)
        self.since = np.zeros((n, n_needs), np.int16)
        self.aware = np.zeros(n, np.uint64)
        self.customer_of = np.zeros(n, np.uint64)
        # the brands each customer uses: the firms' bitmask itself when brands are one per firm
        self.unit_of = np.zeros(n, np.uint64) if separate_units else self.customer_of
        self.fatigue = np.zeros(n, np.float32)
        self.trial = np.full(n, -1, np.int8)
        # satisfaction per customer-need, held only when the mechanism is on (memory > 0)
        self.satisfaction = np.zeros((n if cfg.satisfaction.memory > 0 else 0, n_needs),
                                     np.float32)
        # true relative risk per customer, held only with risk decisions on (drawn below)
        self.rho = np.zeros(0)
        # with risk decisions on, each lender's estimation noise of each customer: fixed for the
        # run, drawn the first time the lender looks at the customer and kept (NaN until then),
        # so later steps read it instead of drawing it again; a firm lending outside ``lenders``
        # draws it every step, which gives the same numbers
        self.noise_firms = np.array(lenders if cfg.risk.enabled else [], np.int64)
        self.noise = np.full((n if self.noise_firms.size else 0, self.noise_firms.size), np.nan)
        self.by_brand = cfg.awareness == "brand"

        weights = np.array([s.weight for s in segments], float)
        factor_dist = np.array([[dist_args(getattr(s, f))[0] for f in FACTORS] for s in segments],
                               np.int64)
        factor_p = np.array([[dist_args(getattr(s, f))[1:] for f in FACTORS] for s in segments])
        sw = dist_args(cfg.switching_cost)
        life_specs = ([cfg.lifecycle.hazard, DistSpec("fixed", value=0.0)]
                      if self.lifecycle_kind == CONTRACTUAL
                      else [cfg.lifecycle.rate, cfg.lifecycle.dropout])
        life_args = [dist_args(spec) for spec in life_specs]
        run_ranges(
            _sample_customers, self.n, self.key, np.cumsum(weights) / weights.sum(), factor_dist,
            factor_p, sw[0], np.array(sw[1:]), np.array([a[0] for a in life_args], np.int64),
            np.array([a[1:] for a in life_args]),
            np.array([s.age_band for s in segments], np.uint8),
            np.array([s.income_band for s in segments], np.uint8),
            cfg.sociodemo.informativeness, cfg.sociodemo.age_bands,
            np.array(cfg.sociodemo.income_scale, np.float32),
            np.array([nd.prevalence for nd in needs]), self.need_id,
            self.segment, self.age_band, self.income_band, self.traits, self.life, self.flags)
        if self.lifecycle_kind == CONTRACTUAL:
            np.clip(self.life, 0.0, 1.0, out=self.life)
        if cfg.risk.enabled:
            self.rho = self.true_risk()

        self.prevalence = np.array([nd.prevalence for nd in needs])
        self.prevalence_growth = np.array([nd.prevalence_growth for nd in needs])
        self.basket_growth = np.array([nd.basket_growth for nd in needs])
        self.basket_scale = np.ones(n_needs)
        self.occurrence = np.array([nd.occurrence for nd in needs])
        self.hazard_scale = np.array([nd.hazard_scale for nd in needs])
        basket = [dist_args(nd.basket) for nd in needs]
        self.basket_dist = np.array([b[0] for b in basket], np.int64)
        self.basket_p = np.array([b[1:] for b in basket])

        rng = np.random.default_rng(np.random.SeedSequence([*network_seed, STREAM_NETWORK]))
        self.indptr, self.indices = build_network(cfg.network, n, rng)

        n_income = len(cfg.sociodemo.income_scale)
        self.n_income = n_income
        cells = {"none": np.zeros(n, np.int64), "behavioural": self.segment.astype(np.int64),
                 "sociodemographic": self.age_band.astype(np.int64) * n_income + self.income_band}
        self.n_cells = max(int(cell.max()) + 1 for cell in cells.values())
        fatigue, sat, risk = cfg.fatigue, cfg.satisfaction, cfg.risk
        risk_code, risk_p1, risk_p2 = dist_args(risk.relative)
        self.behaviour = np.array([
            cfg.habit_gain, fatigue.per_contact, fatigue.decay, fatigue.openness_gain,
            fatigue.annoyance, cfg.price_alert, cfg.taste_scale, cfg.shock_scale,
            cfg.lifecycle.joint_exit, sat.memory, sat.noise, sat.openness_effect,
            sat.alert_effect,
            -np.inf if sat.failure_threshold is None else sat.failure_threshold,
            1.0 if risk.enabled else 0.0, risk_code, risk_p1, risk_p2, dist_mean(risk.relative),
            dist_sd(risk.relative)])
        self.ledgers = Ledgers(n, n_firms, n_needs, len(segments), horizon, self.n_cells)
        capacity = 0
        if transactions:
            per_need = 1 if self.lifecycle_kind == CONTRACTUAL else max(
                2, int(np.ceil(3 * dist_mean(cfg.lifecycle.rate) + 3)))
            capacity = min(n, BLOCK) * n_needs * per_need
        self.tx = np.zeros((n_blocks(n), capacity, N_TX))
        self.tx_count = np.zeros(n_blocks(n), np.int64)
        self.capped = np.zeros(n_blocks(n), np.int64)

    def units(self, offers: Offers, launch_p: np.ndarray) -> AwarenessUnits:
        """This step's awareness units (brands or firms) from the offers."""
        # at least one unit per firm: a firm's own brand is unit f when brands are one per firm,
        # whether or not the firm (and so its brand) is in the market yet
        n_units = max(int(max(offers.brand.max(initial=0), offers.firm_brand.max(initial=0))) + 1,
                      self.n_firms)
        return AwarenessUnits.of(self.by_brand, offers, launch_p, n_units)

    def offering_units(self, offers: Offers) -> np.ndarray:
        """The awareness unit of each offering (F, K): its brand, or its firm."""
        if self.by_brand:
            return offers.brand
        return firm_units(offers)

    def start(self, initial_awareness: np.ndarray, initial_share: np.ndarray,
              offers: Offers) -> None:
        """Step 0: who knows which brand (or firm) and who uses which firm for each need.

        Args:
            initial_awareness: (F,) share of customers who know each firm's own brand.
            initial_share: (F, K) share of customers with the need who start with each firm.
            offers: the offers at step 0.
        """
        share_cum = np.cumsum(initial_share.T, axis=1)
        units = self.units(offers, initial_awareness)
        run_ranges(_initial_state, self.n, self.key, units.launch_p, share_cum, offers.available,
                   units.unit, np.float32(self.cfg.initial_habit), self.need_id,
                   self.lifecycle_kind == NONCONTRACTUAL, self.flags, self.provider, self.habit,
                   self.since, self.aware, self.customer_of, self.unit_of)

    def spread_awareness(self, step: int, offers: Offers, policies: Policies,
                         users: np.ndarray) -> None:
        """Awareness and referrals (docs/model.md "Step order", step 2).

        ``users``: last step's customers of each firm.
        """
        units = self.units(offers, np.ascontiguousarray(policies.firm_real[:, LAUNCH_AWARENESS]))
        firm_share = users / self.n
        unit_share = firm_share  # the same when units are firms; read only without a network
        if self.unit_of is not self.customer_of and self.indptr.shape[0] == 0:
            unit_share = np.array([np.count_nonzero((self.unit_of >> np.uint64(u)) & np.uint64(1))
                                   for u in range(units.active.shape[0])]) / self.n
        referral_rate = np.ascontiguousarray(policies.firm_real[:, REFERRAL_RATE])
        run_ranges(_spread_awareness, n_blocks(self.n), self.key, step, units.active,
                   units.reach_p, units.word_of_mouth, units.launch_p, offers.active,
                   referral_rate, referral_stays(referral_rate), units.firm_unit,
                   unit_share, firm_share, float(self.cfg.network.degree), self.indptr,
                   self.indices, self.traits, self.customer_of, self.unit_of,
                   self.unit_of is self.customer_of, self.aware, self.trial)

    def apply_trends(self, step: int) -> None:
        """Prevalence and basket of trending needs at ``step`` (docs/model.md, "Trends")."""
        trending = self.prevalence_growth != 0.0
        if trending.any():
            prevalence = np.minimum(1.0, self.prevalence * (1.0 + self.prevalence_growth) ** step)
            run_ranges(_update_prevalence, self.n, self.key, prevalence, self.need_id, trending,
                       self.flags)
        self.basket_scale = (1.0 + self.basket_growth) ** step

    def live_and_choose(self, step: int, offers: Offers, policies: Policies,
                        price_rise: np.ndarray) -> Ledgers:
        """Lifecycle, choices, cross-sell and the ledgers (docs/model.md "Step order", step 3).

        ``price_rise[f, k]`` is the rise of ln price_index this step (0 when none).
        """
        self.ledgers.reset(step)
        self.tx_count.fill(0)
        ledgers = self.ledgers
        _step_customers(
            Rules(self.key, step, self.lifecycle_kind, self.n_income, self.behaviour),
            Market(offers.available, offers.price, np.log(offers.price), offers.quality,
                   offers.convenience, offers.experience, offers.margin_rate, offers.loss_rate,
                   offers.brand, price_rise, offers.hazard_scale, policies.firm_real,
                   policies.firm_int, policies.bundle_mask, policies.contact_p,
                   self.offering_units(offers),
                   # ln(experience) with libm's log, as the kernels take logs (satisfaction)
                   np.array([[math.log(max(e, 1e-9)) for e in row]
                             for row in offers.experience.tolist()])),
            Customers(self.traits, self.life, self.segment, self.age_band, self.income_band,
                      self.rho, self.noise, self.noise_firms, self.basket),
            Needs(self.need_id, self.occurrence, self.hazard_scale, self.basket_dist,
                  self.basket_p, self.basket_scale),
            State(self.provider, self.habit, self.since, self.flags, self.aware,
                  self.customer_of, self.fatigue, self.trial, self.satisfaction, self.unit_of),
            Books(ledgers.fk, ledgers.f, ledgers.sf, ledgers.cohort, ledgers.cells, self.tx,
                  self.tx_count, self.capped, ledgers.sk))
        return self.ledgers

    def true_risk(self) -> np.ndarray:
        """Each customer's true relative risk ``rho`` (docs/model.md, "Risk decisions").

        Drawn from its own stream whether or not risk decisions are on; a run with them on
        holds it (``rho``, 8 bytes per customer).
        """
        code, p1, p2 = dist_args(self.cfg.risk.relative)
        out = np.empty(self.n)
        run_ranges(_true_risks, self.n, self.key, code, p1, p2, out)
        return out

    def transactions(self) -> np.ndarray:
        """This step's purchases as rows (customer, time, need, firm, amount, contribution).

        A new array: the step buffers it is copied from are overwritten next step, so a caller
        may keep it (or hand it on) without holding more than its own rows.
        """
        return np.concatenate([self.tx[b, :c] for b, c in enumerate(self.tx_count)])

    @property
    def was_capped(self) -> bool:
        """Whether a cap bound in any step (purchases per step, or the transaction log)."""
        return bool(self.capped.any())

    def customer_counts(self, n_firms: int,
                        n_segments: int) -> tuple[np.ndarray, np.ndarray]:
        """Simulated customers now, counted in one pass: ``(by_unit, by_segment)``.

        ``by_unit`` (F, K): customers using firm f for need k. ``by_segment`` (S, F + 1):
        customers of segment s using firm f for some need, and in column F all of segment s.
        """
        by_unit = np.zeros((n_firms, self.n_needs), np.int64)
        by_segment = np.zeros((n_segments, n_firms + 1), np.int64)
        _customer_counts(self.provider, self.segment, by_unit, by_segment)
        return by_unit, by_segment

    def nbytes(self) -> dict[str, int]:
        """Bytes held per customer and per customer-need (the network is reported apart)."""
        separate = [self.unit_of] if self.unit_of is not self.customer_of else []
        separate += [self.rho, self.noise]
        per_customer = sum(a.nbytes for a in (self.segment, self.age_band, self.income_band,
                                              self.traits, self.life, self.aware,
                                              self.customer_of, *separate, self.fatigue,
                                              self.trial)) // self.n
        per_need = sum(a.nbytes for a in (self.provider, self.habit, self.since, self.flags,
                                          self.satisfaction, self.basket)
                       ) // (self.n * self.n_needs)
        return {"per_customer": per_customer, "per_customer_need": per_need,
                "network": self.indptr.nbytes + self.indices.nbytes}
