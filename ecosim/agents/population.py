"""The customers: a struct of arrays, sampled from the configuration and advanced by kernels.

Customers are many and simple, so they are never Mesa agents: each is a row in the arrays below,
and every phase of a step is one jitted pass over them (docs/model.md, "Customers").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecosim.agents.network import build_network
from ecosim.config.schema import DIST_PARAMS, FACTORS, CustomersConfig, DistSpec, NeedConfig
from ecosim.kernels.accounting import BLOCK, Ledgers, n_blocks
from ecosim.kernels.awareness import _spread_awareness
from ecosim.kernels.business import GROUP, LAUNCH_AWARENESS, N_FIRM_INT, N_FIRM_REAL, REFERRAL_RATE
from ecosim.kernels.distributions import DIST_CODES
from ecosim.kernels.lifecycle import CONTRACTUAL, NONCONTRACTUAL
from ecosim.kernels.population import N_TRAITS, _initial_state, _sample_customers
from ecosim.kernels.rng import STREAM_NETWORK
from ecosim.kernels.state import Books, Customers, Market, Needs, Rules, State, need_ids
from ecosim.kernels.step import N_TX, _step_customers


def dist_args(spec: DistSpec) -> tuple[int, float, float]:
    """A distribution spec as the kernels take it: ``(family code, p1, p2)``."""
    names = DIST_PARAMS[spec.dist]
    values = [float(getattr(spec, name)) for name in names] + [0.0]
    return DIST_CODES[spec.dist], values[0], values[1]


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
    reach_p: np.ndarray  # (F,) advertising reach probability this step
    word_of_mouth: np.ndarray  # (F,) Bass imitation coefficient
    active: np.ndarray  # (F,) firm in the market

    @classmethod
    def empty(cls, n_firms: int, n_needs: int) -> Offers:
        """No firm in the market yet."""
        fk = (n_firms, n_needs)
        return cls(available=np.zeros(fk, np.bool_), price=np.ones(fk), quality=np.zeros(fk),
                   convenience=np.zeros(fk), experience=np.ones(fk), margin_rate=np.zeros(fk),
                   loss_rate=np.zeros(fk), brand=np.zeros(fk, np.int64),
                   hazard_scale=np.ones(fk),
                   reach_p=np.zeros(n_firms), word_of_mouth=np.zeros(n_firms),
                   active=np.zeros(n_firms, np.bool_))


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
    behavioural factors, switching cost, income multiplier), two float32 lifecycle draws, two
    uint64 bitmasks (known firms, used firms), contact fatigue (float32) and the firm that
    referred them this step (int8): 64 bytes. Per customer-need: provider (int8), habit
    (float32), cohort step (int16) and flags (uint8): 8 bytes.
    """

    def __init__(self, cfg: CustomersConfig, needs: dict[str, NeedConfig], n_firms: int, key: int,
                 network_seed: list[int], horizon: int, transactions: bool = False) -> None:
        """Sample the population: traits, needs and network (no relationships yet).

        Args:
            cfg: the ``customers`` block (validated).
            needs: the needs by name, in index order.
            n_firms: number of firms (<= 64).
            key: replication key from ``kernels.rng.run_key``.
            network_seed: entropy for the network's NumPy stream (seed, replication, stream).
            horizon: number of steps, to size the cohort ledgers.
            transactions: keep a log of every purchase.
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
        self.life = np.empty((n, 2), np.float32)
        self.flags = np.empty((n, n_needs), np.uint8)
        self.provider = np.full((n, n_needs), -1, np.int8)
        self.habit = np.zeros((n, n_needs), np.float32)
        self.since = np.zeros((n, n_needs), np.int16)
        self.aware = np.zeros(n, np.uint64)
        self.customer_of = np.zeros(n, np.uint64)
        self.fatigue = np.zeros(n, np.float32)
        self.trial = np.full(n, -1, np.int8)

        weights = np.array([s.weight for s in segments], float)
        factor_dist = np.array([[dist_args(getattr(s, f))[0] for f in FACTORS] for s in segments],
                               np.int64)
        factor_p = np.array([[dist_args(getattr(s, f))[1:] for f in FACTORS] for s in segments])
        sw = dist_args(cfg.switching_cost)
        life_specs = ([cfg.lifecycle.hazard, DistSpec("fixed", value=0.0)]
                      if self.lifecycle_kind == CONTRACTUAL
                      else [cfg.lifecycle.rate, cfg.lifecycle.dropout])
        life_args = [dist_args(spec) for spec in life_specs]
        _sample_customers(
            self.key, np.cumsum(weights) / weights.sum(), factor_dist, factor_p,
            sw[0], np.array(sw[1:]), np.array([a[0] for a in life_args], np.int64),
            np.array([a[1:] for a in life_args]),
            np.array([s.age_band for s in segments], np.uint8),
            np.array([s.income_band for s in segments], np.uint8),
            cfg.sociodemo.informativeness, cfg.sociodemo.age_bands,
            np.array(cfg.sociodemo.income_scale, np.float32),
            np.array([nd.prevalence for nd in needs]), self.need_id,
            self.segment, self.age_band, self.income_band, self.traits, self.life, self.flags)
        if self.lifecycle_kind == CONTRACTUAL:
            np.clip(self.life, 0.0, 1.0, out=self.life)

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
        fatigue = cfg.fatigue
        self.behaviour = np.array([cfg.habit_gain, fatigue.per_contact, fatigue.decay,
                                   fatigue.openness_gain, fatigue.annoyance, cfg.price_alert,
                                   cfg.taste_scale, cfg.shock_scale, cfg.lifecycle.joint_exit])
        self.ledgers = Ledgers(n, n_firms, n_needs, len(segments), horizon, self.n_cells)
        capacity = 0
        if transactions:
            per_need = 1 if self.lifecycle_kind == CONTRACTUAL else max(
                2, int(np.ceil(3 * dist_mean(cfg.lifecycle.rate) + 3)))
            capacity = min(n, BLOCK) * n_needs * per_need
        self.tx = np.zeros((n_blocks(n), capacity, N_TX))
        self.tx_count = np.zeros(n_blocks(n), np.int64)
        self.capped = np.zeros(n_blocks(n), np.int64)

    def start(self, initial_awareness: np.ndarray, initial_share: np.ndarray,
              offered: np.ndarray) -> None:
        """Step 0: who knows which firm and who uses which firm for each need.

        Args:
            initial_awareness: (F,) share of customers who know each firm.
            initial_share: (F, K) share of customers with the need who start with each firm.
            offered: (F, K) whether each firm offers each need at step 0.
        """
        share_cum = np.cumsum(initial_share.T, axis=1)
        _initial_state(self.key, initial_awareness, share_cum, offered,
                       np.float32(self.cfg.initial_habit), self.need_id,
                       self.lifecycle_kind == NONCONTRACTUAL, self.flags, self.provider,
                       self.habit, self.since, self.aware, self.customer_of)

    def spread_awareness(self, step: int, offers: Offers, policies: Policies,
                         users: np.ndarray) -> None:
        """Awareness and referrals (docs/model.md "Step order", step 2).

        ``users``: last step's customers of each firm.
        """
        _spread_awareness(self.key, step, offers.active, offers.reach_p, offers.word_of_mouth,
                          np.ascontiguousarray(policies.firm_real[:, LAUNCH_AWARENESS]),
                          np.ascontiguousarray(policies.firm_real[:, REFERRAL_RATE]),
                          users / self.n, float(self.cfg.network.degree), self.indptr,
                          self.indices, self.traits, self.customer_of, self.aware, self.trial)

    def live_and_choose(self, step: int, offers: Offers, policies: Policies,
                        price_rise: np.ndarray) -> Ledgers:
        """Lifecycle, choices, cross-sell and the ledgers (docs/model.md "Step order", step 3).

        ``price_rise[f, k]`` is the rise of ln price_index this step (0 when none).
        """
        self.ledgers.reset()
        self.tx_count.fill(0)
        ledgers = self.ledgers
        _step_customers(
            Rules(self.key, step, self.lifecycle_kind, self.n_income, self.behaviour),
            Market(offers.available, offers.price, np.log(offers.price), offers.quality,
                   offers.convenience, offers.experience, offers.margin_rate, offers.loss_rate,
                   offers.brand, price_rise, offers.hazard_scale, policies.firm_real,
                   policies.firm_int, policies.bundle_mask, policies.contact_p),
            Customers(self.traits, self.life, self.segment, self.age_band, self.income_band),
            Needs(self.need_id, self.occurrence, self.hazard_scale, self.basket_dist,
                  self.basket_p),
            State(self.provider, self.habit, self.since, self.flags, self.aware,
                  self.customer_of, self.fatigue, self.trial),
            Books(ledgers.fk, ledgers.f, ledgers.sf, ledgers.cohort, ledgers.cells, self.tx,
                  self.tx_count, self.capped))
        return self.ledgers

    def transactions(self) -> np.ndarray:
        """This step's purchases as rows (customer, time, need, firm, amount, contribution)."""
        return np.concatenate([self.tx[b, :c] for b, c in enumerate(self.tx_count)])

    @property
    def was_capped(self) -> bool:
        """Whether a cap bound in any step (purchases per step, or the transaction log)."""
        return bool(self.capped.any())

    def nbytes(self) -> dict[str, int]:
        """Bytes held per customer and per customer-need (the network is reported apart)."""
        per_customer = sum(a.nbytes for a in (self.segment, self.age_band, self.income_band,
                                              self.traits, self.life, self.aware,
                                              self.customer_of, self.fatigue,
                                              self.trial)) // self.n
        per_need = sum(a.nbytes for a in (self.provider, self.habit, self.since,
                                          self.flags)) // (self.n * self.n_needs)
        return {"per_customer": per_customer, "per_customer_need": per_need,
                "network": self.indptr.nbytes + self.indices.nbytes}
