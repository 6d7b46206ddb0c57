"""Investment economics (docs/model.md, "Investment economics"): costs, ramps, NPV, payback.

Every check is an exact identity or a closed form: costs are what the config says in the steps it
says, the published strength of a capability follows its ramp, the NPV of a constant stream is
the annuity, payback and break-even steps are read off hand-built series, and the largest
justified investment equals the discounted profit difference computed here independently.
Switched off (no investments), the tables are bit-identical to the model without them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import firm, market, need, offering, run_model, segment

from ecosim.config import (
    ConfigError,
    EcosimConfig,
    InvestmentConfig,
    config_to_dict,
    load_config,
)
from ecosim.experiment import run, run_experiment
from ecosim.kernels import business as bm
from ecosim.metrics import tables
from ecosim.metrics.summary import (
    PAIRED_KPIS,
    breakeven_step,
    experiment_summary,
    npv,
    payback_step,
    run_kpis,
)
from ecosim.model import EcosystemModel
from ecosim.report.tables import investment_table

N, HORIZON = 2000, 12


def _firms() -> dict[str, Any]:
    """An ecosystem, a bundler with referrals and cross-sell, a marketplace."""
    eco = firm({"a": offering(0.5), "b": offering(0.2)}, {"a": 0.3, "b": 0.2},
               initial_awareness=0.5, budget=500.0)
    eco.model = "ecosystem"
    eco.ecosystem.context_reach, eco.ecosystem.entry_bonus = 0.4, 0.5
    eco.ecosystem.data_gain = 0.3
    tel = firm({"a": offering(0.1), "b": offering(0.3), "c": offering(0.2, convenience=0.6)},
               {"a": 0.2, "b": 0.2}, initial_awareness=0.5, budget=500.0)
    tel.model = "bundle"
    tel.bundle.needs, tel.bundle.discount, tel.bundle.min_products = ["a", "b"], 0.2, 2
    tel.referral.rate, tel.referral.reward = 0.05, 2.0
    tel.cross_sell.contacts_per_step = 0.1
    mkt = firm({"c": offering(-0.5, convenience=0.3)}, {"c": 0.2}, initial_awareness=0.5)
    mkt.model = "marketplace"
    mkt.marketplace.assortment, mkt.marketplace.search_cost = 100, 0.4
    mkt.marketplace.take_rate = 0.1
    return {"eco": eco, "tel": tel, "mkt": mkt}


def busy(investments: dict[str, dict[str, dict[str, Any]]] | None = None,
         **kwargs: Any) -> EcosimConfig:
    """A small market with every capability; ``investments``: firm -> name -> block."""
    firms = _firms()
    for name, blocks in (investments or {}).items():
        firms[name].investments = {label: InvestmentConfig(**block)
                                   for label, block in blocks.items()}
    needs = {"a": need(basket=10.0), "b": need(occurrence=0.5, basket=20.0, risk_priced=True,
                                                base_loss=0.1),
             "c": need(occurrence=0.5, basket=5.0)}
    kwargs.setdefault("segments", {"all": segment(openness=0.2)})
    kwargs.setdefault("switching_cost", 0.5)
    return market(N, HORIZON, needs, firms, **kwargs)


RAMPS = {
    "eco": {"context": {"capability": "ecosystem", "capex": 1000.0, "opex": 50.0, "ramp": 4,
                        "start": 3},
            "data": {"capability": "data_pooling", "opex": 10.0, "ramp": 2, "start": 2,
                     "cost_to_serve": 0.5}},
    "tel": {"bundle": {"capability": "bundle", "capex": 300.0, "ramp": 3, "start": 2},
            "referral": {"capability": "referral", "ramp": 5, "start": 4},
            "cross": {"capability": "cross_sell", "ramp": 2, "start": 6},
            "unit_c": {"capability": "unit", "need": "c", "capex": 400.0, "opex": 20.0,
                       "cost_to_serve": 1.5, "ramp": 2, "start": 5}},
    "mkt": {"market": {"capability": "marketplace", "capex": 200.0, "ramp": 3, "start": 2}},
}


def strength(t: int, start: int, ramp: int) -> float:
    """The ramp, written out independently of ``ecosim.agents.firm``."""
    if t < start:
        return 0.0
    return 1.0 if ramp == 0 else min(1.0, (t - start + 1) / ramp)


# -- configuration ------------------------------------------------------------------------------

def test_default_start_is_the_entry_step_or_step_1() -> None:
    cfg = busy({"eco": {"x": {"capability": "ecosystem"}}})
    assert cfg.firms["eco"].investments["x"].start == 1
    reloaded = load_config(config_to_dict(cfg))
    assert reloaded.firms["eco"].investments["x"] == cfg.firms["eco"].investments["x"]


@pytest.mark.parametrize("block, key, shown", [
    ({"capability": "app"}, "investments.x.capability", "expected one of ecosystem"),
    ({"capability": "marketplace"}, "investments.x.capability", "needs model marketplace"),
    ({"capability": "ecosystem", "need": "a"}, "investments.x.need", "expected no need"),
    ({"capability": "unit"}, "investments.x.need", "expected a need firm 'eco' offers"),
    ({"capability": "unit", "need": "c"}, "investments.x.need", "expected a need firm 'eco'"),
    ({"capability": "unit", "need": "a"}, "investments.x.need", "without initial customers"),
    ({"capability": "ecosystem", "capex": -1.0}, "investments.x.capex", "expected a number >= 0"),
    ({"capability": "ecosystem", "opex": -1.0}, "investments.x.opex", "currency per step"),
    ({"capability": "ecosystem", "cost_to_serve": -0.5},
     "investments.x.cost_to_serve", "currency per customer per step"),
    ({"capability": "ecosystem", "ramp": -1}, "investments.x.ramp", "expected an integer >= 0"),
    ({"capability": "ecosystem", "start": 0}, "investments.x.start", "in [1, 12]"),
    ({"capability": "ecosystem", "start": 13}, "investments.x.start", "in [1, 12]"),
])
def test_bad_investments_are_refused_on_one_line(block: dict[str, Any], key: str,
                                                 shown: str) -> None:
    raw = config_to_dict(busy())
    raw["firms"]["eco"]["investments"] = {"x": block}
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    message = str(error.value)
    assert f"firms.eco.{key}" in message and shown in message and "\n" not in message


def test_one_investment_per_capability_and_none_from_events() -> None:
    raw = config_to_dict(busy())
    raw["firms"]["eco"]["investments"] = {"x": {"capability": "ecosystem"},
                                          "y": {"capability": "ecosystem"}}
    with pytest.raises(ConfigError, match="firms.eco.investments.y.*one investment per"):
        load_config(raw)
    raw = config_to_dict(busy())
    raw["events"] = [{"step": 2, "firm": "eco",
                      "set": {"investments": {"x": {"capability": "ecosystem"}}}}]
    with pytest.raises(ConfigError, match="events cannot change investments"):
        load_config(raw)


def test_a_capability_the_firm_gets_by_an_event_may_be_invested_in() -> None:
    raw = config_to_dict(busy())
    raw["firms"]["tel"]["investments"] = {"x": {"capability": "ecosystem", "start": 6}}
    with pytest.raises(ConfigError, match="needs model ecosystem"):
        load_config(raw)
    raw["events"] = [{"step": 6, "firm": "tel", "set": {"model": "ecosystem"}}]
    assert load_config(raw).firms["tel"].investments["x"].start == 6


# -- switched off: bit-identical -----------------------------------------------------------------

def _firm_metrics(cfg: EcosimConfig) -> pd.DataFrame:
    return run(cfg, progress=False).firm_metrics


def test_without_investments_the_tables_are_bit_identical_and_profit_is_the_old_one() -> None:
    """No key, an empty block, and the old profit formula: the same bits."""
    plain = busy()
    raw = config_to_dict(plain)
    for block in raw["firms"].values():
        block.pop("investments")
    without_key = load_config(raw)
    first, second = _firm_metrics(plain), _firm_metrics(without_key)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert (first[["capex", "opex", "cost_to_serve"]] == 0).all().all()
    old = (first["gross_margin"] - first["losses"] - first["marketing_spend"]
           - first["contact_cost"] + first["partner_fees"])
    assert np.array_equal(first["profit"].to_numpy(), old.to_numpy())


def test_costless_immediate_investments_change_nothing() -> None:
    """Every capability invested in at step 1 with ramp 0 and no cost: strength 1 throughout."""
    blocks = {firm_name: {label: {**b, "capex": 0.0, "opex": 0.0, "cost_to_serve": 0.0,
                                  "ramp": 0, "start": 1}
                          for label, b in firm_blocks.items() if b["capability"] != "unit"}
              for firm_name, firm_blocks in RAMPS.items()}
    pd.testing.assert_frame_equal(_firm_metrics(busy()), _firm_metrics(busy(blocks)),
                                  check_exact=True)


# -- costs ---------------------------------------------------------------------------------------

def test_capex_once_opex_every_step_and_cost_to_serve_per_customer() -> None:
    cfg = busy(RAMPS)
    model = EcosystemModel(cfg)
    h = model.run()
    fm = tables.firm_metrics(h, list(cfg.firms)).set_index(["step", "firm"])
    um = tables.unit_metrics(h, list(cfg.firms), list(cfg.needs)).set_index(
        ["step", "firm", "need"])
    steps = np.arange(HORIZON + 1)
    expected = {  # firm -> (capex, opex, cost to serve) per step, from RAMPS by hand
        "eco": (1000.0 * (steps == 3), 50.0 * (steps >= 3) + 10.0 * (steps >= 2),
                0.5 * (steps >= 2) * fm.xs("eco", level="firm")["customers"].to_numpy()),
        "tel": (300.0 * (steps == 2) + 400.0 * (steps == 5), 20.0 * (steps >= 5),
                1.5 * (steps >= 5) * um.xs(("tel", "c"), level=("firm", "need"))[
                    "customers"].to_numpy()),
        "mkt": (200.0 * (steps == 2), 0.0 * steps, 0.0 * steps),
    }
    for name, (capex, opex, serve) in expected.items():
        rows = fm.xs(name, level="firm")
        assert np.array_equal(rows["capex"].to_numpy(), capex), name
        assert np.array_equal(rows["opex"].to_numpy(), opex), name
        assert np.array_equal(rows["cost_to_serve"].to_numpy(), serve), name
        before = (rows["gross_margin"] - rows["losses"] - rows["marketing_spend"]
                  - rows["contact_cost"] + rows["partner_fees"])
        assert np.array_equal(rows["profit"].to_numpy(),
                              (before - capex - opex - serve).to_numpy()), name
    assert (um.xs(("tel", "c"), level=("firm", "need"))["customers"].iloc[5:] > 0).any()


# -- ramps ---------------------------------------------------------------------------------------

def test_published_strength_follows_the_ramp() -> None:
    """reach(t) = reach × min(1, (t - start + 1) / ramp) from start, 0 before; likewise the
    entry bonus, data gain, bundle discount, referral rate, contacts, marketplace gains and
    the launched unit."""
    cfg = busy(RAMPS)
    model = EcosystemModel(cfg)
    f = model.firm_index
    k = model.need_index
    market_cfg = cfg.firms["mkt"].marketplace
    for t in range(1, HORIZON + 1):
        model.step()
        policies, offers = model.publish_policies(t), model.publish_offers(t)
        eco, tel = policies.firm_real[f["eco"]], policies.firm_real[f["tel"]]
        s = strength(t, 3, 4)
        assert eco[bm.CONTEXT_REACH] == 0.4 * s and eco[bm.ENTRY_BONUS] == 0.5 * s
        assert eco[bm.DATA_GAIN] == 0.3 * strength(t, 2, 2)
        assert tel[bm.BUNDLE_DISCOUNT] == 0.2 * strength(t, 2, 3)
        assert tel[bm.REFERRAL_RATE] == 0.05 * strength(t, 4, 5)
        assert tel[bm.CONTACTS_PER_STEP] == 0.1 * strength(t, 6, 2)
        assert policies.contact_p[f["tel"], 0] == 0.1 * strength(t, 6, 2)
        gain = strength(t, 2, 3) * math.log(market_cfg.assortment)
        assert offers.price[f["mkt"], k["c"]] == 1.0 / (1.0 + market_cfg.price_gain * gain)
        assert offers.quality[f["mkt"], k["c"]] == -0.5 + market_cfg.match_gain * gain
        unit = strength(t, 5, 2)
        assert offers.available[f["tel"], k["c"]] == (unit > 0)
        if unit > 0:
            assert offers.convenience[f["tel"], k["c"]] == 0.6 * unit
    assert model.history.unit_customers[:5, f["tel"], k["c"]].sum() == 0


def test_a_negative_convenience_is_not_improved_by_the_ramp() -> None:
    cfg = busy({"tel": {"u": {"capability": "unit", "need": "c", "ramp": 4, "start": 2}}})
    raw = config_to_dict(cfg)
    raw["firms"]["tel"]["offerings"]["c"]["convenience"] = -0.3
    model = EcosystemModel(load_config(raw))
    offers = model.publish_offers(2)
    assert offers.convenience[model.firm_index["tel"], model.need_index["c"]] == -0.3


# -- NPV, payback, break-even ---------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.0, 0.008, 0.05])
def test_npv_of_a_constant_stream_is_the_annuity(rate: float) -> None:
    cash, steps = 7.0, np.arange(1, 37)
    annuity = cash * 36 if rate == 0 else cash * (1 - (1 + rate) ** -36) / rate
    assert npv(np.full(36, cash), steps, rate) == pytest.approx(annuity, rel=1e-12)


def test_payback_and_break_even_on_a_hand_built_series() -> None:
    steps = np.arange(1, 11)
    #       1     2     3      4     5    6    7    8    9    10
    cash = [5.0, 5.0, -100., -10., 20., 30., 40., 15., 5., 5.]
    # from step 3: -100, -110, -90, -60, -20, -5, 0 (step 9): paid back at 9
    assert payback_step(cash, steps, 3) == 9
    assert breakeven_step(cash, steps, 3) == 5
    assert payback_step(cash, steps, 1) == 1  # the firm's whole profit from step 1
    never = [-1.0] * 10
    assert math.isnan(payback_step(never, steps, 2))
    assert math.isnan(breakeven_step(never, steps, 2))
    assert math.isnan(payback_step(cash, steps, math.nan))  # no investment: no payback


def _frame(arm: str, profit: list[float], capex: list[float]) -> pd.DataFrame:
    """A firm_metrics stub of one firm over steps 0..len-1 with the columns run_kpis reads."""
    n = len(profit)
    zeros = np.zeros(n)
    frame = pd.DataFrame({"arm": arm, "replication": 0, "step": np.arange(n), "firm": "f",
                          "profit": profit, "capex": capex, "opex": zeros,
                          "cost_to_serve": zeros})
    for column in ("customers", "new_customers", "churned_customers", "churn_rate", "cac",
                   "revenue", "gross_margin", "losses", "arpu", "products_per_customer",
                   "share_of_wallet", "contacts", "conversions", "marketing_spend",
                   "partner_fees"):
        frame[column] = 1.0
    return frame


def test_run_kpis_report_npv_payback_and_not_within_the_horizon() -> None:
    base = _frame("base", [0.0] + [10.0] * 12, [0.0] * 13)
    capex = [0.0, 0.0, 80.0] + [0.0] * 10
    arm = _frame("arm", [0.0, 10.0, 14.0 - 80.0] + [14.0] * 10, capex)
    late = _frame("late", [0.0, 10.0, 11.0 - 80.0] + [11.0] * 10, capex)
    kpis = run_kpis(pd.concat([base, arm, late], ignore_index=True), 0.01).set_index("arm")
    # own profit from step 2: -66, -52, -38, -24, -10, +4 at step 7
    assert kpis.loc["arm", "payback_step"] == 7 and kpis.loc["arm", "breakeven_step"] == 3
    assert kpis.loc["arm", "payback_within_horizon"] == 1.0
    # gain over the baseline from step 2: -76, then +4 a step: never back within 12 steps
    assert math.isnan(kpis.loc["arm", "incremental_payback_step"])
    assert kpis.loc["arm", "incremental_payback_within_horizon"] == 0.0
    assert kpis.loc["arm", "incremental_breakeven_step"] == 3
    assert math.isnan(kpis.loc["base", "payback_step"])  # no investment, nothing to pay back
    assert math.isnan(kpis.loc["base", "justified_investment"])
    d, steps = 0.01, np.arange(1, 13)
    assert kpis.loc["arm", "npv"] == pytest.approx(
        10 / 1.01 + (14 - 80) / 1.01**2 + sum(14 / 1.01**t for t in range(3, 13)), rel=1e-12)
    assert kpis.loc["arm", "justified_investment"] == pytest.approx(
        sum(4.0 / (1 + d) ** t for t in steps if t >= 2), rel=1e-12)
    assert kpis.loc["late", "justified_investment"] == pytest.approx(
        sum(1.0 / (1 + d) ** t for t in steps if t >= 2), rel=1e-12)
    summary = experiment_summary(kpis.reset_index())
    paired = summary[summary["kpi"].isin(PAIRED_KPIS)]
    assert paired["diff_mean"].isna().all()
    table = investment_table(summary, "f", ["base", "arm", "late"], "month", 12, 1)
    row = table.set_index("arm").loc["Arm"]  # arms in words (capitalised)
    assert row["payback vs baseline"] == "not within 12 months"
    assert row["break-even vs baseline"] == "month 3"
    assert row["payback of the firm's own profit"] == "month 7"
    assert table.set_index("arm").loc["Base", "payback of the firm's own profit"] == \
        "no investment"


def test_largest_justified_investment_is_the_discounted_profit_difference() -> None:
    """Two arms on common random numbers: the summary's value against one computed here."""
    base, invest = (load_config({**config_to_dict(cfg), "replications": 2})
                    for cfg in (busy(), busy({"eco": RAMPS["eco"]})))
    result = run_experiment({"base": base, "invest": invest}, progress=False)
    fm = result.firm_metrics
    d = base.time.discount_rate
    kpis = result.kpis.set_index(["arm", "replication", "firm"])
    for replication in range(base.replications):
        for name in base.firms:
            def series(arm: str, column: str, replication: int = replication,
                       name: str = name) -> np.ndarray:
                rows = fm[(fm["arm"] == arm) & (fm["replication"] == replication)
                          & (fm["firm"] == name) & (fm["step"] > 0)].sort_values("step")
                return rows[column].to_numpy()
            t = np.arange(1, HORIZON + 1)
            arm_value = np.sum((series("invest", "profit") + series("invest", "capex"))
                               / (1 + d) ** t)
            base_value = np.sum(series("base", "profit") / (1 + d) ** t)
            got = kpis.loc[("invest", replication, name), "justified_investment"]
            assert got == pytest.approx(arm_value - base_value, rel=1e-9, abs=1e-6)
            own = kpis.loc[("invest", replication, name), "npv"]
            assert own == pytest.approx(np.sum(series("invest", "profit") / (1 + d) ** t),
                                        rel=1e-12)
    summary = result.summary
    row = summary[(summary["arm"] == "invest") & (summary["firm"] == "eco")
                  & (summary["kpi"] == "cum_capex")].iloc[0]
    assert row["mean"] == 1000.0


def test_a_unit_is_unavailable_before_it_starts_and_costs_nothing_before() -> None:
    cfg = busy({"tel": {"u": RAMPS["tel"]["unit_c"]}})
    h = run_model(cfg)
    f, k = list(cfg.firms).index("tel"), list(cfg.needs).index("c")
    assert h.unit_customers[:5, f, k].sum() == 0 and h.revenue[:5, f, k].sum() == 0
    assert (h.investment_cost[:5, f] == 0).all()
    assert h.investment_cost[5, f, 0] == 400.0 and h.investment_cost[6:, f, 0].sum() == 0

