"""The maturity_stages experiment is built as its brief says: each stage adds its switches.

Composed as ``ecosim experiment=maturity_stages`` composes it (nothing simulated but one tiny
run): stage 1 embeds the partner in the bank's ecosystem with offers in context only, stage 2
adds targeted value-stream offers, stage 3 prices by group LTV, stage 4 adds one entry, pooled
data, shared costs and group-level pricing of every unit; each stage keeps what the stage
before switched on and pays at least its investments; only stages 3 and 4 log decisions. The
headline isolates the objective: stage 3's control prices each unit on its own profit and
differs from stage 3 in nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numba
import pytest
from hydra import compose, initialize_config_dir

from ecosim.config import arm_configs, load_config, register_configs
from ecosim.experiment import run_experiment
from ecosim.robustness import prepare

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
STAGES = ["stage_0_separate", "stage_1_partners", "stage_2_targeted", "stage_3_group_ltv",
          "stage_4_systemic"]
CONTROL = "stage_3_unit_profit"  # stage 3 priced on each unit's profit instead of group LTV
# stage 3's pair in a market where delivery costs more to serve than it earns a customer
COSTLY = ["stage_3_unit_profit_delivery_cost", "stage_3_group_ltv_delivery_cost"]
ARMS = [*STAGES[:3], CONTROL, *STAGES[3:], *COSTLY]


def composed(overrides: list[str] | None = None):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=["experiment=maturity_stages", *(overrides or [])])


def stages(overrides: list[str] | None = None):
    return arm_configs(composed(overrides))


def test_the_headline_and_every_robustness_variant_validate() -> None:
    raw = composed()
    cfg = load_config(raw)
    exp = cfg.experiment
    assert (exp.headline.arm, exp.headline.baseline) == ("stage_3_group_ltv", CONTROL)
    assert [exp.headline.baseline, exp.headline.arm] == exp.compare[0]
    # every step up is compared with the stage before; stage 3 in both of its variants
    steps = [(group[0], arm) for group in exp.compare[1:] for arm in group[1:]]
    assert steps == [("stage_0_separate", "stage_1_partners"),
                     ("stage_1_partners", "stage_2_targeted"),
                     ("stage_2_targeted", CONTROL), ("stage_2_targeted", "stage_3_group_ltv"),
                     tuple(COSTLY), ("stage_3_group_ltv", "stage_4_systemic")]
    assert set(exp.labels) == set(ARMS) and all(len(label) <= 30 for label in exp.labels.values())
    plan = prepare(raw, cfg)
    assert plan.count == 2 * len(exp.assumptions) + exp.robustness.grid ** 2


def test_each_stage_adds_its_switches_to_the_stage_before() -> None:
    configs = stages()
    assert list(configs) == ARMS
    bank = {name: cfg.firms["bank"] for name, cfg in configs.items()}
    partner = {name: cfg.firms["ride_partner"] for name, cfg in configs.items()}
    s0, s1, s2, s3, s4 = (bank[s] for s in STAGES)
    assert s0.model == "standalone" and partner["stage_0_separate"].partner_of is None
    assert s0.cross_sell.contacts_per_step == 0 and s0.strategy is None
    for name in STAGES[1:]:  # partners and context from stage 1 on
        assert bank[name].model == "ecosystem" and partner[name].partner_of == "bank"
        assert partner[name].partner_take_rate == 0.08
        assert bank[name].ecosystem.context_reach == 0.15
    assert s1.ecosystem.entry_bonus == s1.ecosystem.data_gain == 0
    assert s1.cross_sell.contacts_per_step == 0 and s1.strategy is None
    for cfg in (s2, s3, s4):  # targeted offers from stage 2 on
        assert cfg.cross_sell.contacts_per_step == 0.05
        assert (cfg.cross_sell.organisation, cfg.cross_sell.targeting) == ("value_stream",
                                                                          "behavioural")
    assert s2.strategy is None
    assert s3.strategy.pricing.objective == s4.strategy.pricing.objective == "group_ltv"
    assert s3.strategy.pricing.needs == ["delivery", "credit"] and s4.strategy.pricing.needs == []
    assert s3.ecosystem.entry_bonus == 0 and s4.ecosystem.entry_bonus == 0.5
    assert s4.ecosystem.data_gain == 0.5
    for need, offering in s4.offerings.items():  # shared costs: 2 points of margin
        assert offering.margin_rate == pytest.approx(s3.offerings[need].margin_rate + 0.02)
    capex = [sum(inv.capex for inv in b.investments.values())
             + (b.strategy.capex if b.strategy else 0.0) for b in (s0, s1, s2, s3, s4)]
    assert capex == sorted(capex) and len(set(capex)) == 5  # every step up costs more


def test_the_control_differs_from_stage_3_in_the_objective_only() -> None:
    configs = stages()
    control, stage3 = configs[CONTROL], configs["stage_3_group_ltv"]
    assert control.firms["bank"].strategy.pricing.objective == "unit_profit"
    assert stage3.firms["bank"].strategy.pricing.objective == "group_ltv"
    control.firms["bank"].strategy.pricing.objective = "group_ltv"
    assert control == stage3  # same rule, costs, mechanisms, market and seed


def test_the_costly_delivery_pair_adds_only_a_cost_to_serve_delivery() -> None:
    configs = stages()
    for costly, plain in zip(COSTLY, [CONTROL, "stage_3_group_ltv"], strict=True):
        cfg, reference = configs[costly], configs[plain]
        service = cfg.firms["bank"].investments.pop("delivery_service")
        assert (service.capability, service.need) == ("unit", "delivery")
        assert (service.capex, service.opex, service.ramp, service.start) == (0, 0, 0, 1)
        assert service.cost_to_serve == 3.0  # above the 2.87 a customer earns at price 1.05
        assert cfg == reference


@pytest.mark.slow
def test_only_the_group_ltv_stages_decide() -> None:
    threads = numba.get_num_threads()
    try:
        configs = stages(["customers.n=600", "time.horizon=12", "replications=1", "threads=1"])
        decisions = run_experiment(configs, progress=False).decisions
    finally:
        numba.set_num_threads(threads)
    assert set(decisions["arm"]) == {CONTROL, "stage_3_group_ltv", "stage_4_systemic", *COSTLY}
    assert set(decisions["rule"]) == {"pricing"}
    # reviews every 2 months from month 2: a price set at each (probes at the bounds excepted)
    assert set(decisions["step"]) <= set(range(2, 13, 2))
    stage3 = decisions[decisions["arm"].isin([CONTROL, "stage_3_group_ltv", *COSTLY])]
    assert set(stage3["key"]) <= {"offerings.delivery.price_index", "offerings.credit.price_index"}
