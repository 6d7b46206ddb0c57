"""Checking a configuration before any run: one line naming the key, the value and what is allowed.

``load_config`` turns the composed config (docs/design.md §8) into a checked ``EcosimConfig``:

1. *structure* — unknown keys, wrong types and distribution specs (``ecosim.config.structure``);
2. *build* — the schema objects are made from the tree over the defaults (``structure.build``);
3. *defaults* — an empty ``customers.segments`` becomes one segment named ``all`` with the schema's
   defaults; a firm's ``brand`` defaults to its name and an offering's ``brand`` to its firm's;
4. *semantics* — ranges and cross-references: needs, firms, shares and events.

Events: each ``set`` key is a dotted path into the firm (``offerings.banking.price_index``,
``marketing.budget``, ``brand``); a path that ends at a block (``marketing``) takes a mapping that
updates it. Each event is checked against the firm as configured (not after earlier events). An
event cannot add an offering, nor set ``initial_share`` or ``initial_awareness`` (they act at step
0). In the returned config every ``set`` key is a path to one scalar (blocks are expanded), values
are converted to their types, and an event that changes a firm's brand also sets
``offerings.<need>.brand`` for each offering that inherits the firm's brand.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ecosim.config import limits
from ecosim.config.errors import PROBABILITY, ConfigError, list_names, one_of, require
from ecosim.config.overrides import replace_from_command_line
from ecosim.config.paths import get_dotted
from ecosim.config.schema import (
    AWARENESS_OF,
    BUSINESS_MODELS,
    CLAIM_OPS,
    DIST_PARAMS,
    EXPERIMENT_KPIS,
    FIRM_TARGET_KPIS,
    HEADLINE_KINDS,
    INVESTMENT_CAPABILITIES,
    LIFECYCLE_KINDS,
    MARKETING_RULES,
    MAX_BANDS,
    MAX_BRANDS,
    MAX_FIRMS,
    MAX_HORIZON,
    MAX_NEEDS,
    MAX_REPLICATIONS,
    MAX_SEGMENTS,
    NETWORK_KINDS,
    ORGANISATIONS,
    STEP_UNITS,
    TARGETINGS,
    UNIT_TARGET_KPIS,
    DistSpec,
    EcosimConfig,
    EventConfig,
    FirmConfig,
    NeedConfig,
    SegmentConfig,
)
from ecosim.config.strategy_checks import check_event_keys, check_strategy
from ecosim.config.structure import build, check_structure, field_types

__all__ = ["ConfigError", "config_to_dict", "load_config", "user_tree"]

#: Keys that Hydra adds or reads itself; they are dropped before checking.
HYDRA_KEYS = ("hydra", "defaults")
#: Firm keys that only act at step 0, so an event cannot set them.
STEP_ZERO_FIRM_KEYS = ("initial_share", "initial_awareness", "enters_at", "partner_of")
#: Top-level keys an arm may not change: arms share seed, replications and horizon.
ARM_FIXED_KEYS = ("seed", "replications", "time", "experiment", "robustness")
#: Distribution positions whose draws must be probabilities (families bounded to [0, 1] only),
#: or >= 0 (a normal only when it cannot reach below 0).
PROBABILITY_DISTS = ("openness", "social_influence", "hazard", "dropout")
PROBABILITY_FAMILIES = ("beta", "fixed", "uniform")
NONNEGATIVE_DISTS = ("basket", "rate", "switching_cost", "relative")
#: Distribution parameters that must be > 0, or >= 0, in every family that has them.
POSITIVE_PARAMS = ("a", "b", "shape", "scale")
NONNEGATIVE_PARAMS = ("sd",)
#: The most customers a social network can index (``agents.network`` stores int32 indices).
MAX_NETWORK_CUSTOMERS = 2**31 - 1
#: Names of segments, needs and firms (they appear in dotted keys and result tables).
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def load_config(raw: DictConfig | Mapping[str, Any]) -> EcosimConfig:
    """Check a composed configuration and return it as an ``EcosimConfig``.

    Args:
        raw: The user's composed config: a ``DictConfig`` from Hydra or a plain mapping such as a
            loaded YAML file. ``hydra`` and ``defaults`` keys, if present, are dropped.

    Returns:
        The validated configuration with defaults filled: if ``customers.segments`` is empty, one
        segment ``all`` with the schema defaults; ``firms.<f>.brand`` defaults to ``f`` and each
        offering's ``brand`` to its firm's brand; event values are converted (module docstring).

    Raises:
        ConfigError: For the first value that is not allowed, on one line.
    """
    tree = check_structure(user_tree(raw), EcosimConfig, EcosimConfig(), "")
    cfg = build(EcosimConfig, tree, EcosimConfig())
    if not cfg.customers.segments:
        cfg.customers.segments["all"] = SegmentConfig()
    inherited = _fill_brands(cfg)
    _check_run(cfg)
    _check_customers(cfg)
    _check_names(cfg.needs, "needs", MAX_NEEDS)
    for name, need in cfg.needs.items():
        _check_need(need, f"needs.{name}")
    _check_names(cfg.firms, "firms", MAX_FIRMS)
    for name, firm in cfg.firms.items():
        _check_firm(firm, name, cfg, f"firms.{name}")
    _check_initial_shares(cfg)
    _check_structure_of_market(cfg)
    for i, event in enumerate(cfg.events):
        _check_event(event, i, cfg, inherited.get(event.firm, set()))
    _check_investments(cfg)
    _check_brands(cfg)
    _check_experiment(cfg)
    _check_calibration(cfg)
    _check_memory(cfg)
    _check_network_size(cfg)
    return cfg


def config_to_dict(cfg: EcosimConfig) -> dict[str, Any]:
    """Plain nested dict of a configuration, for writing ``config.yaml`` beside the results.

    Args:
        cfg: A configuration, usually from ``load_config``.

    Returns:
        Nested dicts, lists and scalars; ``load_config`` of it gives an equal configuration.
    """
    return dataclasses.asdict(cfg)


def _from_omegaconf(error: OmegaConfBaseException, allowed: str) -> ConfigError:
    lines = str(error.msg or type(error).__name__).splitlines()
    return ConfigError(error.full_key or "", getattr(error, "value", None), allowed, lines[0])


def _interpolates(tree: Any) -> bool:
    """Whether a plain tree holds an interpolation (``${...}``) anywhere."""
    if isinstance(tree, str):
        return "${" in tree
    if isinstance(tree, Mapping):
        return any(_interpolates(k) or _interpolates(v) for k, v in tree.items())
    if isinstance(tree, list | tuple):
        return any(_interpolates(item) for item in tree)
    return False


def user_tree(raw: Any) -> dict[str, Any]:
    """The user's tree as plain data, interpolations resolved, Hydra's own keys dropped.

    A composed ``DictConfig`` that carries ``hydra.overrides.task`` gets its command-line
    overrides' meaning (``ecosim.config.overrides``): changing ``dist`` replaces a spec, ``{}``
    empties a collection.
    """
    overrides = None
    if isinstance(raw, DictConfig):
        tree = OmegaConf.to_container(raw, resolve=False)
        overrides = OmegaConf.select(raw, "hydra.overrides.task", default=None)
    elif isinstance(raw, Mapping):
        tree = dict(raw)
    else:
        raise ConfigError("", raw, "expected a mapping (the composed configuration)")
    for name in HYDRA_KEYS:
        tree.pop(name, None)
    if overrides:
        replace_from_command_line(tree, list(overrides))
    if not _interpolates(tree):  # nothing to resolve: skip OmegaConf (most of the cost)
        return copy.deepcopy(tree)
    try:
        return OmegaConf.to_container(OmegaConf.create(tree), resolve=True)
    except OmegaConfBaseException as error:
        raise _from_omegaconf(error, "expected a value or a resolvable interpolation") from None


def _fill_brands(cfg: EcosimConfig) -> dict[str, set[str]]:
    """Fill firm and offering brands; return, per firm, the needs whose offering inherits it."""
    inherited: dict[str, set[str]] = {}
    for name, firm in cfg.firms.items():
        if firm.brand is None:
            firm.brand = name
        inherited[name] = {need for need, off in firm.offerings.items() if off.brand is None}
        for need in inherited[name]:
            firm.offerings[need].brand = firm.brand
    return inherited


def _check_names(entries: dict[str, Any], key: str, most: int) -> None:
    require(1 <= len(entries) <= most, key, list(entries), f"expected 1 to {most} entries")
    for name in entries:
        require(NAME_PATTERN.fullmatch(name) is not None, f"{key}.{name}", name,
                "expected letters, digits, '_' and '-', starting with a letter or '_'")


def _check_unit(value: float, key: str, note: str = "") -> None:
    require(0 <= value <= 1, key, value, PROBABILITY + note)


def _check_run(cfg: EcosimConfig) -> None:
    require(0 <= cfg.seed < 2**63, "seed", cfg.seed, "expected an integer in [0, 2**63)")
    require(1 <= cfg.replications <= MAX_REPLICATIONS, "replications", cfg.replications,
            f"expected an integer in [1, {MAX_REPLICATIONS}]")
    if cfg.threads is not None:
        most = limits.max_threads()
        require(1 <= cfg.threads <= most, "threads", cfg.threads,
                f"expected null (all cores) or an integer in [1, {most}] (NUMBA_NUM_THREADS)")
    time = cfg.time
    require(time.step_unit in STEP_UNITS, "time.step_unit", time.step_unit, one_of(STEP_UNITS))
    require(1 <= time.horizon <= MAX_HORIZON, "time.horizon", time.horizon,
            f"expected an integer in [1, {MAX_HORIZON}]")
    require(time.discount_rate >= 0, "time.discount_rate", time.discount_rate,
            "expected a number >= 0 (per step)")
    require(0.5 < cfg.output.dominance_share <= 1, "output.dominance_share",
            cfg.output.dominance_share,
            "expected a share in (0.5, 1] (above half, one firm at most can dominate a need)")


def _check_customers(cfg: EcosimConfig) -> None:
    customers = cfg.customers
    require(customers.n >= 1, "customers.n", customers.n, "expected an integer >= 1")
    # Any market size: the simulated customers are its resolution, so a small market may be
    # simulated with more customers than it has (each then stands for a fraction of one)
    require(customers.market_size is None or customers.market_size >= 1,
            "customers.market_size", customers.market_size,
            "expected null (the market is customers.n) or an integer >= 1 (customers of the "
            "market the simulated ones stand for)")
    _check_dist(customers.switching_cost, "customers.switching_cost")
    _check_unit(customers.initial_habit, "customers.initial_habit")
    _check_unit(customers.habit_gain, "customers.habit_gain")
    demo = customers.sociodemo
    _check_unit(demo.informativeness, "customers.sociodemo.informativeness")
    require(1 <= demo.age_bands <= MAX_BANDS, "customers.sociodemo.age_bands", demo.age_bands,
            f"expected an integer in [1, {MAX_BANDS}]")
    require(1 <= len(demo.income_scale) <= MAX_BANDS, "customers.sociodemo.income_scale",
            demo.income_scale, f"expected a list of 1 to {MAX_BANDS} numbers > 0, one per "
            "income band")
    for i, scale in enumerate(demo.income_scale):
        require(scale > 0, f"customers.sociodemo.income_scale[{i}]", scale, "expected a number > 0")
    segments = customers.segments
    _check_names(segments, "customers.segments", MAX_SEGMENTS)
    bands = len(demo.income_scale)
    for name, segment in segments.items():
        key = f"customers.segments.{name}"
        require(segment.weight >= 0, f"{key}.weight", segment.weight, "expected a number >= 0")
        require(0 <= segment.age_band < demo.age_bands, f"{key}.age_band", segment.age_band,
                f"expected an integer in [0, {demo.age_bands}) (customers.sociodemo.age_bands)")
        require(0 <= segment.income_band < bands, f"{key}.income_band", segment.income_band,
                f"expected an integer in [0, {bands}) (customers.sociodemo.income_scale)")
        for field in dataclasses.fields(SegmentConfig):
            if isinstance(getattr(segment, field.name), DistSpec):
                _check_dist(getattr(segment, field.name), f"{key}.{field.name}")
    weights = {name: segment.weight for name, segment in segments.items()}
    require(sum(weights.values()) > 0, "customers.segments", weights,
            "expected segment weights that sum to more than 0")
    life = customers.lifecycle
    require(life.kind in LIFECYCLE_KINDS, "customers.lifecycle.kind", life.kind,
            one_of(LIFECYCLE_KINDS))
    for name in ("hazard", "rate", "dropout"):
        _check_dist(getattr(life, name), f"customers.lifecycle.{name}")
    _check_unit(life.joint_exit, "customers.lifecycle.joint_exit",
                " (probability that an ended relationship ends all with that firm)")
    net = customers.network
    require(net.kind in NETWORK_KINDS, "customers.network.kind", net.kind, one_of(NETWORK_KINDS))
    require(net.degree >= 0, "customers.network.degree", net.degree, "expected an integer >= 0")
    require(net.kind == "none" or net.degree < customers.n, "customers.network.degree",
            net.degree, f"expected fewer neighbours than customers.n ({customers.n})")
    _check_unit(net.rewire, "customers.network.rewire")
    fatigue = customers.fatigue
    for name in ("per_contact", "openness_gain", "annoyance"):
        require(getattr(fatigue, name) >= 0, f"customers.fatigue.{name}", getattr(fatigue, name),
                "expected a number >= 0")
    _check_unit(fatigue.decay, "customers.fatigue.decay", " (share lost per step)")
    require(customers.price_alert >= 0, "customers.price_alert", customers.price_alert,
            "expected a number >= 0 (openness per unit of ln price rise)")
    for name in ("taste_scale", "shock_scale"):
        value = getattr(customers, name)
        require(math.isfinite(value) and 0 <= value <= 100, f"customers.{name}", value,
                "expected a number in [0, 100] (utility per standard Gumbel draw)")
    require(customers.awareness in AWARENESS_OF, "customers.awareness", customers.awareness,
            one_of(AWARENESS_OF))
    sat = customers.satisfaction
    _check_unit(sat.memory, "customers.satisfaction.memory",
                " (weight of the latest purchase; 0 = off)")
    for name in ("noise", "openness_effect", "alert_effect"):
        value = getattr(sat, name)
        require(math.isfinite(value) and 0 <= value <= 100, f"customers.satisfaction.{name}",
                value, "expected a number in [0, 100]")
    if sat.failure_threshold is not None:
        require(math.isfinite(sat.failure_threshold), "customers.satisfaction.failure_threshold",
                sat.failure_threshold, "expected null (no failures) or a finite number "
                "(a moment below it is a service failure)")
    _check_dist(customers.risk.relative, "customers.risk.relative")


def _check_dist(spec: DistSpec, key: str) -> None:
    """Parameters present and in range, and every draw allowed at the spec's position.

    Every draw must be finite and at most ``limits.MAX_DRAW`` in magnitude; at a probability
    position only families bounded to [0, 1] are allowed, with fixed values and uniform bounds
    in [0, 1]; at a non-negative position no draw may be below 0 (a normal needs
    ``mean >= Z_MAX * sd``, as its draws reach ``mean - Z_MAX * sd``).
    """
    params = DIST_PARAMS[spec.dist]
    for name in params:
        value = getattr(spec, name)
        if value is None:
            raise ConfigError(f"{key}.{name}", None, f"dist {spec.dist} needs {list_names(params)}",
                              problem="missing")
        if name in POSITIVE_PARAMS:
            require(value > 0, f"{key}.{name}", value, "expected a number > 0")
        if name in NONNEGATIVE_PARAMS:
            require(value >= 0, f"{key}.{name}", value, "expected a number >= 0")
    if spec.dist == "uniform":
        require(spec.low <= spec.high, f"{key}.high", spec.high, f"expected high >= low {spec.low}")
    position = key.rsplit(".", 1)[-1]
    if position in PROBABILITY_DISTS:
        require(spec.dist in PROBABILITY_FAMILIES, f"{key}.dist", spec.dist,
                f"expected {', '.join(PROBABILITY_FAMILIES[:-1])} or {PROBABILITY_FAMILIES[-1]} "
                f"({position} is a probability: every draw must lie in [0, 1])")
    z = f"{limits.Z_MAX:.2f}"
    if spec.dist == "lognormal":
        require(spec.mean + limits.Z_MAX * spec.sd <= limits.LOG_MAX_DRAW, f"{key}.mean",
                spec.mean, f"expected mean + {z} * sd <= {limits.LOG_MAX_DRAW:.1f} (ln "
                f"{limits.MAX_DRAW:.0e}): draws reach exp(mean + {z} sd)")
    for name in params:
        value = getattr(spec, name)
        require(abs(value) <= limits.MAX_DRAW, f"{key}.{name}", value,
                f"expected a number of at most {limits.MAX_DRAW:.0e} in magnitude")
    low, high = limits.draw_range(spec)
    if spec.dist in ("normal", "gamma"):
        last = params[-1]
        require(max(-low, high) <= limits.MAX_DRAW, f"{key}.{last}", getattr(spec, last),
                f"expected draws of at most {limits.MAX_DRAW:.0e} in magnitude; "
                f"dist {spec.dist} reaches [{low:.3g}, {high:.3g}]")
    for name in {"fixed": ("value",), "uniform": ("low", "high")}.get(spec.dist, ()):
        value = getattr(spec, name)
        if position in PROBABILITY_DISTS:
            _check_unit(value, f"{key}.{name}", f" ({position} is a probability)")
        elif position in NONNEGATIVE_DISTS:
            require(value >= 0, f"{key}.{name}", value, f"expected a number >= 0 ({position})")
    if spec.dist == "normal" and position in NONNEGATIVE_DISTS:
        require(low >= 0, f"{key}.mean", spec.mean,
                f"expected mean >= {z} * sd = {limits.Z_MAX * spec.sd:.4g}: normal draws reach "
                f"mean - {z} sd and {position} cannot be negative (lognormal and gamma cannot)")


def _check_need(need: NeedConfig, key: str) -> None:
    _check_unit(need.prevalence, f"{key}.prevalence", " (share of customers)")
    _check_unit(need.occurrence, f"{key}.occurrence", " (per step)")
    _check_unit(need.base_loss, f"{key}.base_loss", " (share of spend)")
    require(math.isfinite(need.hazard_scale) and 0 <= need.hazard_scale <= 1000,
            f"{key}.hazard_scale", need.hazard_scale,
            "expected a number in [0, 1000] (multiplier of the contractual hazard)")
    _check_dist(need.basket, f"{key}.basket")
    for name in ("prevalence_growth", "basket_growth"):
        value = getattr(need, name)
        require(math.isfinite(value) and -1 < value <= 1, f"{key}.{name}", value,
                "expected a number in (-1, 1] (relative change per step)")


def _check_firm(firm: FirmConfig, name: str, cfg: EcosimConfig, key: str) -> None:
    """Check one firm; ``key`` is where its fields are reported (``firms.x`` or an event's set)."""
    require(firm.model in BUSINESS_MODELS, f"{key}.model", firm.model, one_of(BUSINESS_MODELS))
    require(bool(firm.brand), f"{key}.brand", firm.brand, "expected a non-empty brand name")
    _check_unit(firm.initial_awareness, f"{key}.initial_awareness", " (share of customers)")
    marketing = firm.marketing
    require(marketing.rule in MARKETING_RULES, f"{key}.marketing.rule", marketing.rule,
            one_of(MARKETING_RULES))
    require(marketing.budget >= 0, f"{key}.marketing.budget", marketing.budget,
            "expected a number >= 0 (currency per step)")
    require(marketing.reach_cost > 0, f"{key}.marketing.reach_cost", marketing.reach_cost,
            "expected a number > 0 (currency per customer)")
    _check_unit(marketing.word_of_mouth, f"{key}.marketing.word_of_mouth")
    brands = {firm.brand} | {o.brand for o in firm.offerings.values()}
    for brand, budget in marketing.brand_budgets.items():
        where = f"{key}.marketing.brand_budgets.{brand}"
        if brand not in brands:
            raise ConfigError(where, budget, f"its brands: {list_names(sorted(brands))}",
                              problem=f"the firm carries no brand {brand!r}")
        require(budget >= 0, where, budget, "expected a number >= 0 (currency per step)")
    lending = firm.lending
    _check_unit(lending.accuracy, f"{key}.lending.accuracy",
                " (share of the variance of risk the lender's estimate explains)")
    if lending.max_risk is not None:
        require(lending.max_risk > 0, f"{key}.lending.max_risk", lending.max_risk,
                "expected null (approve everyone) or a relative risk > 0")
    require(math.isfinite(lending.risk_pricing) and 0 <= lending.risk_pricing <= 10,
            f"{key}.lending.risk_pricing", lending.risk_pricing,
            "expected a number in [0, 10] (elasticity of price to the risk estimate)")
    for need, offering in firm.offerings.items():
        where = f"{key}.offerings.{need}"
        if need not in cfg.needs:
            raise ConfigError(where, need, f"declared needs: {list_names(cfg.needs)}",
                              problem=f"unknown need {need!r}")
        require(offering.price_index > 0, f"{where}.price_index", offering.price_index,
                "expected a number > 0")
        _check_unit(offering.margin_rate, f"{where}.margin_rate", " (share of revenue)")
        require(math.isfinite(offering.hazard_scale) and 0 <= offering.hazard_scale <= 1000,
                f"{where}.hazard_scale", offering.hazard_scale,
                "expected a number in [0, 1000] (multiplier of the contractual hazard)")
        require(offering.experience >= 0, f"{where}.experience", offering.experience,
                "expected a number >= 0")
        require(offering.experience > 0 or cfg.customers.satisfaction.memory == 0,
                f"{where}.experience", offering.experience,
                "expected a number > 0 while customers.satisfaction is on (its moments are "
                "ln(experience))")
        require(bool(offering.brand), f"{where}.brand", offering.brand,
                "expected a non-empty brand name")
    _check_business_model(firm, key)
    check_strategy(firm, name, cfg, key)
    for need, share in firm.initial_share.items():
        where = f"{key}.initial_share.{need}"
        if need not in firm.offerings:
            raise ConfigError(where, share, f"it offers: {list_names(firm.offerings)}",
                              problem=f"firm {name!r} has no offering for need {need!r}")
        _check_unit(share, where, " (share of customers)")


def _check_business_model(firm: FirmConfig, key: str) -> None:
    """The model's own block, the policies and the partner terms of one firm."""
    eco, bundle, market = firm.ecosystem, firm.bundle, firm.marketplace
    for name in ("context_reach", "entry_bonus", "data_gain"):
        value = getattr(eco, name)
        if name == "entry_bonus":
            require(value >= 0, f"{key}.ecosystem.{name}", value, "expected a number >= 0")
        else:
            _check_unit(value, f"{key}.ecosystem.{name}")
    for need in bundle.needs:
        if need not in firm.offerings:
            raise ConfigError(f"{key}.bundle.needs", need,
                              f"it offers: {list_names(firm.offerings)}",
                              problem=f"the bundle holds {need!r}, which the firm does not offer")
    require(0 <= bundle.discount < 1, f"{key}.bundle.discount", bundle.discount,
            "expected a share of the price in [0, 1)")
    require(bundle.min_products >= 1, f"{key}.bundle.min_products", bundle.min_products,
            "expected an integer >= 1")
    if firm.model == "bundle":
        require(len(bundle.needs) >= bundle.min_products, f"{key}.bundle.needs", bundle.needs,
                f"expected at least min_products ({bundle.min_products}) offered needs")
    _check_unit(market.take_rate, f"{key}.marketplace.take_rate", " (share of spend)")
    require(market.assortment >= 1, f"{key}.marketplace.assortment", market.assortment,
            "expected an integer >= 1 (sellers)")
    for name in ("search_cost", "price_gain", "match_gain"):
        require(getattr(market, name) >= 0, f"{key}.marketplace.{name}", getattr(market, name),
                "expected a number >= 0")
    if market.sellers is not None:
        _check_sellers(firm, key)
    _check_unit(firm.partner_take_rate, f"{key}.partner_take_rate", " (share of spend)")
    cross = firm.cross_sell
    require(cross.contacts_per_step >= 0, f"{key}.cross_sell.contacts_per_step",
            cross.contacts_per_step, "expected a number >= 0 (contacts per customer and step)")
    _check_unit(cross.attention, f"{key}.cross_sell.attention",
                " (probability that a contact is considered)")
    require(cross.organisation in ORGANISATIONS, f"{key}.cross_sell.organisation",
            cross.organisation, one_of(ORGANISATIONS))
    require(cross.targeting in TARGETINGS, f"{key}.cross_sell.targeting", cross.targeting,
            one_of(TARGETINGS))
    require(cross.contact_cost >= 0, f"{key}.cross_sell.contact_cost", cross.contact_cost,
            "expected a number >= 0 (currency per contact)")
    referral = firm.referral
    _check_unit(referral.rate, f"{key}.referral.rate", " (per neighbour and step)")
    require(referral.reward >= 0, f"{key}.referral.reward", referral.reward,
            "expected a number >= 0 (currency per referred customer)")
    require(referral.incentive >= 0, f"{key}.referral.incentive", referral.incentive,
            "expected a number >= 0 (utility)")
    marketing = firm.marketing
    require(marketing.target > 0, f"{key}.marketing.target", marketing.target,
            "expected a number > 0 (LTV / CAC)")
    _check_unit(marketing.adjust, f"{key}.marketing.adjust")


def _check_sellers(firm: FirmConfig, key: str) -> None:
    """A two-sided marketplace's seller side (docs/model.md, "Two-sided marketplaces")."""
    sellers, key = firm.marketplace.sellers, f"{key}.marketplace.sellers"
    require(firm.model == "marketplace", key, "{...}",
            f"expected no seller side on a firm with model {firm.model} (marketplace only); "
            "remove the block or set it to null")
    require(0 <= sellers.network_effect <= 10, f"{key}.network_effect", sellers.network_effect,
            "expected a number in [0, 10] (elasticity of sellers to GMV; 0 = fixed assortment)")
    require(sellers.seller_cost > 0, f"{key}.seller_cost", sellers.seller_cost,
            "expected a number > 0 (currency per seller per step)")
    require(0 < sellers.seller_margin <= 1, f"{key}.seller_margin", sellers.seller_margin,
            "expected a share in (0, 1] (sellers' margin on their proceeds)")
    require(0 < sellers.adjustment <= 1, f"{key}.adjustment", sellers.adjustment,
            "expected a share in (0, 1] (sellers turning over per step)")
    if sellers.initial is not None:
        require(sellers.initial >= 1, f"{key}.initial", sellers.initial,
                "expected null (the assortment) or a number >= 1 (sellers per need)")


def _check_structure_of_market(cfg: EcosimConfig) -> None:
    """Cross-firm rules: partners embed in ecosystems; entrants start without customers."""
    for name, firm in cfg.firms.items():
        key = f"firms.{name}"
        require(0 <= firm.enters_at <= cfg.time.horizon, f"{key}.enters_at", firm.enters_at,
                f"expected a step in [0, {cfg.time.horizon}] (time.horizon)")
        if firm.enters_at > 0 and firm.initial_share:
            raise ConfigError(f"{key}.initial_share", firm.initial_share,
                              "expected no initial_share for a firm that enters after step 0")
        if firm.partner_of is not None:
            hosts = [n for n, f in cfg.firms.items() if f.model == "ecosystem" and n != name]
            require(firm.partner_of in hosts, f"{key}.partner_of", firm.partner_of,
                    f"expected an ecosystem firm: {list_names(hosts)}")
            require(firm.model != "ecosystem", f"{key}.model", firm.model,
                    "expected a partner that is not itself an ecosystem")


#: The business model an investment's capability needs (none: any model).
CAPABILITY_MODELS = {"ecosystem": "ecosystem", "data_pooling": "ecosystem",
                     "marketplace": "marketplace", "bundle": "bundle"}


def _check_investments(cfg: EcosimConfig) -> None:
    """Investments (docs/model.md, "Investment economics"); fills each default ``start``.

    A capability must be one the firm has (its model, as configured or set by an event); a
    ``unit`` names a need the firm offers without initial customers; costs are >= 0; the ramp is
    >= 0 steps; ``start`` lies in [1, horizon] (default: ``enters_at``, at least 1). One
    investment per capability (per need for units).
    """
    horizon = cfg.time.horizon
    for name, firm in cfg.firms.items():
        models = {firm.model} | {str(e.set["model"]) for e in cfg.events
                                 if e.firm == name and "model" in e.set}
        seen: dict[tuple[str, str | None], str] = {}
        for label, inv in firm.investments.items():
            key = f"firms.{name}.investments.{label}"
            require(NAME_PATTERN.fullmatch(label) is not None, key, label,
                    "expected letters, digits, '_' and '-', starting with a letter or '_'")
            require(inv.capability in INVESTMENT_CAPABILITIES, f"{key}.capability",
                    inv.capability, one_of(INVESTMENT_CAPABILITIES))
            model = CAPABILITY_MODELS.get(inv.capability)
            require(model is None or model in models, f"{key}.capability", inv.capability,
                    f"expected a capability of firm {name!r}: {inv.capability} needs model "
                    f"{model} (the firm's: {list_names(sorted(models))})")
            if inv.capability == "unit":
                require(inv.need in firm.offerings, f"{key}.need", inv.need,
                        f"expected a need firm {name!r} offers: {list_names(firm.offerings)}")
                require(firm.initial_share.get(inv.need, 0.0) == 0, f"{key}.need", inv.need,
                        f"expected a unit without initial customers (firms.{name}."
                        f"initial_share.{inv.need} is set): a launched unit starts empty")
            else:
                require(inv.need is None, f"{key}.need", inv.need,
                        f"expected no need (only a unit investment names one; this is "
                        f"{inv.capability})")
            for field_name in ("capex", "opex", "cost_to_serve"):
                value = getattr(inv, field_name)
                unit = {"capex": "currency, once", "opex": "currency per step",
                        "cost_to_serve": "currency per customer per step"}[field_name]
                require(math.isfinite(value) and value >= 0, f"{key}.{field_name}", value,
                        f"expected a number >= 0 ({unit})")
            require(inv.ramp >= 0, f"{key}.ramp", inv.ramp,
                    "expected an integer >= 0 (steps to full strength; 0 = at once)")
            if inv.start is None:
                inv.start = max(firm.enters_at, 1)
            require(1 <= inv.start <= horizon, f"{key}.start", inv.start,
                    f"expected a step in [1, {horizon}] (time.horizon)")
            slot = (inv.capability, inv.need)
            require(slot not in seen, key, label,
                    f"expected one investment per capability (and per need for units); "
                    f"{seen.get(slot)!r} already invests in {inv.capability}"
                    + (f" for {inv.need}" if inv.need else ""))
            seen[slot] = label


def _check_experiment(cfg: EcosimConfig) -> None:
    """The experiment block: arms that keep common random numbers, known KPIs and firms."""
    exp = cfg.experiment
    for name, overrides in exp.arms.items():
        require(NAME_PATTERN.fullmatch(name) is not None, f"experiment.arms.{name}", name,
                "expected letters, digits, '_' and '-', starting with a letter or '_'")
        for path in overrides:
            head = path.split(".")[0]
            require(head not in ARM_FIXED_KEYS, f"experiment.arms.{name}.{path}",
                    overrides[path], f"arms share {list_names(ARM_FIXED_KEYS)} (common random "
                    "numbers and one horizon); set them for the whole experiment")
    for i, kpi in enumerate(exp.kpis):
        require(kpi in EXPERIMENT_KPIS, f"experiment.kpis[{i}]", kpi, one_of(EXPERIMENT_KPIS))
    if exp.focus_firm is not None:
        require(exp.focus_firm in cfg.firms, "experiment.focus_firm", exp.focus_firm,
                f"declared firms: {list_names(cfg.firms)}")
    if exp.factors:
        for arm in exp.factors:
            require(arm in exp.arms, f"experiment.factors.{arm}", arm,
                    f"declared arms: {list_names(exp.arms)}")
        names = sorted({f for factors in exp.factors.values() for f in factors})
        seen = {frozenset(factors) for factors in exp.factors.values()}
        require(len(seen) == len(exp.factors) == 2 ** len(names), "experiment.factors",
                dict(exp.factors), f"expected one arm for every subset of {list_names(names)}")
    for arm in exp.labels:
        require(arm in exp.arms or arm in _factor_names(exp), f"experiment.labels.{arm}", arm,
                f"declared arms and factors: {list_names([*exp.arms, *_factor_names(exp)])}")
    for i, group in enumerate(exp.compare):
        require(len(group) >= 1, f"experiment.compare[{i}]", group, "expected arms")
        for j, arm in enumerate(group):
            require(arm in exp.arms, f"experiment.compare[{i}][{j}]", arm,
                    f"declared arms: {list_names(exp.arms)}")
    _check_headline(cfg)
    _check_assumptions(cfg)


def _factor_names(exp: Any) -> list[str]:
    return sorted({f for factors in exp.factors.values() for f in factors})


def _check_headline(cfg: EcosimConfig) -> None:
    """The headline names a KPI, a firm and the arms or factor its kind needs."""
    exp, head = cfg.experiment, cfg.experiment.headline
    if not head.kind:
        require(not exp.claim_test.op, "experiment.claim_test.op", exp.claim_test.op,
                "a claim test needs experiment.headline")
        require(not cfg.robustness, "robustness", True,
                "robustness needs experiment.headline and experiment.assumptions")
        return
    require(head.kind in HEADLINE_KINDS, "experiment.headline.kind", head.kind,
            one_of(HEADLINE_KINDS))
    require(bool(exp.arms), "experiment.headline.kind", head.kind,
            "a headline compares arms; declare experiment.arms")
    require(head.kpi in EXPERIMENT_KPIS, "experiment.headline.kpi", head.kpi,
            one_of(EXPERIMENT_KPIS))
    firm = head.firm or exp.focus_firm
    require(firm in cfg.firms, "experiment.headline.firm", firm,
            f"declared firms: {list_names(cfg.firms)} (or set experiment.focus_firm)")
    if head.kind == "share":
        require(head.factor in _factor_names(exp), "experiment.headline.factor", head.factor,
                f"factors of experiment.factors: {list_names(_factor_names(exp))}")
    else:
        require(head.arm in exp.arms, "experiment.headline.arm", head.arm,
                f"declared arms: {list_names(exp.arms)}")
        require(head.baseline is None or head.baseline in exp.arms,
                "experiment.headline.baseline", head.baseline,
                f"declared arms: {list_names(exp.arms)}")
    test = exp.claim_test
    require(test.op in ("", *CLAIM_OPS), "experiment.claim_test.op", test.op, one_of(CLAIM_OPS))
    require(math.isfinite(test.value), "experiment.claim_test.value", test.value,
            "expected a finite number")


def _check_assumptions(cfg: EcosimConfig) -> None:
    """Assumptions name keys the config has, with a range; the map names two of them."""
    exp = cfg.experiment
    for name, a in exp.assumptions.items():
        key = f"experiment.assumptions.{name}"
        require(bool(a.keys), f"{key}.keys", a.keys, "expected at least one dotted config key")
        for i, path in enumerate(a.keys):
            require(path.split(".")[0] in ("customers", "needs", "firms"), f"{key}.keys[{i}]",
                    path, "expected a key under customers, needs or firms")
            try:
                value = get_dotted(cfg, path)
            except (KeyError, AttributeError, TypeError):
                value = None
            require(isinstance(value, int | float) and not isinstance(value, bool),
                    f"{key}.keys[{i}]", path, "expected the dotted key of a number the "
                    "config has (schema defaults included)")
        require(math.isfinite(a.low) and math.isfinite(a.high) and a.low < a.high,
                f"{key}.high", a.high, f"expected a number above low ({a.low})")
        require(not a.scale or a.low >= 0, f"{key}.low", a.low,
                "expected a factor >= 0 (scale: true multiplies the keys' values)")
    rob = exp.robustness
    require(len(rob.map) in (0, 2), "experiment.robustness.map", rob.map,
            "expected two assumptions (or none)")
    for i, name in enumerate(rob.map):
        require(name in exp.assumptions, f"experiment.robustness.map[{i}]", name,
                f"declared assumptions: {list_names(exp.assumptions)}")
    require(len(set(rob.map)) == len(rob.map), "experiment.robustness.map", rob.map,
            "expected two different assumptions")
    require(2 <= rob.grid <= 9, "experiment.robustness.grid", rob.grid,
            "expected an integer from 2 to 9")
    require(rob.replications is None or 1 <= rob.replications <= MAX_REPLICATIONS,
            "experiment.robustness.replications", rob.replications,
            f"expected an integer from 1 to {MAX_REPLICATIONS} (the variants replay the run's "
            f"first replications, at most all of them)")
    require(not cfg.robustness or bool(exp.assumptions), "robustness", True,
            "robustness needs experiment.assumptions (the parameters to move)")


def _check_initial_shares(cfg: EcosimConfig) -> None:
    for need in cfg.needs:
        shares = {name: firm.initial_share[need] for name, firm in cfg.firms.items()
                  if need in firm.initial_share}
        total = sum(shares.values())
        if total > 1 + 1e-9:
            last = list(shares)[-1]
            raise ConfigError(f"firms.{last}.initial_share.{need}", shares[last],
                              f"initial shares of {need!r} sum to {total:g} over firms "
                              f"{list_names(shares)}; expected at most 1")


def _check_event(event: EventConfig, i: int, cfg: EcosimConfig, inherited: set[str]) -> None:
    """Check one event and convert its ``set`` values; ``inherited``: offerings with firm brand."""
    key = f"events[{i}]"
    if event.firm not in cfg.firms:
        raise ConfigError(f"{key}.firm", event.firm, f"declared firms: {list_names(cfg.firms)}",
                          problem=f"unknown firm {event.firm!r}")
    require(1 <= event.step <= cfg.time.horizon, f"{key}.step", event.step,
            f"expected a step in [1, {cfg.time.horizon}] (time.horizon)")
    require(bool(event.set), f"{key}.set", event.set, "expected at least one firm key to set")
    firm = cfg.firms[event.firm]
    settable = [name for name in field_types(FirmConfig)
                if name not in STEP_ZERO_FIRM_KEYS and name not in ("investments", "strategy")]
    settings: dict[str, Any] = {}
    for path, value in event.set.items():
        where = f"{key}.set.{path}"
        parts = path.split(".")
        if parts[0] in STEP_ZERO_FIRM_KEYS:
            raise ConfigError(where, value, f"events can set {list_names(settable)}",
                              problem=f"{parts[0]} only acts at step 0")
        if parts[0] == "strategy":
            raise ConfigError(where, value, f"set the strategy in firms.{event.firm}.strategy",
                              problem="events cannot change strategies")
        if parts[0] == "investments":
            raise ConfigError(where, value, "set an investment's start and ramp in "
                              f"firms.{event.firm}.investments",
                              problem="events cannot change investments")
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        nested = check_structure(nested, FirmConfig, firm, f"{key}.set")
        check_event_keys(firm, event.firm, _leaf_paths(nested), f"{key}.set")
        changed = build(FirmConfig, nested, firm)
        for need in changed.offerings:
            if need not in firm.offerings:
                raise ConfigError(f"{key}.set.offerings.{need}", value,
                                  f"its offerings: {list_names(firm.offerings)}",
                                  problem=f"firm {event.firm!r} has no offering for {need!r}")
            changed.offerings[need].brand = changed.offerings[need].brand or changed.brand
        _check_firm(changed, event.firm, cfg, f"{key}.set")
        # a seller side's parameters may change, the side itself may not (agents.sellers)
        if (firm.marketplace.sellers is None) != (changed.marketplace.sellers is None):
            raise ConfigError(where, value, f"configure firms.{event.firm}.marketplace.sellers "
                              "and let events change its parameters",
                              problem="events cannot switch a marketplace's seller side on or off")
        if "marketplace.sellers.initial" in _leaf_paths(nested):
            raise ConfigError(where, value, f"set firms.{event.firm}.marketplace.sellers.initial",
                              problem="initial only acts at step 0")
        for leaf in _leaf_paths(nested):
            settings[leaf] = get_dotted(changed, leaf)
        if changed.brand != firm.brand:  # re-brand the offerings that carry the firm's brand
            for need in sorted(inherited):
                settings.setdefault(f"offerings.{need}.brand", changed.brand)
    event.set = settings


def _leaf_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths to the scalars of a nested mapping (empty mappings set nothing)."""
    paths = []
    for name, item in tree.items():
        path = f"{prefix}.{name}" if prefix else name
        paths += _leaf_paths(item, path) if isinstance(item, dict) else [path]
    return paths


def _check_calibration(cfg: EcosimConfig) -> None:
    """Calibration targets: declared firms and needs, known KPIs, a window inside the horizon."""
    calibration = cfg.calibration
    require(1 <= calibration.window <= cfg.time.horizon, "calibration.window", calibration.window,
            f"expected a number of steps in [1, {cfg.time.horizon}] (time.horizon)")
    for name, target in calibration.targets.items():
        key = f"calibration.targets.{name}"
        if target.firm not in cfg.firms:
            raise ConfigError(f"{key}.firm", target.firm,
                              f"declared firms: {list_names(cfg.firms)}",
                              problem=f"unknown firm {target.firm!r}")
        kpis = FIRM_TARGET_KPIS
        if target.need is not None:
            offered = cfg.firms[target.firm].offerings
            require(target.need in offered, f"{key}.need", target.need,
                    f"a need {target.firm!r} offers: {list_names(offered)}")
            kpis = UNIT_TARGET_KPIS
        require(target.kpi in kpis, f"{key}.kpi", target.kpi,
                one_of(kpis) + (" (with a need)" if target.need is not None else ""))
        require(math.isfinite(target.value), f"{key}.value", target.value, "expected a number")
        require(target.weight >= 0, f"{key}.weight", target.weight, "expected a number >= 0")
        require(target.scale is None or target.scale > 0, f"{key}.scale", target.scale,
                "expected null (|value|) or a number > 0")
        require(target.scale is not None or target.value != 0, f"{key}.scale", target.scale,
                "expected a number > 0 when the target value is 0")


def _check_brands(cfg: EcosimConfig) -> None:
    """At most ``MAX_BRANDS`` distinct brands over firms, offerings and events."""
    seen: dict[str, None] = {}
    for name, firm in cfg.firms.items():
        keys = [(f"firms.{name}.brand", firm.brand)]
        keys += [(f"firms.{name}.offerings.{need}.brand", offering.brand)
                 for need, offering in firm.offerings.items()]
        for key, brand in keys:
            _count_brand(seen, key, brand)
    for i, event in enumerate(cfg.events):
        for path, value in event.set.items():
            if path == "brand" or path.endswith(".brand"):
                _count_brand(seen, f"events[{i}].set.{path}", value)


def _count_brand(seen: dict[str, None], key: str, brand: str) -> None:
    seen.setdefault(brand)
    require(len(seen) <= MAX_BRANDS, key, brand,
            f"expected at most {MAX_BRANDS} distinct brands over firms, offerings and events "
            "(each is a bit of a 64-bit mask per customer)")


def _check_network_size(cfg: EcosimConfig) -> None:
    """A social network indexes customers with 32 bits.

    Checked after the memory check, which a market that large fails first on most machines.
    """
    customers = cfg.customers
    require(customers.network.kind == "none" or customers.n <= MAX_NETWORK_CUSTOMERS,
            "customers.n", customers.n, f"expected at most {MAX_NETWORK_CUSTOMERS:,} customers "
            f"with a social network (its neighbour lists hold 32-bit customer indices); set "
            f"customers.network.kind=none for a larger market")


def _check_memory(cfg: EcosimConfig) -> None:
    """Refuse a run whose estimated peak memory exceeds this machine's (``limits``)."""
    machine = limits.machine_memory()
    parts = limits.memory_estimate(cfg)
    need = limits.total_memory(parts)
    if not machine or need <= machine:
        return
    by_key = {
        "customers.n": parts["population"] + parts["network"] + parts["ledgers"]
        + parts["buffers"],
        "customers.sociodemo.age_bands": parts["cell_ledgers"],
        "time.horizon": parts["history"] + parts["tables"] + parts["cohorts"],
        "replications": parts["all_tables"] - parts["tables"],
        "output.transactions": parts["transactions"],
    }
    key = max(by_key, key=by_key.__getitem__)
    value = get_dotted(cfg, key)
    shown = ", ".join(f"{name} {limits.gib(size)}" for name, size in parts.items()
                      if name != "tables" and size >= 2**28)
    raise ConfigError(key, value, f"expected a run that fits in this machine's "
                      f"{limits.gib(machine)} of memory; this one needs about "
                      f"{limits.gib(need)} ({shown})")
