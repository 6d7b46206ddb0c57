"""Reports: figures, report.md and the deck of a tiny experiment, and of a run without arms."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from ecosim.config import arm_configs
from ecosim.experiment import mark_complete, run_experiment, write_tables
from ecosim.report import ReportData, write_all, write_figures, write_report
from ecosim.report.deck import write_deck
from ecosim.report.findings import uplift_answer
from ecosim.report.labels import format_difference, format_value, human

QUESTION = "Does convenience or the umbrella brand lift the bank's revenue per customer?"
CLAIM = "Convenience drives the uplift; the brand hardly matters."
EXPERIMENT_FIGURES = ["uplift_waterfall", "kpi_bars", "arpu_over_time", "retention_by_cohort",
                      "ltv_vs_cac", "market_share_by_need"]
SCENARIO_FIGURES = ["customers_and_revenue", "kpi_bars", "arpu_over_time", "retention_by_cohort",
                    "ltv_vs_cac", "market_share_by_need"]
BOTH = {"firms.bank.offerings.delivery.brand": "bank",
        "firms.bank.ecosystem.entry_bonus": 0.8, "firms.bank.ecosystem.context_reach": 0.3}


def raw_market(replications: int = 3, experiment: dict | None = None,
               entrant: bool = False) -> dict:
    """A bank-led ecosystem (banking, delivery), a courier and a neobank: 1,500 customers.

    ``entrant`` adds a courier that enters at step 4 without marketing (no metrics before it
    enters, no CAC ever): the reports must cope with NaN.
    """
    lognormal = {"dist": "lognormal", "mean": 3.0, "sd": 0.5}
    raw = {
        "seed": 0, "replications": replications, "time": {"horizon": 6},
        "customers": {
            "n": 1500,
            "segments": {"all": {"openness": {"dist": "beta", "a": 2, "b": 5},
                                 "brand_affinity": {"dist": "fixed", "value": 0.8}}},
            "lifecycle": {"kind": "contractual", "hazard": {"dist": "fixed", "value": 0.03}},
        },
        "needs": {"banking": {"basket": lognormal},
                  "delivery": {"prevalence": 0.7, "occurrence": 0.6, "basket": lognormal}},
        "firms": {
            "bank": {"model": "ecosystem", "initial_share": {"banking": 0.5},
                     "offerings": {"banking": {"quality": 0.4},
                                   "delivery": {"quality": 0.1, "brand": "bank_eats"}},
                     "initial_awareness": 0.8, "marketing": {"budget": 2000, "reach_cost": 5},
                     "ecosystem": {"context_reach": 0.0, "entry_bonus": 0.0}},
            "courier": {"offerings": {"delivery": {"quality": 0.3, "convenience": 0.4}},
                        "initial_share": {"delivery": 0.4}, "initial_awareness": 0.7,
                        "marketing": {"budget": 2000, "reach_cost": 5}},
            "neobank": {"offerings": {"banking": {"quality": 0.3, "price_index": 0.9}},
                        "initial_share": {"banking": 0.2}, "initial_awareness": 0.5,
                        "marketing": {"budget": 1000, "reach_cost": 5}},
        },
        "events": [],
        "output": {"figures": False},
        "experiment": experiment or {},
    }
    if entrant:
        raw["firms"]["latecomer"] = {"offerings": {"delivery": {"quality": 0.5}}, "enters_at": 4,
                                     "initial_awareness": 0.3}
    return raw


def umbrella_vs_convenience() -> dict:
    """The 2×2 of conf/experiment/umbrella_vs_convenience.yaml on the tiny market."""
    umbrella = {k: v for k, v in BOTH.items() if k.endswith("brand")}
    convenience = {k: v for k, v in BOTH.items() if not k.endswith("brand")}
    return {
        "name": "umbrella_vs_convenience", "question": QUESTION, "claim": CLAIM,
        "focus_firm": "bank", "kpis": ["arpu", "products_per_customer", "cum_profit"],
        "arms": {"neither": {}, "umbrella": umbrella, "convenience": convenience, "both": BOTH},
        "factors": {"neither": [], "umbrella": ["umbrella"], "convenience": ["convenience"],
                    "both": ["umbrella", "convenience"]},
    }


@pytest.fixture(scope="module")
def experiment_result():
    return run_experiment(arm_configs(raw_market(experiment=umbrella_vs_convenience())),
                          progress=False)


@pytest.fixture(scope="module")
def written(experiment_result, tmp_path_factory) -> tuple[Path, list[Path]]:
    """The run directory of the experiment, as ``ecosim`` writes it, and what write_all wrote."""
    out = tmp_path_factory.mktemp("experiment")
    write_tables(experiment_result, out)
    paths = write_all(experiment_result, out, deck=True)
    mark_complete(experiment_result, out)
    return out, paths


@pytest.fixture(scope="module")
def experiment_dir(written) -> Path:
    return written[0]


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory) -> Path:
    """A run without arms, with one replication (no confidence interval anywhere) and an
    entrant, written with the three functions that write_all chains."""
    result = run_experiment(arm_configs(raw_market(replications=1, entrant=True)),
                            progress=False)
    out = tmp_path_factory.mktemp("scenario")
    paths = write_figures(result, out)
    assert [p.name for p in paths[:2]] == ["customers_and_revenue.png",
                                           "customers_and_revenue.svg"]
    write_report(result, out)
    write_deck(result, out)
    return out


@pytest.mark.slow
def test_experiment_writes_every_figure_as_png_and_svg(written) -> None:
    out, paths = written
    expected = [out / "figures" / f"{name}.{suffix}"
                for name in EXPERIMENT_FIGURES for suffix in ("png", "svg")]
    assert paths == [*expected, out / "report.md", out / "deck.pptx"]
    for path in expected:
        assert path.stat().st_size > 20_000, path.name


@pytest.mark.slow
def test_report_states_question_arms_table_and_answer(experiment_dir: Path) -> None:
    text = (experiment_dir / "report.md").read_text()
    assert QUESTION in text and CLAIM in text
    assert "## The answer in two sentences" in text
    for arm in ("neither", "umbrella", "convenience", "both"):
        # the arms table: the name in words, then the config name that re-runs the arm
        assert f"| **{arm.capitalize()}** | `{arm}` |" in text
        assert f" | {arm.capitalize()} | " in text  # a row of the KPI table
    assert "`firms.bank.ecosystem.context_reach` = 0.3" in text
    assert "| KPI | arm | mean | 95% CI | vs neither | 95% CI of the difference |" in text
    assert "## Shapley split of the uplift" in text and "share of the uplift" in text
    assert "## Caveats" in text and "**3 replications**" in text and "1,500" in text
    for link in re.findall(r"\]\((figures/[^)]+)\)", text):
        assert (experiment_dir / link).is_file(), link
    assert len(re.findall(r"\]\(figures/", text)) == len(EXPERIMENT_FIGURES)


@pytest.mark.slow
def test_answer_and_titles_quote_the_summary(experiment_result, experiment_dir: Path) -> None:
    """The numbers in the answer are the summary's, formatted."""
    summary = experiment_result.summary
    both = summary.query("arm == 'both' and firm == 'bank' and kpi == 'arpu'").iloc[0]
    text = (experiment_dir / "report.md").read_text()
    assert format_difference("arpu", both["diff_mean"]) in text
    shapley = experiment_result.shapley().query("kpi == 'arpu'")
    lead = shapley.loc[shapley["mean"].abs().idxmax()]
    assert f"{100 * lead['share_of_uplift']:.0f}%" in text
    assert sum(shapley["share_of_uplift"]) == pytest.approx(1.0)


@pytest.mark.slow
def test_run_directory_and_result_give_the_same_report(experiment_result,
                                                       experiment_dir: Path,
                                                       tmp_path: Path) -> None:
    from_dir = ReportData.from_run_dir(experiment_dir)
    assert from_dir.arms == ["neither", "umbrella", "convenience", "both"]
    assert from_dir.focus_firm == "bank" and from_dir.replications == 3
    write_report(experiment_dir, tmp_path)  # links only figures that exist: none here
    text = (tmp_path / "report.md").read_text()
    assert "](figures/" not in text
    pd.testing.assert_frame_equal(from_dir.kpis, experiment_result.kpis)


def test_scenario_without_arms_compares_firms(scenario_dir: Path) -> None:
    for name in SCENARIO_FIGURES:
        assert (scenario_dir / "figures" / f"{name}.png").is_file(), name
    assert not (scenario_dir / "figures" / "uplift_waterfall.png").exists()
    text = (scenario_dir / "report.md").read_text()
    assert "## Results by firm" in text and "| firm |" in text
    assert "**One replication**" in text
    for firm in ("bank", "courier", "neobank", "latecomer"):
        assert f"| {firm} |" in text
    assert (scenario_dir / "deck.pptx").is_file()  # its slides: tests/test_deck.py


def test_answer_says_whether_the_interval_excludes_zero() -> None:
    def summary(low: float, high: float, n: int = 5) -> pd.DataFrame:
        rows = [("base", 10.0, math.nan, math.nan, math.nan), ("arm", 12.0, 2.0, low, high)]
        return pd.DataFrame([{"arm": a, "firm": "f", "kpi": "arpu", "mean": m, "n": n,
                              "diff_mean": d, "diff_ci_low": lo, "diff_ci_high": hi}
                             for a, m, d, lo, hi in rows])

    clear = " ".join(uplift_answer(summary(1.0, 3.0), "f", "arpu", ["base", "arm"], "month"))
    assert "arm raises f's revenue per customer (ARPU) the most" in clear
    assert "+2.00" in clear and "excludes zero" in clear
    noisy = " ".join(uplift_answer(summary(-1.0, 5.0), "f", "arpu", ["base", "arm"], "month"))
    assert "includes zero" in noisy
    single = " ".join(uplift_answer(summary(math.nan, math.nan, 1), "f", "arpu",
                                    ["base", "arm"], "month"))
    assert "single replication" in single


@pytest.mark.parametrize("value, text", [
    (0, "0"), (5.183, "5.18"), (37.24, "37.2"), (456.4, "456"), (1714, "1,714"),
    (45052, "45.1k"), (250_000, "250k"), (999_999, "1.00M"), (-1.25e6, "−1.25M"),
    (math.nan, "n/a"),
])
def test_numbers_read_like_a_slide(value: float, text: str) -> None:
    assert human(value) == text


def test_shares_and_ratios_have_their_units() -> None:
    assert format_value("churn_rate", 0.0915) == "9.15%"
    assert format_difference("churn_rate", -0.0297) == "−3.0 pp"
    assert format_value("ltv_cac", 3.4) == "3.40×"
    assert format_difference("arpu", 0.5) == "+0.500"
