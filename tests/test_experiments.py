"""Smoke test of every shipped experiment: it composes with Hydra and runs at a tiny size.

Each ``conf/experiment/<name>.yaml`` is composed as ``ecosim experiment=<name>`` would compose it,
shrunk to a few hundred customers, 12 steps and 2 replications, and run on common random numbers.
The run must produce every arm in every table, and the summary must hold a finite mean for each of
the experiment's KPIs wherever the KPI is defined (CAC needs new customers, conversion rate needs
contacts). Events and entry steps of the experiments lie at or before month 12, so the tiny
horizon keeps them valid.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from ecosim.config import arm_configs, register_configs
from ecosim.experiment import TABLES, run_experiment

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
EXPERIMENTS = sorted(CONF_DIR.glob("experiment/*.yaml"))
#: A few hundred customers need no threads: one numba thread is 3× faster than two here.
TINY = ["customers.n=600", "time.horizon=12", "replications=2", "threads=1",
        "output.figures=false"]
#: Ratio KPIs: NaN where their denominator is 0 (no new customer, no contact, no spend), which
#: can happen in some arm of a tiny market; they must be finite in at least one arm.
RATIOS = {"cac", "ltv", "ltv_cac", "conversion_rate", "churn_rate", "arpu",
          "products_per_customer", "share_of_wallet"}


@pytest.fixture
def restore_threads():
    """``run`` sets numba's thread count from ``threads``; give the next tests their cores back."""
    threads = numba.get_num_threads()
    yield
    numba.set_num_threads(threads)


def compose_experiment(name: str, overrides: list[str] | None = None):
    """The composed config of ``ecosim experiment=<name> <overrides>``."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"experiment={name}", *(overrides or [])])


def test_the_catalogue_is_shipped() -> None:
    names = {path.stem for path in EXPERIMENTS}
    assert {"cac_squeeze", "growth_levers", "ecosystem_vs_marketplace", "umbrella_vs_convenience",
            "convenient_entrant", "segmentation", "silos_vs_value_streams",
            "cx_price_resistance", "data_pooling", "segment_capacity", "maturity_stages"} <= names
    for name in names:
        assert (CONF_DIR.parent / "experiments" / f"{name}.md").is_file(), name


@pytest.mark.slow
@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_composes_and_runs_tiny(path: Path, restore_threads: None) -> None:
    name = path.stem
    assert path.read_text().startswith("# @package _global_"), name
    configs = arm_configs(compose_experiment(name, TINY))
    base = next(iter(configs.values()))
    exp = base.experiment
    assert exp.name == name and exp.question and exp.claim
    assert exp.focus_firm in base.firms
    assert all(cfg.customers.n == 600 and cfg.time.horizon == 12 for cfg in configs.values())

    result = run_experiment(configs, progress=False)

    arms = set(configs)
    for table in TABLES:
        assert set(getattr(result, table)["arm"]) == arms, (name, table)
    summary = result.summary
    assert set(summary["arm"]) == arms
    focus = summary[(summary["firm"] == exp.focus_firm) & summary["kpi"].isin(exp.kpis)]
    assert set(focus["kpi"]) == set(exp.kpis)
    for kpi, rows in focus.groupby("kpi"):
        finite = np.isfinite(rows["mean"].to_numpy())
        assert finite.any() if kpi in RATIOS else finite.all(), \
            (name, kpi, rows[["arm", "mean"]].to_dict("records"))
    if exp.factors:
        shapley = result.shapley()
        assert set(shapley["kpi"]) == set(exp.kpis)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiments_simulate_a_sample_of_the_default_market(path: Path) -> None:
    """Every experiment simulates 20 000 customers of the default 100 000-customer market.

    Budgets are market money, so an experiment keeps the default budgets of the firms it does not
    change, and ``customers.n=100000`` changes the resolution only: same market, same budgets.
    """
    base = compose_experiment(path.stem, [])
    full = compose_experiment(path.stem, ["customers.n=100000"])
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        default = compose("config")
    assert base.customers.n == 20_000 and full.customers.n == 100_000
    assert base.customers.market_size == full.customers.market_size == 100_000
    assert default.customers.market_size == default.customers.n == 100_000
    for firm, cfg in full.firms.items():
        assert cfg.marketing.budget == base.firms[firm].marketing.budget, firm
    for firm in ("grocer", "streamer", "clinic"):  # no experiment changes their advertising
        assert base.firms[firm].marketing.budget == default.firms[firm].marketing.budget, firm
