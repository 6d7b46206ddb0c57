"""The public configuration schema of ecosim (docs/design.md §8), one dataclass per block.

Every scalar has a default and every collection starts empty, so a user's YAML that starts with
``defaults: [ecosim, _self_]`` only states what differs. Collections (segments, needs, firms,
offerings) are keyed by name so that ``firms.bank.marketing.budget=1e5`` works on the command line.

Units: all rates are per step (``time.step_unit``); money is in one currency unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Distribution families and the parameters each one takes (its *natural* parameters).
DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),  # mean and sd of log(X)
    "beta": ("a", "b"),
    "gamma": ("shape", "scale"),
    "uniform": ("low", "high"),
}

STEP_UNITS = ("day", "week", "month", "year")
LIFECYCLE_KINDS = ("contractual", "noncontractual")
NETWORK_KINDS = ("none", "erdos_renyi", "watts_strogatz")
BUSINESS_MODELS = ("standalone", "bundle", "marketplace", "ecosystem")
MARKETING_RULES = ("fixed", "ltv_cac_target")
ORGANISATIONS = ("silo", "value_stream")
TARGETINGS = ("none", "sociodemographic", "behavioural")
AWARENESS_OF = ("brand", "firm")

#: The most firms, needs and brands a run can hold: the kernels keep each as one bit of a uint64
#: mask per customer and reserve this many draw slots per customer (``kernels.population``
#: defines the same number, as kernels import only numpy and numba; a test checks they agree).
MAX_INDEX = 64
MAX_FIRMS = MAX_NEEDS = MAX_BRANDS = MAX_INDEX
#: The most segments and socio-demographic bands (age, income): each is a uint8 per customer.
MAX_SEGMENTS = 256
MAX_BANDS = 256
#: The most steps: cohort steps are int16 per customer-need.
MAX_HORIZON = 32767
#: The most replications of a run: beyond this, confidence intervals narrow by less than 1 %
#: per extra thousand replications, and the run takes days.
MAX_REPLICATIONS = 10_000

#: A customer's six behavioural factors (docs/design.md §2.2), in the order the kernels store them.
FACTORS = (
    "price_sensitivity",
    "convenience_sensitivity",
    "brand_affinity",
    "habit_strength",
    "openness",
    "social_influence",
)


@dataclass
class DistSpec:
    """A distribution across customers: ``{dist: beta, a: 2, b: 8}``.

    Only the parameters of the chosen family may be set (see ``DIST_PARAMS``); the others stay
    ``None``. ``lognormal`` takes the mean and sd of ``log X``.
    """

    dist: str = "fixed"
    value: float | None = None
    mean: float | None = None
    sd: float | None = None
    a: float | None = None
    b: float | None = None
    shape: float | None = None
    scale: float | None = None
    low: float | None = None
    high: float | None = None


def _fixed(value: float) -> Any:
    return field(default_factory=lambda: DistSpec(dist="fixed", value=value))


@dataclass
class SegmentConfig:
    """A behavioural segment: its weight in the population and its six factor distributions.

    ``age_band`` and ``income_band`` are the segment's typical socio-demographic bands; how often a
    member actually falls in them is set by ``customers.sociodemo.informativeness``.
    """

    weight: float = 1.0
    price_sensitivity: DistSpec = _fixed(1.0)  # utility per unit of ln(price_index)
    convenience_sensitivity: DistSpec = _fixed(1.0)  # utility per unit of convenience
    brand_affinity: DistSpec = _fixed(0.5)  # utility of knowing a brand (familiarity 1)
    habit_strength: DistSpec = _fixed(1.0)  # utility of a full habit (habit 1) with the provider
    openness: DistSpec = _fixed(0.2)  # probability per occurrence of considering alternatives
    social_influence: DistSpec = _fixed(1.0)  # weight on word of mouth, in [0, 1]
    age_band: int = 0
    income_band: int = 0


@dataclass
class LifecycleConfig:
    """Exogenous end of relationships (docs/design.md §2.5).

    ``contractual``: per-step hazard ``hazard`` (fixed: geometric; beta: shifted-beta-geometric).
    ``noncontractual``: BG/NBD, purchases Poisson with rate ``rate`` per step (gamma with ``shape``
    r and ``scale`` 1/alpha) and dropout probability ``dropout`` after each repeat purchase.
    ``joint_exit`` (contractual): probability that a relationship the hazard ends takes every other
    relationship of the customer with the same firm with it in that step (the customer moves,
    closes the account, switches main bank), so multi-product customers leave whole.
    """

    kind: str = "contractual"
    hazard: DistSpec = _fixed(0.0)
    joint_exit: float = 0.0
    rate: DistSpec = field(default_factory=lambda: DistSpec(dist="gamma", shape=1.0, scale=1.0))
    dropout: DistSpec = field(default_factory=lambda: DistSpec(dist="beta", a=1.0, b=9.0))


@dataclass
class SociodemoConfig:
    """Socio-demographic attributes and how much they reveal the behavioural segment.

    ``informativeness`` in [0, 1]: the probability that a customer's band is the segment's typical
    band (otherwise drawn uniformly); 0 = independent of the segment, 1 = determined by it.
    ``income_scale`` multiplies baskets, one entry per income band (its length is the band count).
    """

    informativeness: float = 0.0
    age_bands: int = 5
    income_scale: list[float] = field(default_factory=lambda: [0.6, 0.8, 1.0, 1.3, 1.8])


@dataclass
class NetworkConfig:
    """Social network for word of mouth: ``none`` (mean field), ``erdos_renyi``, ``watts_strogatz``.

    ``degree`` is the mean number of neighbours; ``rewire`` the Watts–Strogatz rewiring probability.
    """

    kind: str = "none"
    degree: int = 10
    rewire: float = 0.1


@dataclass
class FatigueConfig:
    """Contact fatigue, a per-customer stock that contacts build up and time wears down.

    Each contact adds ``per_contact``; fatigue decays by ``decay`` per step,
    raises openness by ``openness_gain`` × fatigue and lowers the utility of a contacted offer by
    ``annoyance`` × fatigue.
    """

    per_contact: float = 0.2
    decay: float = 0.5
    openness_gain: float = 0.3
    annoyance: float = 0.5


@dataclass
class SatisfactionConfig:
    """Experience -> satisfaction -> price tolerance (docs/model.md, "Satisfaction").

    Each purchase is a moment ``m = ln(experience) + noise * z`` (z standard normal, per
    occasion); satisfaction with the provider moves towards it, ``S <- (1 - memory) S + memory m``,
    and starts at 0 with each new provider. Satisfaction scales the chance of looking around by
    ``exp(-openness_effect * S)`` and the price alert by ``exp(-alert_effect * S)``; a moment
    below ``failure_threshold`` (a service failure; ``None`` = never) makes the customer search
    at the next occasion. ``memory = 0`` switches the mechanism off.
    """

    memory: float = 0.0
    noise: float = 0.0
    openness_effect: float = 0.0
    alert_effect: float = 0.0
    failure_threshold: float | None = None


@dataclass
class RiskConfig:
    """Credit risk seen through data (docs/model.md, "Risk decisions").

    With ``enabled``, each customer has a true relative risk ``rho`` (``relative``, mean about 1),
    drawn once: a risk-priced need loses ``base_loss * rho`` of spend. Lenders see it through
    an estimate whose accuracy grows with the data they hold (``firms.*.lending``). Off, losses
    are ``base_loss`` of spend for everyone (pooled data cut them by the ecosystem's
    ``data_gain``).
    """

    enabled: bool = False
    relative: DistSpec = field(default_factory=lambda: DistSpec(dist="gamma", shape=4.0,
                                                                scale=0.25))


@dataclass
class CustomersConfig:
    """The population of customers (docs/design.md §2.2).

    ``n`` customers are simulated; they stand for a market of ``market_size`` customers (None:
    ``n``). The run records every count and every amount of money for that market: each
    simulated customer weighs ``weight = market_size / n`` market customers, and budgets are
    market money (docs/model.md, "Market size"). Changing ``n`` changes the resolution (the
    sampling noise), not the market.
    """

    n: int = 10_000
    market_size: int | None = None  # customers of the market the simulated ones stand for
    segments: dict[str, SegmentConfig] = field(default_factory=dict)
    switching_cost: DistSpec = _fixed(0.5)  # utility lost when changing provider of a need
    initial_habit: float = 0.5  # habit in [0, 1] of relationships that exist at step 0
    habit_gain: float = 0.2  # share of the gap to 1 that habit closes per kept purchase (exp. 1)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    sociodemo: SociodemoConfig = field(default_factory=SociodemoConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    fatigue: FatigueConfig = field(default_factory=FatigueConfig)
    price_alert: float = 1.0  # openness added per unit of ln(price rise) of the provider that step
    # Scale (utility) of the persistent match of a customer with each option of a need, drawn
    # once (standard Gumbel), and of the shock drawn at each occasion a choice is made.
    taste_scale: float = 1.0
    shock_scale: float = 0.5
    # What awareness is held of: ``brand`` (knowing a brand is knowing every unit under it;
    # advertising and word of mouth lift a brand) or ``firm`` (each firm apart, its brands aside).
    awareness: str = "brand"
    satisfaction: SatisfactionConfig = field(default_factory=SatisfactionConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)

    @property
    def market(self) -> int:
        """Customers of the market the run speaks for: ``market_size``, else ``n``."""
        return self.n if self.market_size is None else self.market_size

    @property
    def weight(self) -> float:
        """Market customers each simulated customer stands for (``market / n``; 1 by default)."""
        return self.market / self.n


@dataclass
class NeedConfig:
    """A need: a spending category (docs/design.md §2.1).

    ``prevalence``: share of customers who have it; ``occurrence``: probability per step that it
    arises (1.0 = a monthly subscription); ``basket``: spend per occurrence before price and income
    scaling (currency); ``risk_priced`` needs lose ``base_loss`` of spend to defaults.
    """

    prevalence: float = 1.0
    occurrence: float = 1.0
    basket: DistSpec = _fixed(1.0)
    risk_priced: bool = False
    base_loss: float = 0.0
    # Contractual lifecycle: a relationship for this need ends with hazard theta_i × hazard_scale
    # (capped at 1), so industries with shorter contracts churn faster for the same customer.
    hazard_scale: float = 1.0
    # Trends per step: prevalence at step t is min(1, prevalence × (1 + prevalence_growth)^t)
    # (a customer gains, or loses, the need when it crosses their fixed draw); the basket is
    # multiplied by (1 + basket_growth)^t.
    prevalence_growth: float = 0.0
    basket_growth: float = 0.0


@dataclass
class OfferingConfig:
    """A firm's offering for one need (docs/design.md §2.3).

    The customer pays ``basket × price_index``; the firm keeps ``margin_rate`` of it. ``experience``
    multiplies habit formation with this provider. ``brand`` defaults to the firm's brand.
    """

    price_index: float = 1.0
    quality: float = 0.0
    convenience: float = 0.0
    experience: float = 1.0
    margin_rate: float = 0.2
    brand: str | None = None
    # Contractual lifecycle: the need's hazard_scale is further multiplied by this for
    # relationships with this offering (a contract's terms: a 24-month postpaid plan churns less
    # than a cancel-anytime subscription).
    hazard_scale: float = 1.0


@dataclass
class MarketingConfig:
    """Acquisition marketing: ``budget`` (currency per step) buys reach with diminishing returns.

    Reach probability per step ``p = 1 - exp(-budget / (n * reach_cost))``; ``word_of_mouth`` is
    the Bass imitation coefficient q in [0, 1].
    """

    budget: float = 0.0
    reach_cost: float = 1.0
    word_of_mouth: float = 0.0
    rule: str = "fixed"  # or ltv_cac_target: adapt the budget towards LTV / CAC = target
    target: float = 3.0  # LTV / CAC aimed at by the ltv_cac_target rule
    adjust: float = 0.5  # elasticity of the budget to (LTV / CAC) / target per step, in [0, 1]
    # Advertising of the firm's other brands (a separately branded unit), currency per step per
    # brand; ``budget`` advertises the firm's own brand.
    brand_budgets: dict[str, float] = field(default_factory=dict)


@dataclass
class EcosystemConfig:
    """Contextual ecosystem (``model: ecosystem``), docs/design.md §2.3.

    When a need arises for a customer who already uses the ecosystem (or a partner) for another
    need, its offer for that need is considered with probability ``context_reach`` even on
    autopilot; customers inside get ``entry_bonus`` extra convenience on its offers (one entry);
    pooled data cut losses on risk-priced needs by ``data_gain`` × the share of the customer's
    needs the group serves.
    """

    context_reach: float = 0.0
    entry_bonus: float = 0.0
    data_gain: float = 0.0


@dataclass
class BundleConfig:
    """Bundle (``model: bundle``): a discount for taking several products.

    ``discount`` comes off the bundled needs' prices once the customer takes at least
    ``min_products`` of them; leaving one loses the discount on the others.
    """

    needs: list[str] = field(default_factory=list)
    discount: float = 0.0
    min_products: int = 2


@dataclass
class SellersConfig:
    """The seller side of a two-sided marketplace (docs/model.md, "Two-sided marketplaces").

    Sellers per need are a real-valued stock ``S >= 1``. After each step, with ``G`` the GMV the
    marketplace sold in the need (currency per step, the market's), the sellers it can hold are
    ``S* = max(1, A * (V / (seller_cost * A)) ** network_effect)`` with
    ``V = seller_margin * (1 - take_rate) * G`` the sellers' contribution and ``A`` the
    marketplace's ``assortment`` (the count free entry supports where ``V = seller_cost * A``).
    A share ``adjustment`` of sellers leaves each step and ``adjustment * S*`` join, so
    ``S' = S + adjustment * (S* - S)``. ``network_effect`` is the elasticity of sellers to GMV
    (0: the fixed ``assortment``; 1: free entry). ``initial``: sellers at step 0 (None:
    ``assortment``).
    """

    network_effect: float = 1.0
    seller_cost: float = 1000.0  # currency per seller per step (a seller's outside option)
    seller_margin: float = 0.3  # share of the sellers' proceeds (after the take) that is margin
    adjustment: float = 0.1  # share of sellers turning over per step
    initial: float | None = None  # sellers per need at step 0 (None: assortment)


@dataclass
class MarketplaceConfig:
    """Marketplace (``model: marketplace``): ``assortment`` third-party sellers per need.

    The customer sees one option whose price index is divided by ``1 + price_gain * ln(assortment)``
    (competition among sellers) and whose quality rises by ``match_gain * ln(assortment)`` (the
    expected best match among sellers, the logit inclusive value), at a convenience penalty
    ``search_cost``. The marketplace keeps ``take_rate`` of spend; sellers bear the losses.
    With ``sellers`` the marketplace is two-sided: the sellers per need follow the GMV it
    reaches (``SellersConfig``) instead of staying at ``assortment``.
    """

    take_rate: float = 0.1
    assortment: int = 1
    search_cost: float = 0.0
    price_gain: float = 0.05
    match_gain: float = 0.2
    sellers: SellersConfig | None = None  # None: a fixed assortment (one-sided)


@dataclass
class CrossSellConfig:
    """Cross-selling to the firm's own customers: contacts are forced considerations of one offer.

    ``contacts_per_step``: expected contacts per customer and step (``silo``: per product unit
    the customer does not use yet; ``value_stream``: one best offer per customer).
    ``targeting``: ``none`` contacts at random; ``sociodemographic`` / ``behavioural`` learn the
    conversion rate of each age×income cell / behavioural segment and contact in proportion.
    ``contact_cost``: currency per contact. ``attention``: probability that a contacted customer
    considers the offer at all (opens the mail, takes the call); otherwise the contact is paid for
    and adds fatigue but no choice is made.
    """

    contacts_per_step: float = 0.0
    organisation: str = "silo"
    targeting: str = "none"
    contact_cost: float = 1.0
    attention: float = 1.0


@dataclass
class LendingConfig:
    """How a lender decides on risk-priced needs when ``customers.risk.enabled``.

    The lender's estimate of a customer's relative risk has accuracy
    ``w = accuracy + (1 - accuracy) * data_gain * pooled share`` (the share of the customer's
    needs its ecosystem serves; ``data_gain`` of its group, 0 outside one), the share of the
    variance of risk it explains. It approves customers whose estimate is at most ``max_risk``
    (``None``: everyone) and charges price × estimate^``risk_pricing``.
    """

    accuracy: float = 0.0
    max_risk: float | None = None
    risk_pricing: float = 0.0


@dataclass
class ReferralConfig:
    """Referral programme: customers bring their neighbours.

    Each customer refers each neighbour with probability ``rate`` per step; a referred customer
    learns of the firm and gets ``incentive`` (utility) on its offers in that step; the firm
    pays ``reward`` (currency) per referred customer who joins.
    """

    rate: float = 0.0
    reward: float = 0.0
    incentive: float = 0.0


#: What an investment can build (docs/model.md, "Investment economics"): the firm's ecosystem
#: context and entry, pooled data, the marketplace's assortment gains, the bundle discount, the
#: cross-sell and referral programmes, or a new product unit.
INVESTMENT_CAPABILITIES = ("ecosystem", "data_pooling", "marketplace", "bundle", "cross_sell",
                           "referral", "unit")


@dataclass
class InvestmentConfig:
    """An investment in one capability: its costs and how fast it reaches full strength.

    ``capability`` is one of ``INVESTMENT_CAPABILITIES``; ``unit`` launches the offering for
    ``need`` (which the firm must offer). ``capex`` (currency) is paid once at ``start``;
    ``opex`` (currency per step) every step from ``start``; ``cost_to_serve`` (currency per
    customer per step) on the unit's customers for ``unit``, else on the firm's customers, from
    ``start``. The capability's strength is 0 before ``start`` and ``min(1, (t - start + 1) /
    ramp)`` from it (``ramp`` 0: full at once); it scales context reach and entry bonus
    (ecosystem), data gain (data_pooling), the assortment's price and match gains
    (marketplace), the discount (bundle), contacts per step (cross_sell), the referral rate
    (referral); a unit is unavailable before ``start`` and a positive convenience is built up
    with the strength. ``start`` None: the firm's ``enters_at``, at least step 1.
    """

    capability: str = "ecosystem"
    need: str | None = None  # the offering a `unit` investment launches
    capex: float = 0.0  # currency, once, at `start`
    opex: float = 0.0  # currency per step from `start`
    cost_to_serve: float = 0.0  # currency per customer per step from `start`
    ramp: int = 0  # steps to full strength (0: at once)
    start: int | None = None  # step it starts (None: enters_at, at least 1)


#: What a pricing rule maximises (``ecosim.agents.strategies``): the unit's own contribution, or
#: the value of the whole group's customers.
PRICE_OBJECTIVES = ("unit_profit", "group_ltv")
#: What a competitive response matches in a rival's published offer, and the offering's field
#: it sets to do so.
RESPONSE_FIELDS = {"convenience": "convenience", "price": "price_index"}
RESPONSE_MATCHES = tuple(RESPONSE_FIELDS)


@dataclass
class PricingRuleConfig:
    """Price per unit by hill climbing on an observed objective.

    The units of ``needs`` (empty: every offering) take turns; a turn is four decisions that
    price the unit ``(1 + step)^(±1/2)`` around its price (high, low, low, high: a design that
    cancels the drift of a growing market), after which its price moves one factor
    ``(1 + step)`` towards the side whose windows gave the higher objective; a flip of side
    halves the unit's step (down to ``min_step``). ``objective``: ``unit_profit`` (the unit's
    contribution net of its cost to serve, currency per step: a P&L manager's view) or
    ``group_ltv`` (the whole group's contribution per step, every unit and partner fee
    together, plus its customers' growth per step valued at their predicted LTV: the group's
    view, in which a unit that wins customers for the other units earns their value). Prices
    stay within [``min_price``, ``max_price``]: a priced offering's ``price_index`` must start
    within them, and a probe or move beyond them sets the bound (the log says so).
    """

    objective: str = "unit_profit"
    needs: list[str] = field(default_factory=list)
    step: float = 0.05  # relative change of the price index per move
    min_step: float = 0.01
    min_price: float = 0.5
    max_price: float = 3.0


@dataclass
class AllocationRuleConfig:
    """Marketing allocation across the firm's brands (each unit that carries its own brand).

    At each decision ``shift`` of the budget of the brand with the lowest observed return moves
    to the brand with the highest; the return of a brand is the new customers of its units
    times their contribution per customer per step, per unit of its spend. No brand falls
    below ``floor`` of the total. The total (``marketing.budget`` + ``brand_budgets``) is kept.
    """

    shift: float = 0.1  # share of the worst brand's budget moved per decision
    floor: float = 0.05  # least share of the total any brand keeps


@dataclass
class ResponseRuleConfig:
    """Competitive response: match a rival's better published offer after a lag, at a cost.

    For each need of ``needs`` (empty: every offering) and each of ``match``: when an active
    rival of ``rivals`` (empty: every other firm) publishes a better convenience (higher) or
    price index (lower) than the firm's, the firm matches the best one ``lag`` steps after it
    was first published, paying ``capex`` (currency, once per match; recorded as investment
    capex, so profit and NPV see it). It watches every step from step 1 or the firm's entry,
    whatever the strategy's ``start``. It may not match price in a need the pricing rule prices
    (one rule per key).
    """

    match: list[str] = field(default_factory=lambda: ["convenience"])
    needs: list[str] = field(default_factory=list)
    rivals: list[str] = field(default_factory=list)
    lag: int = 3  # steps from the rival's first better offer to the firm's answer
    capex: float = 0.0  # currency per match


@dataclass
class PortfolioRuleConfig:
    """Launching and closing units.

    Close: a unit whose contribution net of its cost to serve was negative at ``close_after``
    decisions in a row is closed (0: never); its customers lose it, and its own ``unit``
    investment stops its opex and cost to serve (its capex is sunk). Launch: each need of
    ``launch`` (an offering the firm holds back, without initial customers) is launched, paying
    ``capex``, at the first decision where its expected value, ``expected_share`` × the
    customers of that need in the market × ``margin_per_customer`` (currency per step) summed
    over ``payback`` steps discounted at ``time.discount_rate``, exceeds ``capex``.
    """

    close_after: int = 0
    launch: list[str] = field(default_factory=list)
    capex: float = 0.0
    expected_share: float = 0.1
    margin_per_customer: float = 0.0
    payback: int = 36


@dataclass
class StrategyConfig:
    """A firm's decisions (``ecosim.agents.strategies``): rules acting every ``every`` steps.

    A firm without the block decides nothing. Pricing, allocation and portfolio decide at steps
    ``start``, ``start + every``, ... (those the firm is in the market) on what the firm can
    observe since their last decision: its own results, rivals' published offers and market
    shares. The first decision's window is empty at step 1 or at the firm's entry step: then
    only a launch can act; pricing, allocation and closure first act at the next decision
    (``1 + every`` with the default ``start``). A rule block that is absent (null) is off; an
    event may not set a key a rule drives.
    """

    every: int = 3
    start: int = 1
    # what deciding costs (an analytics team, an LTV model): capex once at the first step from
    # `start` the firm is in the market, opex per step in the market from `start`, both recorded
    # as the firm's investment costs (currency)
    capex: float = 0.0
    opex: float = 0.0
    pricing: PricingRuleConfig | None = None
    allocation: AllocationRuleConfig | None = None
    response: ResponseRuleConfig | None = None
    portfolio: PortfolioRuleConfig | None = None


@dataclass
class FirmConfig:
    """A firm: its business model, offerings per need, brand and marketing."""

    model: str = "standalone"
    brand: str | None = None  # defaults to the firm's name
    offerings: dict[str, OfferingConfig] = field(default_factory=dict)
    initial_share: dict[str, float] = field(default_factory=dict)  # need -> share of customers
    initial_awareness: float = 0.0  # share of customers who know the firm when it enters
    marketing: MarketingConfig = field(default_factory=MarketingConfig)
    enters_at: int = 0  # step at which the firm enters the market (inactive before)
    ecosystem: EcosystemConfig = field(default_factory=EcosystemConfig)
    bundle: BundleConfig = field(default_factory=BundleConfig)
    marketplace: MarketplaceConfig = field(default_factory=MarketplaceConfig)
    partner_of: str | None = None  # an ecosystem firm this firm is embedded in ...
    partner_take_rate: float = 0.0  # ... and the share of its spend it pays that ecosystem
    cross_sell: CrossSellConfig = field(default_factory=CrossSellConfig)
    referral: ReferralConfig = field(default_factory=ReferralConfig)
    lending: LendingConfig = field(default_factory=LendingConfig)
    # name -> an investment in a capability, with its costs and ramp (empty: none, no costs)
    investments: dict[str, InvestmentConfig] = field(default_factory=dict)
    # its decisions (prices, marketing, responses, units); None: it decides nothing
    strategy: StrategyConfig | None = None


@dataclass
class EventConfig:
    """A scheduled change: at ``step``, set dotted keys of ``firm`` (``marketing.budget``)."""

    step: int = 1
    firm: str = ""
    set: dict[str, Any] = field(default_factory=dict)


@dataclass
class TimeConfig:
    """Calendar: ``horizon`` steps of one ``step_unit``; ``discount_rate`` per step for LTV."""

    step_unit: str = "month"
    horizon: int = 60
    discount_rate: float = 0.008


@dataclass
class OutputConfig:
    """What a run writes besides the standard tables."""

    transactions: bool = False
    # slide figures (matplotlib, ~3-4 s); off by default, `ecosim-figures RUN_DIR` draws them later
    figures: bool = False
    deck: bool = False  # also write deck.pptx (python-pptx); `ecosim-deck RUN_DIR` does it later
    currency: str = "EUR"  # the unit of money in reports
    # a firm dominates a need from the step its share of the need's customers reaches this
    # (tipping.parquet, dominance.csv; docs/model.md, "Tipping diagnostics")
    dominance_share: float = 0.8


#: KPIs an experiment can report, from ``firm_metrics`` (at the horizon, or summed for cum_*).
EXPERIMENT_KPIS = ("customers", "new_customers", "churned_customers", "churn_rate", "cac",
                   "revenue", "gross_margin", "losses", "profit", "arpu", "products_per_customer",
                   "share_of_wallet", "contacts", "conversions", "conversion_rate", "ltv",
                   "ltv_cac", "cum_revenue", "cum_profit", "cum_contacts", "cum_new_customers",
                   # investment economics (metrics.summary.investment_kpis)
                   "npv", "cum_capex", "cum_opex", "cum_cost_to_serve", "payback_step",
                   "breakeven_step", "justified_investment", "incremental_payback_step",
                   "incremental_breakeven_step")


#: What an experiment's headline measures (``HeadlineConfig.kind``).
HEADLINE_KINDS = ("share", "effect", "relative_effect")
#: How the practitioners' claim compares the headline with its threshold.
CLAIM_OPS = ("<=", ">=")


@dataclass
class HeadlineConfig:
    """The one number an experiment's answer turns on, computed per replication.

    ``share``: the Shapley share of ``factor`` in the uplift of ``firm``'s ``kpi`` (a fraction;
    needs ``experiment.factors``). ``effect``: ``kpi(arm) - kpi(baseline)`` in the KPI's unit.
    ``relative_effect``: that difference over the baseline's mean (a fraction). ``firm``
    defaults to ``experiment.focus_firm`` and ``baseline`` to the first arm. Empty ``kind``:
    the experiment has no headline (and cannot run ``robustness=true``).
    """

    kind: str = ""
    label: str = ""  # the number in plain words, e.g. "brand's share of the bank's ARPU uplift"
    kpi: str = "arpu"
    firm: str | None = None
    factor: str | None = None
    arm: str | None = None
    baseline: str | None = None


@dataclass
class ClaimTestConfig:
    """The practitioners' claim as a condition on the headline: ``headline op value``.

    ``text`` says the claim's number in words ("2 % or less"). Empty ``op``: no test.
    """

    op: str = ""
    value: float = 0.0
    text: str = ""


@dataclass
class SoWhatConfig:
    """What a board should do about the answer, written for each verdict."""

    holds: str = ""
    fails: str = ""


@dataclass
class AssumptionConfig:
    """An assumed parameter that drives the headline, with the range robustness explores.

    ``keys`` are dotted config keys moved together (brand affinity in every segment). With
    ``scale: true`` the run multiplies each key's value, after the arm's overrides, by ``low``
    and by ``high`` (so a key that an arm sets to 0 stays 0); otherwise it sets each key to
    ``low`` and to ``high``. ``source`` cites or argues the range.
    """

    label: str = ""
    keys: list[str] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0
    scale: bool = False
    source: str = ""


@dataclass
class RobustnessConfig:
    """How ``robustness=true`` explores ``experiment.assumptions``.

    A tornado moves one assumption at a time to its low and its high value; then two
    assumptions are crossed on ``grid`` × ``grid`` values from low through their default to high
    to map the headline (the claim's threshold drawn as a contour): the two ``map`` names or,
    when it is empty, the two whose tornado swings are largest. ``replications``: per variant,
    the run's first ones (default and at most: the experiment's).
    """

    map: list[str] = field(default_factory=list)
    grid: int = 3
    replications: int | None = None


@dataclass
class ExperimentConfig:
    """An experiment: arms (name -> overrides of this config) played on common random numbers.

    Every arm runs ``replications`` times; replication r sees the same customers and shocks in
    every arm. The first arm is the baseline of paired differences. ``factors`` (optional) maps
    each arm to the factors it switches on, for a Shapley split of the uplift over the baseline
    (the arms must cover every subset of the factors).
    """

    name: str = ""  # empty: a single scenario, no arms
    question: str = ""
    claim: str = ""  # the claim from practice that the experiment tests
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)
    focus_firm: str | None = None  # the firm the answer is about
    kpis: list[str] = field(default_factory=lambda: ["arpu", "churn_rate", "cum_profit"])
    factors: dict[str, list[str]] = field(default_factory=dict)
    # What the report and the deck say (the content of the experiment's slides)
    labels: dict[str, str] = field(default_factory=dict)  # arm -> plain-language name
    compare: list[list[str]] = field(default_factory=list)  # groups of arms figures compare
    headline: HeadlineConfig = field(default_factory=HeadlineConfig)
    claim_test: ClaimTestConfig = field(default_factory=ClaimTestConfig)
    so_what: SoWhatConfig = field(default_factory=SoWhatConfig)
    caveats: list[str] = field(default_factory=list)
    assumptions: dict[str, AssumptionConfig] = field(default_factory=dict)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)


#: KPIs a calibration target can aim at: columns of ``firm_metrics`` (a firm's) or, with a
#: ``need``, of ``unit_metrics`` (a firm's product unit for that need).
FIRM_TARGET_KPIS = ("customers", "new_customers", "churned_customers", "churn_rate",
                    "churn_rate_single", "churn_rate_multi", "marketing_spend", "cac",
                    "cac_arpu", "revenue", "gross_margin", "losses", "profit", "arpu",
                    "products_per_customer", "share_of_wallet", "conversion_rate")
UNIT_TARGET_KPIS = ("customers", "revenue", "gross_margin", "market_share", "new_customers",
                    "churned_customers", "churn_rate", "conversion_rate")


@dataclass
class TargetConfig:
    """A KPI to match: ``kpi`` of ``firm`` (of its unit for ``need`` if set) should be ``value``.

    The simulated KPI is its mean over arms, replications and the last ``calibration.window``
    steps. Its error counts as ``weight * ((simulated - value) / scale)**2``; ``scale`` defaults
    to ``|value|`` (a relative error).
    """

    kpi: str = "customers"
    firm: str = ""
    need: str | None = None
    value: float = 0.0
    weight: float = 1.0
    scale: float | None = None


@dataclass
class CalibrationConfig:
    """Targets for tuning market parameters (Hydra's Optuna sweeper minimises the distance).

    With targets, the ``ecosim`` app returns the distance of the run to them, the root of the
    weighted mean of squared scaled errors, and records it in ``metadata.json``. ``window``:
    the last steps over which simulated KPIs are averaged.
    """

    targets: dict[str, TargetConfig] = field(default_factory=dict)
    window: int = 1


@dataclass
class EcosimConfig:
    """The root of an ecosim configuration."""

    seed: int = 0
    replications: int = 1
    threads: int | None = None  # numba threads; None = all cores. Results do not depend on it.
    # keep each customer-need's basket draw: ~20 % faster steps for 8 bytes per customer-need;
    # None = up to 2**27 customer-needs if the run fits with it (config.limits.basket_cache_on).
    # Same results either way.
    basket_cache: bool | None = None
    time: TimeConfig = field(default_factory=TimeConfig)
    customers: CustomersConfig = field(default_factory=CustomersConfig)
    needs: dict[str, NeedConfig] = field(default_factory=dict)
    firms: dict[str, FirmConfig] = field(default_factory=dict)
    events: list[EventConfig] = field(default_factory=list)
    output: OutputConfig = field(default_factory=OutputConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    robustness: bool = False  # also run experiment.assumptions' tornado and map (robustness.csv)
