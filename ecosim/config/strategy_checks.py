"""Checks of a firm's ``strategy`` block (``ecosim.config.validate`` calls them per firm)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ecosim.config.errors import ConfigError, list_names, one_of, require
from ecosim.config.schema import PRICE_OBJECTIVES, RESPONSE_FIELDS, RESPONSE_MATCHES, FirmConfig

if TYPE_CHECKING:
    from ecosim.config.schema import EcosimConfig


def driven_keys(firm: FirmConfig) -> dict[str, str]:
    """The firm's dotted keys its strategy's rules set as the run plays, each with its rule.

    A key that ends in ``.`` stands for every key under it (``marketing.brand_budgets.``).
    When two rules set one key (``check_strategy`` rejects that) the first is named.
    """
    strategy = firm.strategy
    keys: dict[str, str] = {}
    if strategy is None:
        return keys
    if strategy.pricing is not None:
        for need in strategy.pricing.needs or firm.offerings:
            keys[f"offerings.{need}.price_index"] = "pricing"
    if strategy.response is not None:
        for need in strategy.response.needs or firm.offerings:
            for item in strategy.response.match:
                keys.setdefault(f"offerings.{need}.{RESPONSE_FIELDS.get(item, item)}", "response")
    if strategy.allocation is not None:
        keys["marketing.budget"] = keys["marketing.brand_budgets."] = "allocation"
    return keys


def check_event_keys(firm: FirmConfig, name: str, paths: list[str], key: str) -> None:
    """Reject an event (``key``: its ``set``) that sets a key a rule of ``firm`` drives.

    The rule would overwrite the event at its next decision (or keep acting on a value the
    event replaced under it), so the two cannot both drive one key.
    """
    driven = driven_keys(firm)
    for path in paths:
        rule = driven.get(path) or next(
            (r for k, r in driven.items() if k.endswith(".") and path.startswith(k)), None)
        if rule is not None:
            raise ConfigError(
                f"{key}.{path}", None,
                f"set its starting value in firms.{name}.{path}, or drop the event or the rule",
                problem=f"firms.{name}.strategy.{rule} sets this key as the run plays "
                        "(it would overwrite the event)")


def check_strategy(firm: FirmConfig, name: str, cfg: EcosimConfig, key: str) -> None:
    """Check ``firm.strategy`` (nothing when it is None); ``key`` is the firm's key."""
    strategy = firm.strategy
    if strategy is None:
        return
    firm_key, key = key, f"{key}.strategy"
    require(strategy.every >= 1, f"{key}.every", strategy.every,
            "expected an integer >= 1 (steps between decisions)")
    require(1 <= strategy.start <= max(1, cfg.time.horizon), f"{key}.start", strategy.start,
            f"expected a step in [1, {cfg.time.horizon}] (time.horizon)")
    for field in ("capex", "opex"):
        require(getattr(strategy, field) >= 0, f"{key}.{field}", getattr(strategy, field),
                "expected a number >= 0 (currency)")
    pricing = strategy.pricing
    if pricing is not None:
        where = f"{key}.pricing"
        require(pricing.objective in PRICE_OBJECTIVES, f"{where}.objective", pricing.objective,
                one_of(PRICE_OBJECTIVES))
        _check_needs(pricing.needs, firm, name, f"{where}.needs")
        require(0 < pricing.step < 1, f"{where}.step", pricing.step,
                "expected a number in (0, 1) (relative change of the price index per move)")
        require(0 < pricing.min_step <= pricing.step, f"{where}.min_step", pricing.min_step,
                f"expected a number in (0, step = {pricing.step}]")
        require(0 < pricing.min_price, f"{where}.min_price", pricing.min_price,
                "expected a price index > 0")
        require(math.isfinite(pricing.max_price) and pricing.max_price >= pricing.min_price,
                f"{where}.max_price", pricing.max_price,
                f"expected a finite price index >= min_price ({pricing.min_price})")
        for need in pricing.needs or firm.offerings:  # the rule climbs from this price
            price = firm.offerings[need].price_index
            require(pricing.min_price <= price <= pricing.max_price,
                    f"{firm_key}.offerings.{need}.price_index", price,
                    f"expected a price index in [{pricing.min_price:g}, {pricing.max_price:g}] "
                    f"({where}.min_price, max_price: the rule prices {need} within them)")
    allocation = strategy.allocation
    if allocation is not None:
        where = f"{key}.allocation"
        require(0 < allocation.shift <= 1, f"{where}.shift", allocation.shift,
                "expected a share in (0, 1] of the worst brand's budget")
        require(0 <= allocation.floor < 0.5, f"{where}.floor", allocation.floor,
                "expected a share in [0, 0.5) of the total budget")
        require(firm.marketing.rule == "fixed", f"{key}.allocation", "allocation",
                f"expected marketing.rule fixed with an allocation rule (the firm's: "
                f"{firm.marketing.rule}; an adaptive rule sets the budget itself)")
    response = strategy.response
    if response is not None:
        where = f"{key}.response"
        for item in response.match:
            require(item in RESPONSE_MATCHES, f"{where}.match", item, one_of(RESPONSE_MATCHES))
        _check_needs(response.needs, firm, name, f"{where}.needs")
        others = [other for other in cfg.firms if other != name]
        for rival in response.rivals:
            require(rival in others, f"{where}.rivals", rival,
                    f"expected another firm: {list_names(others)}")
        require(response.lag >= 0, f"{where}.lag", response.lag,
                "expected an integer >= 0 (steps)")
        require(response.capex >= 0, f"{where}.capex", response.capex,
                "expected a number >= 0 (currency per match)")
        if pricing is not None and "price" in response.match:
            priced = set(pricing.needs or firm.offerings)
            both = [n for n in response.needs or firm.offerings if n in priced]
            if both:
                raise ConfigError(
                    f"{where}.match", "price",
                    f"match price only in needs the pricing rule leaves alone (it prices "
                    f"{list_names(sorted(priced))}), or drop one of the two rules",
                    problem=f"pricing and response would both set offerings.{both[0]}.price_index"
                            " (pricing's next probe would undo the match)")
    portfolio = strategy.portfolio
    if portfolio is not None:
        where = f"{key}.portfolio"
        require(portfolio.close_after >= 0, f"{where}.close_after", portfolio.close_after,
                "expected an integer >= 0 (decisions; 0: never close)")
        _check_needs(portfolio.launch, firm, name, f"{where}.launch")
        for need in portfolio.launch:
            require(firm.initial_share.get(need, 0.0) == 0, f"{where}.launch", need,
                    f"expected a need without initial_share (firm {name!r} holds it back)")
            units = {inv.need for inv in firm.investments.values() if inv.capability == "unit"}
            require(need not in units, f"{where}.launch", need,
                    "expected a need without a `unit` investment (launch it one way only)")
        for field in ("capex", "margin_per_customer"):
            require(getattr(portfolio, field) >= 0, f"{where}.{field}",
                    getattr(portfolio, field), "expected a number >= 0 (currency)")
        require(0 <= portfolio.expected_share <= 1, f"{where}.expected_share",
                portfolio.expected_share, "expected a share of the need's customers in [0, 1]")
        require(portfolio.payback >= 1, f"{where}.payback", portfolio.payback,
                "expected an integer >= 1 (steps)")


def _check_needs(needs: list[str], firm: FirmConfig, name: str, key: str) -> None:
    for need in needs:
        if need not in firm.offerings:
            raise ConfigError(key, need, f"it offers: {list_names(firm.offerings)}",
                              problem=f"firm {name!r} has no offering for need {need!r}")
