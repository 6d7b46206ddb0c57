"""The ``ecosim`` command end to end: default scenario, a user's config, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

TINY = ["customers.n=3000", "time.horizon=6", "events=[]"]
CONTRACT = {
    "firm_metrics": ["arm", "replication", "step", "firm", "customers", "new_customers",
                     "churned_customers", "churn_rate", "marketing_spend", "contact_cost", "cac",
                     "revenue", "gross_margin", "losses", "profit", "arpu",
                     "products_per_customer", "share_of_wallet"],
    "unit_metrics": ["arm", "replication", "step", "firm", "need", "customers", "revenue",
                     "gross_margin", "market_share", "new_customers", "churned_customers"],
    "segment_metrics": ["arm", "replication", "step", "segment", "firm", "customers", "revenue",
                        "wallet", "share_of_wallet"],
    "cohort_retention": ["arm", "replication", "firm", "cohort", "age", "acquired", "alive",
                         "alive_frac", "cum_margin_per_acquired"],
}


def ecosim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecosim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_default_scenario_writes_the_output_contract(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = ecosim(*TINY, "output.transactions=true", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, columns in CONTRACT.items():
        frame = pd.read_parquet(out / f"{name}.parquet")
        assert set(columns) <= set(frame.columns), name
        assert len(frame) > 0
    firm = pd.read_parquet(out / "firm_metrics.parquet")
    assert sorted(firm["step"].unique()) == list(range(7))  # step 0 is the initial state
    assert not (firm["cac"] == float("inf")).any()
    tx = pd.read_parquet(out / "transactions.parquet")
    assert {"customer", "step", "time", "need", "firm", "amount", "margin"} <= set(tx.columns)
    assert tx["amount"].sum() == pytest.approx(firm["revenue"].sum(), rel=1e-9)
    summary = pd.read_csv(out / "summary.csv")
    assert {"arm", "firm", "kpi", "mean", "sd", "ci_low", "ci_high"} <= set(summary.columns)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["n_customers"] == 3000 and meta["steps"] == 6 and meta["seed"] == 0
    assert (out / "config.yaml").is_file()
    assert (out / "figures" / "customers_and_revenue.png").stat().st_size > 10_000
    assert (out / "figures" / "customers_and_revenue.svg").is_file()


def test_user_config_in_the_design_form_runs(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text("""
defaults: [ecosim, _self_]
seed: 3
time: {step_unit: month, horizon: 5, discount_rate: 0.008}
customers:
  n: 2000
  segments:
    pragmatic: {weight: 0.6, price_sensitivity: {dist: lognormal, mean: 0.0, sd: 0.3},
                openness: {dist: beta, a: 2, b: 8}}
    loyal:     {weight: 0.4, habit_strength: {dist: fixed, value: 2.0}}
  switching_cost: {dist: fixed, value: 0.5}
  lifecycle: {kind: contractual, hazard: {dist: beta, a: 1.0, b: 60.0}}
  sociodemo: {informativeness: 0.2}
  network: {kind: watts_strogatz, degree: 10, rewire: 0.1}
needs:
  banking: {prevalence: 1.0, occurrence: 1.0, basket: {dist: lognormal, mean: 3.0, sd: 0.5}}
  taxi:    {prevalence: 0.6, occurrence: 0.4, basket: {dist: lognormal, mean: 2.5, sd: 0.7}}
firms:
  bank:
    model: standalone
    brand: bank
    offerings: {banking: {price_index: 1.0, quality: 0.5, convenience: 0.2, experience: 1.0,
                          margin_rate: 0.3}}
    initial_share: {banking: 0.3}
    initial_awareness: 0.5
    marketing: {budget: 5000, reach_cost: 2.0, word_of_mouth: 0.3}
  cab:
    offerings: {taxi: {price_index: 0.9, quality: 0.4}}
events:
  - {step: 3, firm: bank, set: {offerings.banking.price_index: 1.2}}
output: {transactions: false}
""")
    out = tmp_path / "run"
    done = ecosim("--config-dir", str(tmp_path), "--config-name", "my_market",
                  f"hydra.run.dir={out}", "firms.bank.marketing.budget=1e4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    firm = pd.read_parquet(out / "firm_metrics.parquet")
    assert set(firm["firm"]) == {"bank", "cab"}
    assert (firm.loc[firm["step"] > 0, "marketing_spend"][firm["firm"] == "bank"] == 1e4).all()


@pytest.mark.parametrize("override, key", [
    ("customers.n=-5", "customers.n"),
    ("firms.bank.offerings.banking.margin_rate=1.5", "firms.bank.offerings.banking.margin_rate"),
    ("+firms.bank.offerings.pets={price_index: 1.0}", "firms.bank.offerings.pets"),
    ("+customers.colour=blue", "customers.colour"),
    ("time.horizon=soon", "time.horizon"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, override: str,
                                                  key: str) -> None:
    out = tmp_path / "run"
    done = ecosim(*TINY, override, f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and "Traceback" not in done.stderr
    assert not list(out.glob("*.parquet")) and not (out / "metadata.json").exists()
