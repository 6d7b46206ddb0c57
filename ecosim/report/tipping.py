"""The report's tipping section: did the needs two-sided marketplaces serve tip, and when?

Written only for runs with a two-sided marketplace (``marketplace.sellers``); the numbers come
from ``unit_metrics`` (each firm's customers of each need) through ``metrics.tipping``, so a
report rebuilt from a run directory says the same as ``tipping_summary.csv``.
"""

from __future__ import annotations

import math

import pandas as pd

from ecosim.metrics.tipping import dominance, need_concentration, tipping_summary
from ecosim.report.data import ReportData
from ecosim.report.labels import display_name, names_of
from ecosim.report.tables import markdown_table


def two_sided_needs(data: ReportData) -> list[str]:
    """The needs offered by a marketplace with a seller side, in the config's order."""
    needs = {need for firm in data.config.firms.values()
             if firm.model == "marketplace" and firm.marketplace.sellers is not None
             for need in firm.offerings}
    return [need for need in data.config.needs if need in needs]


def concentration(data: ReportData, needs: list[str]) -> pd.DataFrame:
    """``need_concentration`` rows of every arm and replication, rebuilt from ``unit_metrics``."""
    firms = list(data.config.firms)
    offers = pd.DataFrame([[need in data.config.firms[f].offerings for need in needs]
                           for f in firms], dtype=float).to_numpy()
    frames = []
    units = data.unit_metrics[data.unit_metrics["need"].isin(needs)]
    for (arm, replication), run in units.groupby(["arm", "replication"], sort=False):
        counts = run.pivot_table(index="step", columns=["firm", "need"], values="customers",
                                 aggfunc="sum").reindex(
            columns=pd.MultiIndex.from_product([firms, needs]), fill_value=0.0).fillna(0.0)
        steps = len(counts)
        customers = counts.to_numpy().reshape(steps, len(firms), len(needs))
        offered = offers[None, :, :].repeat(steps, axis=0)
        frames.append(need_concentration(customers, offered, firms, needs, arm, replication))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def tipping_section(data: ReportData) -> list[str]:
    """Markdown lines: per arm and need, the replications that tipped and how fast."""
    needs = two_sided_needs(data)
    if not needs or data.unit_metrics.empty:
        return []
    threshold = data.config.output.dominance_share
    summary = tipping_summary(dominance(concentration(data, needs), threshold))
    if summary.empty:
        return []
    names, unit = names_of(data), data.step_unit
    rows = []
    for row in summary.itertuples(index=False):
        time = (f"{unit} {row.median_time_to_dominance:.0f}"
                if not math.isnan(row.median_time_to_dominance) else "never")
        rows.append({
            "arm": display_name(row.arm, names), "need": row.need,
            "tipped": f"{row.tipped} of {row.replications} "
                      f"({row.tip_ci_low:.0%}–{row.tip_ci_high:.0%})",
            "median time to dominance": time,
            f"leader's share, {unit} {data.horizon}": f"{row.leader_share:.1%}",
            "HHI": f"{row.hhi:.2f}"})
    return ["## Tipping", "",
            f"Needs served by a two-sided marketplace. A need **tipped** in a replication when "
            f"one firm holds at least {threshold:.0%} of its served customers at {unit} "
            f"{data.horizon}; the interval is the 95% Wilson interval of the share of "
            f"replications; the time to dominance is the first {unit} a firm reached that "
            f"share (median of the replications in which one did); HHI is the sum of squared "
            f"shares (1: one firm). Per replication: `dominance.csv`; per {unit}: "
            f"`tipping.parquet`, the sellers in `sellers.parquet`.", "",
            markdown_table(pd.DataFrame(rows)), ""]
