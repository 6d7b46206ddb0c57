"""Segment capacity reporting (ecosim.report.segments) on a hand-built segment_metrics table."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ecosim.report import segments

# Per segment, each need's wallet per step, and each firm's revenue and captured wallet per step.
NEED_WALLET = {"young": {"banking": 10.0, "groceries": 100.0, "taxi": 5.0},
               "old": {"banking": 20.0, "groceries": 150.0, "taxi": 0.0}}
OFFERS = {"bank": ["banking"], "grocer": ["groceries"], "taxi_app": ["taxi"],
          "partner": ["groceries"]}


def _metrics(arms: dict[str, float], replications: int = 3, steps: int = 15) -> pd.DataFrame:
    """``arms``: arm -> the partner's share of groceries (its revenue, bought at reference price).

    The bank earns 1.1 × banking wallet × 0.5 in the base arm, + 1 per replication index, and a
    further 2 per step in every other arm (the paired difference is exactly 2 × 12 = 24).
    """
    rows = []
    for (arm, share), rep, step, (segment, wallets) in itertools.product(
            arms.items(), range(replications), range(steps), NEED_WALLET.items()):
        total = sum(wallets.values())
        extra = 0.0 if arm == "base" else 2.0
        revenue = {"bank": 0.55 * wallets["banking"] + rep + extra,
                   "grocer": (1 - share) * wallets["groceries"],
                   "taxi_app": wallets["taxi"], "partner": share * wallets["groceries"]}
        captured = {"bank": 0.5 * wallets["banking"], "grocer": (1 - share) * wallets["groceries"],
                    "taxi_app": wallets["taxi"], "partner": share * wallets["groceries"]}
        for firm, needs in OFFERS.items():
            rows.append({"arm": arm, "replication": rep, "step": step, "segment": segment,
                         "firm": firm, "customers": 7, "revenue": revenue[firm],
                         "wallet": total, "addressable_wallet": sum(wallets[k] for k in needs),
                         "captured_wallet": captured[firm]})
        rows.append({"arm": arm, "replication": rep, "step": step, "segment": segment,
                     "firm": "all", "customers": 10, "revenue": sum(revenue.values()),
                     "wallet": total, "addressable_wallet": total,
                     "captured_wallet": sum(captured.values())})
    return pd.DataFrame(rows)


def test_last_window_sums_a_year_and_adds_all() -> None:
    year = segments.last_window(_metrics({"base": 0.0}), window=12)
    row = year[(year["segment"] == "young") & (year["firm"] == "all")].iloc[0]
    assert row["wallet"] == pytest.approx(12 * 115.0)
    assert row["customers"] == 10  # at the last step, not summed
    total = year[(year["segment"] == segments.ALL) & (year["firm"] == "grocer")]
    assert total["addressable_wallet"].iloc[0] == pytest.approx(12 * 250.0)


def _needs(arms: list[str], replications: int = 3, steps: int = 15) -> pd.DataFrame:
    """The ``segment_needs`` table of the same market: NEED_WALLET every step."""
    return pd.DataFrame([
        {"arm": arm, "replication": rep, "step": step, "segment": segment, "need": need,
         "wallet": value}
        for arm, rep, step, (segment, wallets) in itertools.product(
            arms, range(replications), range(steps), NEED_WALLET.items())
        for need, value in wallets.items()])


def test_need_window_sums_a_year_per_need_and_adds_all() -> None:
    needs = segments.need_window(_needs(["base"]))
    got = needs[(needs["replication"] == 0)].set_index(["segment", "need"])["wallet"]
    for segment, wallets in NEED_WALLET.items():
        for need, value in wallets.items():
            assert got[(segment, need)] == pytest.approx(12 * value)
    assert got[(segments.ALL, "groceries")] == pytest.approx(12 * 250.0)


def test_host_income_adds_partner_fees_and_the_groups_wallets() -> None:
    year = segments.last_window(_metrics({"base": 0.0, "eco": 0.2}))
    offers = {"base": {f: n for f, n in OFFERS.items()}, "eco": OFFERS}
    income = segments.host_income(year, segments.need_window(_needs(["base", "eco"])), "bank",
                                  {"base": {}, "eco": {"partner": 0.1}}, offers)
    eco = income[(income["arm"] == "eco") & (income["segment"] == "old")
                 & (income["replication"] == 0)].iloc[0]
    assert eco["fees"] == pytest.approx(0.1 * 0.2 * 150.0 * 12)
    assert eco["income"] == pytest.approx(eco["revenue"] + eco["fees"])
    assert eco["addressable"] == pytest.approx(20.0 * 12)
    assert eco["group_addressable"] == pytest.approx((20.0 + 150.0) * 12, abs=1e-6)
    assert eco["group_captured"] == pytest.approx((10.0 + 0.2 * 150.0) * 12)


def test_paired_potential_is_the_difference_on_the_same_replications() -> None:
    year = segments.last_window(_metrics({"base": 0.0, "eco": 0.0}))
    offers = {"base": OFFERS, "eco": OFFERS}
    income = segments.host_income(year, segments.need_window(_needs(["base", "eco"])), "bank",
                                  {}, offers)
    table = segments.paired(income, "income", "base", "eco")
    young = table.set_index("segment").loc["young"]
    # the replications differ (+1 each), the pairs do not: the difference has no spread
    assert young["diff"] == pytest.approx(24.0)
    assert young["diff_low"] == pytest.approx(24.0)
    assert young["base_high"] > young["base_low"]
    base = income[(income["arm"] == "base") & (income["segment"] == "young")]["income"]
    assert young["relative"] == pytest.approx(np.mean(24.0 / base.to_numpy()))
    assert young["relative_low"] < young["relative"] < young["relative_high"]
    assert list(table["segment"]) == ["young", "old", segments.ALL]


def test_figure_and_markdown(tmp_path) -> None:
    year = segments.last_window(_metrics({"base": 0.0, "eco": 0.2}))
    offers = {"base": OFFERS, "eco": OFFERS}
    partners = {"base": {}, "eco": {"partner": 0.08}}
    needs = segments.need_window(_needs(["base", "eco"]))
    income = segments.host_income(year, needs, "bank", partners, offers)
    table = segments.paired(income, "income", "base", "eco")
    title = segments.potential_finding(table, "bank", "eco")
    assert title.startswith("Eco: bank earns +")
    paths = segments.plot_segment_potential(table, "bank", "base", "eco", "#1f4e79",
                                            tmp_path / "segment_potential", title, "a note")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size for p in paths)
    text = segments.markdown(income, needs, table, "base", "eco")
    assert "| young |" in text and "potential" in text
    assert np.isfinite(table[["diff", "diff_low", "diff_high"]].to_numpy()).all()
