"""Checks of strategy blocks against the rest of the config (``ecosim.config.strategy_checks``).

* one driver per key: an event may not set a key a rule of its firm drives (the rule would
  overwrite it at its next decision), nor may two rules of one firm drive the same key (a
  price-matching response on a need the pricing rule prices);
* a pricing rule starts from a price within its own bounds.
"""

from __future__ import annotations

import pytest
from conftest import firm, market, need, offering, segment

from ecosim.config import ConfigError, config_to_dict, load_config


def _tree(strategy: dict, **prices: float) -> dict:
    """A two-need firm ``f`` (brand ``f`` on x, ``f_y`` on y) and a rival, as a config tree."""
    f = firm({"x": offering(quality=1.0, price_index=prices.get("x", 1.0)),
              "y": offering(quality=1.0, price_index=prices.get("y", 1.0), brand="f_y")},
             {"x": 0.5}, initial_awareness=1.0, budget=100.0)
    f.marketing.brand_budgets = {"f_y": 100.0}
    rival = firm({"x": offering(quality=1.0)}, {"x": 0.2}, initial_awareness=1.0)
    tree = config_to_dict(market(100, 12, {"x": need(), "y": need()}, {"f": f, "rival": rival},
                                 segments={"all": segment()}))
    tree["firms"]["f"]["strategy"] = strategy
    return tree


def _with_event(strategy: dict, event_set: dict, firm_name: str = "f") -> dict:
    tree = _tree(strategy)
    tree["events"] = [{"step": 6, "firm": firm_name, "set": event_set}]
    return tree


@pytest.mark.parametrize("strategy, event_set, rule", [
    ({"pricing": {}}, {"offerings.x.price_index": 2.5}, "pricing"),
    ({"pricing": {"needs": ["y"]}}, {"offerings": {"y": {"price_index": 1.2}}}, "pricing"),
    ({"response": {"match": ["convenience"]}}, {"offerings.x.convenience": 1.0}, "response"),
    ({"response": {"match": ["price"], "needs": ["x"]}}, {"offerings.x.price_index": 0.9},
     "response"),
    ({"allocation": {}}, {"marketing.budget": 50.0}, "allocation"),
    ({"allocation": {}}, {"marketing.brand_budgets.f_y": 50.0}, "allocation"),
])
def test_an_event_on_a_key_a_rule_drives_is_rejected(strategy, event_set, rule) -> None:
    path = next(iter(event_set))
    value = event_set[path]
    while isinstance(value, dict):  # the nested form reports the leaf
        inner = next(iter(value))
        path, value = f"{path}.{inner}", value[inner]
    message = (rf"events\[0\]\.set\.{path}: firms\.f\.strategy\.{rule} sets this key as the run "
               rf"plays \(it would overwrite the event\); set its starting value in "
               rf"firms\.f\.{path}, or drop the event or the rule")
    with pytest.raises(ConfigError, match=message):
        load_config(_with_event(strategy, event_set))


@pytest.mark.parametrize("strategy, event_set, firm_name", [
    ({"pricing": {}}, {"offerings.x.quality": 2.0}, "f"),  # a key no rule drives
    ({"pricing": {"needs": ["y"]}}, {"offerings.x.price_index": 1.2}, "f"),  # x is not priced
    ({"response": {"match": ["convenience"]}}, {"offerings.x.price_index": 1.2}, "f"),
    ({"pricing": {}}, {"offerings.x.price_index": 1.2}, "rival"),  # another firm's key
    ({"allocation": {}}, {"marketing.word_of_mouth": 0.1}, "f"),
])
def test_an_event_on_a_key_no_rule_drives_is_accepted(strategy, event_set, firm_name) -> None:
    cfg = load_config(_with_event(strategy, event_set, firm_name))
    assert cfg.events[0].set == event_set


def test_pricing_and_a_price_matching_response_cannot_drive_one_price() -> None:
    both = {"pricing": {"needs": ["x"]}, "response": {"match": ["convenience", "price"]}}
    with pytest.raises(ConfigError, match=(
            r"firms\.f\.strategy\.response\.match: pricing and response would both set "
            r"offerings\.x\.price_index \(pricing's next probe would undo the match\); match "
            r"price only in needs the pricing rule leaves alone \(it prices x\)")):
        load_config(_tree(both))
    # apart they may: the response matches y's price, pricing climbs x's; or it matches convenience
    load_config(_tree({"pricing": {"needs": ["x"]},
                       "response": {"match": ["price"], "needs": ["y"]}}))
    load_config(_tree({"pricing": {}, "response": {"match": ["convenience"]}}))


@pytest.mark.parametrize("price, need, bounds", [(3.5, "x", {}), (0.4, "y", {}),
                                                 (1.5, "x", {"max_price": 1.2})])
def test_a_priced_offering_must_start_within_the_rules_bounds(price, need, bounds) -> None:
    tree = _tree({"pricing": bounds}, **{need: price})
    low, high = bounds.get("min_price", 0.5), bounds.get("max_price", 3.0)
    with pytest.raises(ConfigError, match=(
            rf"firms\.f\.offerings\.{need}\.price_index: {price} is not allowed; expected a "
            rf"price index in \[{low:g}, {high:g}\] \(firms\.f\.strategy\.pricing\.min_price, "
            rf"max_price: the rule prices {need} within them\)")):
        load_config(tree)
    # an offering the rule does not price may lie outside them
    other = "y" if need == "x" else "x"
    load_config(_tree({"pricing": {**bounds, "needs": [other]}}, **{need: price}))
