"""Tipping diagnostics and the platform stylised fact (issue 13 item 3; docs/model.md,
"Two-sided marketplaces" and "Tipping diagnostics").

The stylised fact: two symmetric marketplaces compete for one need; one (``alpha``) starts with a
small lead (55 % of the customers, 120 sellers against 100). Buyers choose by logit, so the ratio
of the two shares moves with ``match_gain`` × ln(seller ratio) (mu = 0.5 here; with price
sensitivity 1 the price gain adds as much to the share as it takes from spend per customer, so
GMV's elasticity to sellers is mu); sellers move with ``network_effect`` (nu) × ln(GMV ratio).
The symmetric split is stable when the loop gain nu × mu < 1 and unstable above (docs/model.md):
nu = 0.3 (gain 0.15) must shrink the lead, nu = 3 (gain 1.5) must tip the market.

Sample sizes: 3 000 customers, so a share at one step has a binomial standard error of
sqrt(0.25 / 3000) = 0.009; tolerances of 0.05 on a share are more than 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import firm, market, need, offering, segment

from ecosim.config import ConfigError, arm_configs, config_to_dict
from ecosim.config.schema import MarketplaceConfig, SellersConfig
from ecosim.experiment import run_experiment, write_tables
from ecosim.metrics.tipping import dominance, need_concentration, tipping_summary, wilson_interval
from ecosim.model import EcosystemModel
from ecosim.report.report import write_report

N, ASSORTMENT, MATCH_GAIN = 3000, 100, 0.5
WEAK, STRONG = 0.3, 3.0
REPLICATIONS = 10


def platforms(nu: float, horizon: int = 60, lead: tuple[float, float] = (1.2, 0.55)):
    """Two marketplaces for one need, ``alpha`` ahead by ``lead`` = (seller ratio, share).

    The seller cost is set so that half the market's GMV holds ``ASSORTMENT`` sellers: at an
    even split S* = A whatever nu, so the symmetric state is a fixed point in both arms.
    """
    price = 1.0 / (1.0 + 0.05 * math.log(ASSORTMENT))
    cost = 0.3 * (1 - 0.1) * (N / 2) * price / ASSORTMENT
    firms = {}
    for name, sellers, share in (("alpha", ASSORTMENT * lead[0], lead[1]),
                                 ("beta", ASSORTMENT, 1.0 - lead[1])):
        f = firm({"x": offering(quality=2.0)}, {"x": share}, initial_awareness=1.0)
        f.model = "marketplace"
        f.marketplace = MarketplaceConfig(
            take_rate=0.1, assortment=ASSORTMENT, match_gain=MATCH_GAIN, price_gain=0.05,
            sellers=SellersConfig(network_effect=nu, seller_cost=cost, seller_margin=0.3,
                                  adjustment=0.3, initial=sellers))
        firms[name] = f
    return market(N, horizon, {"x": need()}, firms, segments={"all": segment(openness=0.3)})


def final_state(nu: float, replications: int = REPLICATIONS, **kwargs) -> pd.DataFrame:
    """alpha's share and ln(alpha's sellers / beta's) at step 0 and at the horizon, per run."""
    rows = []
    for replication in range(replications):
        model = EcosystemModel(platforms(nu, **kwargs), replication)
        h = model.run()
        share = h.unit_customers[:, 0, 0] / h.unit_customers[:, :, 0].sum(axis=1)
        sellers = model.sellers.ledger.sellers[:, :, 0]
        rows.append({"share_0": share[0], "share": share[-1],
                     "log_ratio_0": math.log(sellers[0, 0] / sellers[0, 1]),
                     "log_ratio": math.log(sellers[-1, 0] / sellers[-1, 1])})
    return pd.DataFrame(rows)


# -- the stylised fact ----------------------------------------------------------------------------

def test_weak_network_effects_let_the_leaders_advantage_shrink():
    """nu mu = 0.15: alpha's 10-point lead in customers and 20 % lead in sellers both vanish."""
    runs = final_state(WEAK)
    assert (runs["share_0"] - 0.5).mean() == pytest.approx(0.05, abs=0.02)  # the lead is there
    # each run ends at an even split, within 5 binomial standard errors (0.045)
    assert (runs["share"] - 0.5).abs().max() < 0.05
    # the seller lead shrinks from ln 1.2 = 0.18 to within share noise (nu × 2 × 0.045 = 0.03)
    assert runs["log_ratio"].abs().max() < 0.25 * math.log(1.2)


def test_strong_network_effects_tip_the_market_to_the_leader():
    """nu mu = 1.5: in every replication alpha ends above 80 % of the customers, with sellers
    orders of magnitude above beta's."""
    runs = final_state(STRONG)
    assert runs["share"].min() > 0.8
    assert runs["log_ratio"].min() > 3.0  # alpha's sellers > 20 × beta's


def test_strong_network_effects_tip_a_symmetric_market_either_way():
    """No initial lead: the market still tips (the even split is unstable), and which platform
    wins is down to chance. Without a lead to amplify, the drift starts from sampling noise, so
    the run is longer (120 steps; at 60, about half have tipped). With 20 replications, all won
    by the same side would have probability 2 × 0.5^20 ~ 2e-6 if each side wins half the time."""
    runs = final_state(STRONG, replications=20, lead=(1.0, 0.5), horizon=120)
    winner_share = np.maximum(runs["share"], 1 - runs["share"])
    assert (winner_share > 0.8).mean() >= 0.9
    alpha_wins = int((runs["share"] > 0.5).sum())
    assert 0 < alpha_wins < 20


# -- the diagnostics ------------------------------------------------------------------------------

def test_hhi_leader_and_providers_of_known_shares():
    """Shares 0.6 / 0.3 / 0.1: HHI 0.46; nobody served: HHI NaN, no leader."""
    unit = np.zeros((2, 3, 2))
    unit[1, :, 0] = [60.0, 30.0, 10.0]
    offered = np.zeros((2, 3, 2))
    offered[:, :, 0] = 1
    offered[:, 0, 1] = 1
    frame = need_concentration(unit, offered, ["a", "b", "c"], ["x", "y"], "arm1", 3)
    row = frame[(frame["step"] == 1) & (frame["need"] == "x")].iloc[0]
    assert row["hhi"] == pytest.approx(0.36 + 0.09 + 0.01, rel=1e-12)
    assert (row["leader"], row["leader_share"], row["providers"]) == ("a", 0.6, 3)
    assert row["served"] == 100.0 and row["arm"] == "arm1" and row["replication"] == 3
    empty = frame[(frame["step"] == 1) & (frame["need"] == "y")].iloc[0]
    assert math.isnan(empty["hhi"]) and empty["leader"] == "" and empty["providers"] == 1


def test_time_to_dominance_tipped_and_the_share_that_tips():
    """Three replications: dominated from step 2 and kept; dominated at step 1 then lost; never.
    Needs with one provider are left out."""
    rows = []
    for replication, path in enumerate([[0.5, 0.7, 0.85, 0.9], [0.6, 0.82, 0.7, 0.6],
                                        [0.5, 0.5, 0.55, 0.6]]):
        for step, share in enumerate(path):
            rows.append({"arm": "strong", "replication": replication, "step": step, "need": "x",
                         "providers": 2, "served": 1.0, "hhi": share**2 + (1 - share)**2,
                         "leader": "a", "leader_share": share})
            rows.append({"arm": "strong", "replication": replication, "step": step, "need": "y",
                         "providers": 1, "served": 1.0, "hhi": 1.0, "leader": "a",
                         "leader_share": 1.0})
    per_run = dominance(pd.DataFrame(rows), threshold=0.8)
    assert list(per_run["need"].unique()) == ["x"]
    assert per_run["time_to_dominance"].tolist()[:2] == [2.0, 1.0]
    assert math.isnan(per_run["time_to_dominance"].iloc[2])
    assert per_run["tipped"].tolist() == [True, False, False]
    assert per_run["dominant"].tolist() == ["a", "a", ""]
    summary = tipping_summary(per_run).iloc[0]
    assert (summary["replications"], summary["tipped"]) == (3, 1)
    assert summary["tip_share"] == pytest.approx(1 / 3)
    assert summary["median_time_to_dominance"] == 1.5
    low, high = wilson_interval(1, 3)
    assert (summary["tip_ci_low"], summary["tip_ci_high"]) == (low, high)


def test_wilson_interval_matches_its_closed_form():
    """0 of 10: [0, z² / (n + z²)] = [0, 0.2775]; 5 of 10: 0.5 ± 0.2866 (published tables)."""
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)


# -- the run directory ----------------------------------------------------------------------------

def test_an_experiment_writes_the_tipping_files(tmp_path):
    """Arms weak / strong × 3 replications: the strong arm tips in every replication, the weak
    arm in none; sellers.parquet holds both marketplaces at every step."""
    tree = config_to_dict(platforms(WEAK, horizon=40))
    tree["replications"] = 3
    tree["experiment"] = {"name": "tipping", "arms": {
        "weak": {}, "strong": {"firms.alpha.marketplace.sellers.network_effect": STRONG,
                               "firms.beta.marketplace.sellers.network_effect": STRONG}}}
    result = run_experiment(arm_configs(tree), progress=False)
    out = write_tables(result, tmp_path)
    summary = pd.read_csv(out / "tipping_summary.csv").set_index("arm")
    assert summary.loc["strong", "tipped"] == 3 and summary.loc["weak", "tipped"] == 0
    assert summary.loc["strong", "hhi"] > 0.68  # a leader share above 0.8: HHI > 0.64 + 0.04
    per_run = pd.read_csv(out / "dominance.csv")
    strong = per_run[per_run["arm"] == "strong"]
    assert (strong["dominant"] == "alpha").all()
    assert strong["time_to_dominance"].between(1, 40).all()
    assert per_run.loc[per_run["arm"] == "weak", "time_to_dominance"].isna().all()
    sellers = pd.read_parquet(out / "sellers.parquet")
    assert len(sellers) == 2 * 3 * 41 * 2  # arms × replications × steps × marketplaces
    tipping = pd.read_parquet(out / "tipping.parquet")
    assert len(tipping) == 2 * 3 * 41 and set(tipping["providers"]) == {2}
    # the report's section says what the files say (read from tipping.parquet, sellers.parquet)
    report = write_report(result, out).read_text()
    section = report[report.index("## Tipping"):]
    assert "| weak | x | 0 of 3 (0%–56%) | never |" in section
    assert "| strong | x | 3 of 3 (44%–100%) | month " in section
    strong_share = summary.loc["strong", "leader_share"]
    assert f"| {strong_share:.1%} |" in section


def test_the_report_takes_each_arms_seller_side_from_that_arm(tmp_path):
    """Only the second arm has a seller side (strong network effects): the section lists that
    arm's need and no row of the one-sided baseline, with the numbers of tipping_summary.csv;
    and the same from the run directory. Swapping the arms swaps which arm has the row."""
    tree = config_to_dict(platforms(STRONG, horizon=40))
    sellers = {name: tree["firms"][name]["marketplace"].pop("sellers")
               for name in ("alpha", "beta")}
    tree["firms"]["alpha"]["marketplace"]["sellers"] = None
    tree["firms"]["beta"]["marketplace"]["sellers"] = None
    tree["replications"] = 3
    sided = {f"firms.{name}.marketplace.sellers": block for name, block in sellers.items()}
    for order in (("one_sided", "two_sided"), ("two_sided", "one_sided")):
        arms = {"one_sided": {}, "two_sided": sided}
        tree["experiment"] = {"name": "tipping", "arms": {arm: arms[arm] for arm in order}}
        result = run_experiment(arm_configs(tree), progress=False)
        out = write_tables(result, tmp_path / order[0])
        summary = pd.read_csv(out / "tipping_summary.csv").set_index("arm")
        assert set(summary.index) == {"one_sided", "two_sided"}  # the files cover every need
        row = summary.loc["two_sided"]
        assert row["tipped"] == 3  # strong network effects tip it (the stylised fact)
        for source in (result, out):
            section = write_report(source, out).read_text()
            section = section[section.index("## Tipping"):]
            section = section[:section.index("\n## ", 3)] if "\n## " in section[3:] else section
            assert "| one sided |" not in section  # the arm's name in words
            assert "| two sided | x | 3 of 3 (44%–100%) | month " in section
            assert f"| {row['leader_share']:.1%} | {row['hhi']:.2f} |" in section


@pytest.mark.parametrize("override", [
    {"output.dominance_share": 0.9},
    {"output": {"dominance_share": 0.9}},
])
def test_an_arm_with_its_own_dominance_share_is_refused(override):
    """The run writes one dominance.csv for every arm, with one threshold."""
    tree = config_to_dict(platforms(WEAK, horizon=4))
    tree["experiment"] = {"name": "tipping", "arms": {"base": {}, "stricter": override}}
    with pytest.raises(ConfigError, match=(
            r"^experiment\.arms\.stricter\.output\.dominance_share: 0\.9 is not allowed; "
            r"arms share output\.dominance_share \(the experiment's is 0\.8: the tipping files "
            r"use one threshold\); set it for the whole experiment$")):
        arm_configs(tree)
    tree["output"] = {"dominance_share": 0.9}  # for the whole experiment: every arm has it
    tree["experiment"]["arms"]["stricter"] = {}
    assert {cfg.output.dominance_share for cfg in arm_configs(tree).values()} == {0.9}
    tree["experiment"]["arms"]["stricter"] = {"output.dominance_share": 0.9}  # the same: fine
    assert len(arm_configs(tree)) == 2


def test_a_run_without_a_seller_side_writes_empty_seller_tables(tmp_path):
    """One-sided markets still get their concentration rows; sellers.parquet is empty but
    readable, with its columns."""
    cfg = platforms(WEAK, horizon=4)
    for f in cfg.firms.values():
        f.marketplace.sellers = None
    result = run_experiment({"base": cfg}, progress=False)
    out = write_tables(result, tmp_path)
    sellers = pd.read_parquet(out / "sellers.parquet")
    assert sellers.empty and {"sellers", "gmv", "seller_joins", "seller_leaves"} <= set(sellers)
    assert len(pd.read_parquet(out / "tipping.parquet")) == 5  # steps 0..4 of one need
    assert pd.read_csv(out / "tipping_summary.csv")["replications"].tolist() == [1]
    assert "## Tipping" not in write_report(result, out).read_text()  # no two-sided marketplace


def test_same_config_and_seed_give_the_same_sellers_and_diagnostics():
    first = run_experiment({"strong": platforms(STRONG, horizon=12)}, progress=False)
    again = run_experiment({"strong": platforms(STRONG, horizon=12)}, progress=False)
    pd.testing.assert_frame_equal(first.sellers, again.sellers)
    pd.testing.assert_frame_equal(first.tipping, again.tipping)


def test_the_seller_side_is_set_from_the_command_line():
    """Hydra overrides reach the block like any firm key (``experiment=marketplace_tipping``)."""
    from hydra import compose, initialize_config_dir

    from ecosim.config import load_config, register_configs
    from ecosim.config.store import CONF_DIR

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=[
            "experiment=marketplace_tipping",
            "firms.souk.marketplace.sellers.network_effect=2.5",
            "firms.agora.marketplace.sellers=null"])
    cfg = load_config(raw)
    assert cfg.firms["souk"].marketplace.sellers.network_effect == 2.5
    assert cfg.firms["agora"].marketplace.sellers is None
