"""Reports: figures, report.md and the deck of a tiny experiment, and of a run without arms."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from ecosim.config import arm_configs
from ecosim.experiment import mark_complete, run_experiment, write_tables
from ecosim.report import ReportData, write_all, write_figures, write_report
from ecosim.report.deck import main as deck_main
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
        assert f"| **{arm}** |" in text  # the arms table
        assert f" | {arm} | " in text  # a row of the KPI table
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
def test_deck_has_title_one_picture_per_figure_and_the_table(experiment_dir: Path) -> None:
    deck = Presentation(str(experiment_dir / "deck.pptx"))
    slides = list(deck.slides)
    assert len(slides) == 1 + len(EXPERIMENT_FIGURES) + 1
    assert QUESTION in " ".join(s.text_frame.text for s in slides[0].shapes if s.has_text_frame)
    for slide in slides[1:-1]:
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        assert pictures[0].left >= 0 and pictures[0].left + pictures[0].width <= deck.slide_width
    tables = [s for s in slides[-1].shapes if s.has_table]
    assert len(tables) == 1 and len(tables[0].table.rows) == 1 + 4  # header + arms
    assert deck.slide_width * 9 == deck.slide_height * 16


@pytest.mark.slow
def test_ecosim_deck_reads_a_run_directory(experiment_dir: Path, tmp_path: Path,
                                           capsys) -> None:
    (experiment_dir / "deck.pptx").unlink()
    deck_main([str(experiment_dir)])
    assert len(Presentation(str(experiment_dir / "deck.pptx")).slides) == 8
    assert "deck.pptx" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        deck_main([str(tmp_path)])
    assert stop.value.code == 2


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
    deck = Presentation(str(scenario_dir / "deck.pptx"))
    assert len(deck.slides) == 1 + len(SCENARIO_FIGURES) + 1


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


def broken_copy(experiment_dir: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the run directory without its deck, with ``change(path)`` done to one file."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(experiment_dir, run, ignore=shutil.ignore_patterns("deck.pptx"))
    change(run / name)
    return run


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
@pytest.mark.parametrize("name, change, message", [
    ("metadata.json", Path.unlink,
     "is not a complete run (no metadata.json: the run did not finish, or is still writing)"),
    ("metadata.json", truncate, "metadata.json: cannot be read (Unterminated string"),
    ("firm_metrics.parquet", truncate, "firm_metrics.parquet: cannot be read ("),
    ("cohort_retention.parquet", lambda p: p.write_bytes(b"\x00" * 64),
     "cohort_retention.parquet: cannot be read ("),
    ("config.yaml", lambda p: p.write_text(p.read_text().replace("n: 1500", "n: -5")),
     "config.yaml: customers.n: -5 is not allowed"),
    ("config.yaml", lambda p: p.write_text("customers: {n: 5\n"),
     "config.yaml: cannot be read (while parsing a flow mapping"),
], ids=["incomplete", "metadata-truncated", "parquet-truncated", "parquet-garbage",
        "config-invalid", "config-malformed"])
def test_ecosim_deck_refuses_incomplete_or_damaged_runs(experiment_dir: Path, tmp_path: Path,
                                                        capsys, name, change,
                                                        message) -> None:
    """An incomplete run (no metadata.json) used to get a deck, and damaged files tracebacks:
    one line naming the file, exit status 2, no deck."""
    run = broken_copy(experiment_dir, tmp_path, name, change)
    with pytest.raises(SystemExit) as stop:
        deck_main([str(run)])
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("ecosim-deck: ") and message in err, err
    if name != "metadata.json":
        assert err.startswith(f"ecosim-deck: {run / name}: ")
    assert not (run / "deck.pptx").exists()
