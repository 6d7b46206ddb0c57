"""The public configuration schema of ecosim (DESIGN §8), one dataclass per block.

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
BUSINESS_MODELS = ("standalone",)
MARKETING_RULES = ("fixed",)

#: The most firms, needs and steps a run can hold (the kernels index them with small integers).
MAX_FIRMS = 64
MAX_NEEDS = 64
MAX_HORIZON = 32767

#: The six behavioural factors of a customer (DESIGN §2.2), in the order the kernels store them.
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
    """Exogenous end of relationships (DESIGN §2.5).

    ``contractual``: per-step hazard ``hazard`` (fixed: geometric; beta: shifted-beta-geometric).
    ``noncontractual``: BG/NBD, purchases Poisson with rate ``rate`` per step (gamma with ``shape``
    r and ``scale`` 1/alpha) and dropout probability ``dropout`` after each repeat purchase.
    """

    kind: str = "contractual"
    hazard: DistSpec = _fixed(0.0)
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
class CustomersConfig:
    """The population of customers (DESIGN §2.2)."""

    n: int = 10_000
    segments: dict[str, SegmentConfig] = field(default_factory=dict)
    switching_cost: DistSpec = _fixed(0.5)  # utility lost when changing provider of a need
    initial_habit: float = 0.5  # habit in [0, 1] of relationships that exist at step 0
    habit_gain: float = 0.2  # share of the gap to 1 that habit closes per kept purchase (exp. 1)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    sociodemo: SociodemoConfig = field(default_factory=SociodemoConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)


@dataclass
class NeedConfig:
    """A need: a spending category (DESIGN §2.1).

    ``prevalence``: share of customers who have it; ``occurrence``: probability per step that it
    arises (1.0 = a monthly subscription); ``basket``: spend per occurrence before price and income
    scaling (currency); ``risk_priced`` needs lose ``base_loss`` of spend to defaults.
    """

    prevalence: float = 1.0
    occurrence: float = 1.0
    basket: DistSpec = _fixed(1.0)
    risk_priced: bool = False
    base_loss: float = 0.0


@dataclass
class OfferingConfig:
    """A firm's offering for one need (DESIGN §2.3).

    The customer pays ``basket × price_index``; the firm keeps ``margin_rate`` of it. ``experience``
    multiplies habit formation with this provider. ``brand`` defaults to the firm's brand.
    """

    price_index: float = 1.0
    quality: float = 0.0
    convenience: float = 0.0
    experience: float = 1.0
    margin_rate: float = 0.2
    brand: str | None = None


@dataclass
class MarketingConfig:
    """Acquisition marketing: ``budget`` (currency per step) buys reach with diminishing returns.

    Reach probability per step ``p = 1 - exp(-budget / (n * reach_cost))``; ``word_of_mouth`` is
    the Bass imitation coefficient q in [0, 1].
    """

    budget: float = 0.0
    reach_cost: float = 1.0
    word_of_mouth: float = 0.0
    rule: str = "fixed"


@dataclass
class FirmConfig:
    """A firm: its business model, offerings per need, brand and marketing."""

    model: str = "standalone"
    brand: str | None = None  # defaults to the firm's name
    offerings: dict[str, OfferingConfig] = field(default_factory=dict)
    initial_share: dict[str, float] = field(default_factory=dict)  # need -> share of customers
    initial_awareness: float = 0.0  # share of customers who know the firm at step 0
    marketing: MarketingConfig = field(default_factory=MarketingConfig)


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
    figures: bool = True


@dataclass
class EcosimConfig:
    """The root of an ecosim configuration."""

    seed: int = 0
    replications: int = 1
    threads: int | None = None  # numba threads; None = all cores. Results do not depend on it.
    time: TimeConfig = field(default_factory=TimeConfig)
    customers: CustomersConfig = field(default_factory=CustomersConfig)
    needs: dict[str, NeedConfig] = field(default_factory=dict)
    firms: dict[str, FirmConfig] = field(default_factory=dict)
    events: list[EventConfig] = field(default_factory=list)
    output: OutputConfig = field(default_factory=OutputConfig)
