"""The benchmark's market written as plain Mesa agents: the yardstick for ``bench_step``.

One ``mesa.Agent`` per customer and one per firm, as a Mesa user would write the step of
docs/model.md ("Step order") without ecosim's kernels. It plays the same step as
``EcosystemModel`` for the subset of the configuration the benchmark uses:

* awareness (step 2): mean-field word of mouth plus advertising reach;
* contractual lifecycle (step 3): each relationship ends with the customer's hazard per step;
* needs and choices (step 4): the same utility, consideration set, habit and Gumbel noise;
* accounting (step 6): revenue, gross margin, losses, purchases, customers, new and churned per
  firm and need; customers, new, churned and wallet per firm.

Other business models, entrants, partners, cross-sell, referrals, events, networks, the
noncontractual lifecycle, segment and cohort ledgers and transaction logs are not implemented
(the constructor refuses such configurations; the ledgers are simply not kept). ecosim's kernel
still evaluates those rules (switched off) for every customer-need, and leaving them out only
makes this reference faster, so the measured speed-up is a lower bound.

Draws come from the model's NumPy ``Generator`` (``model.rng``), scalar draws per decision, so
results match ``EcosystemModel`` in distribution, not draw for draw: ``bench_step`` checks that
the market shares of both agree within sampling error.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from ecosim.config.schema import FACTORS, DistSpec, EcosimConfig


def draw(rng: np.random.Generator, spec: DistSpec) -> float:
    """One draw of a distribution spec (docs/design.md §8 families and parameters)."""
    if spec.dist == "fixed":
        return float(spec.value)
    if spec.dist == "normal":
        return float(rng.normal(spec.mean, spec.sd))
    if spec.dist == "lognormal":
        return float(rng.lognormal(spec.mean, spec.sd))
    if spec.dist == "beta":
        return float(rng.beta(spec.a, spec.b))
    if spec.dist == "gamma":
        return float(rng.gamma(spec.shape, spec.scale))
    if spec.dist == "uniform":
        return float(rng.uniform(spec.low, spec.high))
    raise ValueError(f"unknown distribution {spec.dist!r}")


class Firm(mesa.Agent):
    """A standalone firm: its offers per need and its ledgers of the current step.

    Offer lists are indexed by need; ``offers[k]`` is False where the firm does not serve need k.
    Ledgers are currency or customer counts for one step.
    """

    def __init__(self, model: MesaMarket, index: int, name: str) -> None:
        """Read the firm's offerings from the model's configuration."""
        super().__init__(model)
        cfg = model.cfg.firms[name]
        n_needs = len(model.need_names)
        self.index = index
        self.name = name
        self.cfg = cfg
        self.offers = [False] * n_needs
        self.price = [1.0] * n_needs
        self.log_price = [0.0] * n_needs
        self.quality = [0.0] * n_needs
        self.convenience = [0.0] * n_needs
        self.experience = [1.0] * n_needs
        self.margin_rate = [0.0] * n_needs
        self.brand = [cfg.brand or name] * n_needs
        for need, offering in cfg.offerings.items():
            k = model.need_names.index(need)
            self.offers[k] = True
            self.price[k] = offering.price_index
            self.log_price[k] = math.log(offering.price_index)
            self.quality[k] = offering.quality
            self.convenience[k] = offering.convenience
            self.experience[k] = offering.experience
            self.margin_rate[k] = offering.margin_rate
            self.brand[k] = offering.brand or self.brand[k]
        self.reach_p = 0.0
        self.word_of_mouth = cfg.marketing.word_of_mouth
        self.marketing_spend = 0.0
        self.reset_ledgers()

    def reset_ledgers(self) -> None:
        """Zero the ledgers of the step."""
        n_needs = len(self.offers)
        self.revenue = [0.0] * n_needs
        self.gross_margin = [0.0] * n_needs
        self.losses = [0.0] * n_needs
        self.purchases = [0] * n_needs
        self.unit_customers = [0] * n_needs
        self.unit_new = [0] * n_needs
        self.unit_churned = [0] * n_needs
        self.customers = 0
        self.new_customers = 0
        self.churned_customers = 0
        self.customer_wallet = 0.0

    def step(self) -> None:
        """Spend the marketing budget (reach ``1 - exp(-budget / (N * reach_cost))``)."""
        marketing = self.cfg.marketing
        self.marketing_spend = marketing.budget
        self.reach_p = 1.0 - math.exp(-marketing.budget
                                      / (self.model.n_customers * marketing.reach_cost))
        self.reset_ledgers()


class Customer(mesa.Agent):
    """A customer: traits, a provider and a habit per need, and the set of firms it knows."""

    def __init__(self, model: MesaMarket) -> None:
        """Draw the customer's segment, traits, needs and baskets, and its state at step 0."""
        super().__init__(model)
        cfg = model.cfg.customers
        rng = model.rng
        segment = model.segments[int(rng.choice(len(model.segments), p=model.segment_weights))]
        factors = {name: draw(rng, getattr(segment, name)) for name in FACTORS}
        self.price_sensitivity = factors["price_sensitivity"]
        self.convenience_sensitivity = factors["convenience_sensitivity"]
        self.brand_affinity = factors["brand_affinity"]
        self.habit_strength = factors["habit_strength"]
        self.openness = min(max(factors["openness"], 0.0), 1.0)
        self.social_influence = min(max(factors["social_influence"], 0.0), 1.0)
        self.switching_cost = draw(rng, cfg.switching_cost)
        self.hazard = min(max(draw(rng, cfg.lifecycle.hazard), 0.0), 1.0)
        sociodemo = cfg.sociodemo
        n_income = len(sociodemo.income_scale)
        if rng.random() < sociodemo.informativeness:
            income_band = segment.income_band
        else:
            income_band = int(rng.integers(n_income))
        income_scale = sociodemo.income_scale[income_band]
        needs = list(model.cfg.needs.values())
        self.has_need = [bool(rng.random() < need.prevalence) for need in needs]
        self.basket = [draw(rng, need.basket) * income_scale for need in needs]
        # step 0: awareness and providers (firm index per need, None = outside option)
        self.aware = {firm.index for firm in model.firm_list
                      if rng.random() < firm.cfg.initial_awareness}
        self.provider: list[int | None] = [None] * len(needs)
        self.habit = [0.0] * len(needs)
        for k, need in enumerate(model.need_names):
            if not self.has_need[k]:
                continue
            u = rng.random()
            cumulative = 0.0
            for firm in model.firm_list:
                cumulative += firm.cfg.initial_share.get(need, 0.0)
                if u < cumulative:
                    self.provider[k] = firm.index
                    self.habit[k] = cfg.initial_habit
                    self.aware.add(firm.index)
                    break

    def step(self) -> None:
        """Learn about firms, then live and choose for every need that arises; book the step."""
        model = self.model
        rng = model.rng
        firms = model.firm_list
        # awareness: advertising reach plus mean-field word of mouth (last step's shares)
        for firm in firms:
            if firm.index not in self.aware:
                p = 1.0 - (1.0 - firm.reach_p) * (
                    1.0 - firm.word_of_mouth * self.social_influence * model.user_share[firm.index])
                if rng.random() < p:
                    self.aware.add(firm.index)
        start_firms = {p for p in self.provider if p is not None}
        brands_used = {firms[p].brand[k] for k, p in enumerate(self.provider) if p is not None}
        wallet = 0.0
        for k in range(len(self.provider)):
            if not self.has_need[k]:
                continue
            previous = current = self.provider[k]
            if current is not None and not firms[current].offers[k]:
                current = None
                self.habit[k] = 0.0
            arises = False
            if current is not None and rng.random() < self.hazard:
                current = None  # the contract ends; not re-chosen this step
                self.habit[k] = 0.0
            elif rng.random() < model.occurrence[k]:
                arises = True
            if arises:
                consider_all = current is None or rng.random() < self.openness
                chosen = self.choose(k, current, consider_all, brands_used)
                if chosen is not None and chosen == current:
                    self.habit[k] = min(1.0, self.habit[k] + model.habit_gain
                                        * firms[chosen].experience[k] * (1.0 - self.habit[k]))
                else:
                    self.habit[k] = 0.0
                    if chosen is not None:
                        self.aware.add(chosen)
                        brands_used.add(firms[chosen].brand[k])
                current = chosen
                basket = self.basket[k]
                wallet += basket
                if chosen is not None:
                    firm = firms[chosen]
                    spend = basket * firm.price[k]
                    firm.revenue[k] += spend
                    firm.gross_margin[k] += spend * firm.margin_rate[k]
                    firm.losses[k] += spend * model.loss_rate[k]
                    firm.purchases[k] += 1
            self.provider[k] = current
            if current != previous:
                if previous is not None:
                    firms[previous].unit_churned[k] += 1
                if current is not None:
                    firms[current].unit_new[k] += 1
            if current is not None:
                firms[current].unit_customers[k] += 1
        end_firms = {p for p in self.provider if p is not None}
        for f in end_firms:
            firms[f].customers += 1
            firms[f].customer_wallet += wallet
            if f not in start_firms:
                firms[f].new_customers += 1
        for f in start_firms - end_firms:
            firms[f].churned_customers += 1

    def choose(self, k: int, current: int | None, consider_all: bool,
               brands_used: set[str]) -> int | None:
        """Logit choice for need ``k``: the best of the consideration set and the outside option."""
        rng = self.model.rng
        best, best_u = None, rng.gumbel()  # the outside option: utility 0 + Gumbel
        for firm in self.model.firm_list:
            if not firm.offers[k]:
                continue
            f = firm.index
            if f != current and not (consider_all and f in self.aware):
                continue
            u = (firm.quality[k] - self.price_sensitivity * firm.log_price[k]
                 + self.convenience_sensitivity * firm.convenience[k])
            if firm.brand[k] in brands_used:
                u += self.brand_affinity
            if f == current:
                u += self.habit_strength * self.habit[k] + self.switching_cost
            u += rng.gumbel()
            if u > best_u:
                best, best_u = f, u
        return best


class MesaMarket(mesa.Model):
    """The benchmark market with one Mesa agent per customer.

    Args:
        cfg: a validated configuration (``ecosim.config.load_config``) within the subset above.
        seed: seed of ``model.rng``.
    """

    def __init__(self, cfg: EcosimConfig, seed: int = 0) -> None:
        """Create firms and customers; record the step-0 customers of each firm."""
        super().__init__(seed=seed)
        customers = cfg.customers
        unsupported = [name for name, firm in cfg.firms.items()
                       if firm.model != "standalone" or firm.enters_at > 0 or firm.partner_of
                       or firm.cross_sell.contacts_per_step > 0 or firm.referral.rate > 0
                       or firm.marketing.rule != "fixed"]
        if (customers.lifecycle.kind != "contractual" or customers.network.kind != "none"
                or cfg.events or unsupported):
            raise NotImplementedError(
                "the Mesa reference plays only standalone firms present from step 0 with fixed "
                "marketing, no cross-sell or referrals, the contractual lifecycle, no network "
                f"and no events (unsupported firms: {unsupported})")
        self.cfg = cfg
        self.n_customers = customers.n
        self.need_names = list(cfg.needs)
        self.occurrence = [need.occurrence for need in cfg.needs.values()]
        self.loss_rate = [need.base_loss if need.risk_priced else 0.0
                          for need in cfg.needs.values()]
        self.habit_gain = customers.habit_gain
        self.segments = list(customers.segments.values())
        weights = np.array([s.weight for s in self.segments])
        self.segment_weights = weights / weights.sum()
        self.firm_list = [Firm(self, index, name) for index, name in enumerate(cfg.firms)]
        for _ in range(customers.n):
            Customer(self)
        self.customer_set = self.agents_by_type[Customer]
        self.firm_set = self.agents_by_type[Firm]
        users = [0] * len(self.firm_list)
        for customer in self.customer_set:
            for f in {p for p in customer.provider if p is not None}:
                users[f] += 1
        self.user_share = [u / self.n_customers for u in users]
        self.history: list[dict[str, np.ndarray]] = []

    def step(self) -> None:
        """Firms act, then every customer learns, lives and chooses; record the ledgers."""
        self.firm_set.do("step")
        self.customer_set.do("step")
        self.user_share = [firm.customers / self.n_customers for firm in self.firm_list]
        self.history.append({
            name: np.array([getattr(firm, name) for firm in self.firm_list], float)
            for name in ("revenue", "gross_margin", "losses", "purchases", "unit_customers",
                         "unit_new", "unit_churned", "customers", "new_customers",
                         "churned_customers", "customer_wallet")})
