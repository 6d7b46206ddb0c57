"""The report's section on firms' decisions lists what ``decisions.parquet`` holds, in order."""

from __future__ import annotations

from conftest import firm, market, need, offering, segment

from ecosim.config import config_to_dict, load_config
from ecosim.experiment import run_experiment, write_tables
from ecosim.report.data import ReportData
from ecosim.report.decisions import SHOWN
from ecosim.report.report import render_report


def _configs():
    solo = firm({"x": offering(quality=1.0)}, {"x": 0.5}, initial_awareness=1.0)
    base = market(500, 40, {"x": need()}, {"solo": solo},
                  segments={"all": segment(price_sensitivity=2.0)})
    tree = config_to_dict(base)
    tree["firms"]["solo"]["strategy"] = {"every": 2, "pricing": {"step": 0.1}}
    return {"static": base, "pricing": load_config(tree)}


def test_the_report_lists_each_arms_decisions_and_points_to_the_rest(tmp_path) -> None:
    result = run_experiment(_configs(), progress=False)
    out = write_tables(result, tmp_path)
    for data in (ReportData.from_result(result), ReportData.from_run_dir(out)):
        text = render_report(data, [])
        section = text[text.index("## What the firms decided"):text.index("## Caveats")]
        assert "### Static" not in section and "### Pricing" in section
        made = result.decisions
        assert len(made) > SHOWN  # decisions at 3, 5, ..., 39: 3 rows a cycle of 4
        assert f"Per replication: solo {len(made):.3g} pricing changes." in section
        first = made.iloc[0]
        assert (f"| {first['step']} | solo | offerings.x.price_index | {first['old']:,.4g} → "
                f"{first['new']:,.4g} | {first['reason']} |") in section
        assert f"… and {len(made) - SHOWN} more in replication 0" in section


def test_a_run_without_decisions_has_no_such_section() -> None:
    result = run_experiment({"static": _configs()["static"]}, progress=False)
    assert "What the firms decided" not in render_report(ReportData.from_result(result), [])
