"""The design of conf/experiment/umbrella_vs_convenience.yaml: arms separate the brand's channels.

Brand (separate, shared awareness, umbrella) × convenience (off, on). A separate brand builds its
own awareness with food_delivery's budget (docs/calibration.md 6a) at any resolution; the
shared-awareness arms give the unit the bank's awareness without its familiarity and spend
nothing on it; the umbrella carries both. No run: composing and validating the arms is enough.
"""

from __future__ import annotations

import pytest
from test_experiments import compose_experiment

from ecosim.config import arm_configs

#: arm -> (delivery brand, awareness held per, advertises bank_eats, convenience on)
DESIGN = {
    "neither": ("bank_eats", "brand", True, False),
    "awareness": ("bank_eats", "firm", False, False),
    "umbrella": ("bank", "brand", False, False),
    "convenience": ("bank_eats", "brand", True, True),
    "awareness_convenience": ("bank_eats", "firm", False, True),
    "both": ("bank", "brand", False, True),
}


@pytest.mark.parametrize("size", [[], ["customers.n=100000"]], ids=["n_20k", "n_100k"])
def test_arms_separate_acquisition_familiarity_and_convenience(size: list[str]) -> None:
    configs = arm_configs(compose_experiment("umbrella_vs_convenience", size))
    assert list(configs) == list(DESIGN)
    for arm, (brand, awareness, advertised, convenience) in DESIGN.items():
        cfg = configs[arm]
        bank = cfg.firms["bank"]
        assert bank.offerings["delivery"].brand == brand, arm
        assert cfg.customers.awareness == awareness, arm
        budgets = dict(bank.marketing.brand_budgets)
        if advertised:
            # a standalone delivery firm's spend, market money whatever customers.n
            assert budgets == {"bank_eats": cfg.firms["food_delivery"].marketing.budget}, arm
            assert budgets["bank_eats"] == cfg.customers.market  # 1 per market customer a month
        else:
            assert budgets == {}, arm
        assert (bank.ecosystem.entry_bonus, bank.ecosystem.context_reach) == (
            (0.5, 0.15) if convenience else (0.0, 0.0)), arm
        # everything else is the bank of the default market
        assert bank.marketing.budget == configs["both"].firms["bank"].marketing.budget


def test_shapley_factors_are_the_four_corners() -> None:
    exp = next(iter(arm_configs(compose_experiment("umbrella_vs_convenience")).values())).experiment
    assert exp.factors == {"neither": [], "umbrella": ["umbrella"],
                           "convenience": ["convenience"], "both": ["umbrella", "convenience"]}
