"""The report's tipping section: did the needs two-sided marketplaces serve tip, and when?

Written only for runs with a two-sided marketplace (``marketplace.sellers``) in some arm. The
numbers come from the run's own diagnostics (``ReportData.tipping`` and ``.sellers``, i.e.
``tipping.parquet`` and ``sellers.parquet``), which each arm recorded from its own config: the
needs with a seller side are those of that arm, and the providers of a need at each step are the
firms that offered it then (entry dates and closed units included). The section therefore says
what ``dominance.csv`` and ``tipping_summary.csv`` say, for a report written after the run or
redrawn from its directory.
"""

from __future__ import annotations

import math

import pandas as pd

from ecosim.metrics.tipping import dominance, tipping_summary
from ecosim.report.data import ReportData
from ecosim.report.labels import display_name, names_of
from ecosim.report.tables import markdown_table


def two_sided_needs(data: ReportData) -> pd.DataFrame:
    """The (arm, need) pairs in which a marketplace with a seller side offers the need.

    Read from ``sellers.parquet`` (one row per step, two-sided marketplace and need of each
    arm), so an arm that adds a seller side or an offering has its own pairs.
    """
    if data.sellers.empty:
        return pd.DataFrame(columns=["arm", "need"])
    return data.sellers[["arm", "need"]].drop_duplicates(ignore_index=True)


def concentration(data: ReportData) -> pd.DataFrame:
    """The rows of ``tipping.parquet`` for the needs a two-sided marketplace serves in each arm.

    Rows keep the run's order (arms as played, then replication, step and need).
    """
    pairs = two_sided_needs(data)
    if data.tipping.empty or pairs.empty:
        return pd.DataFrame()
    return data.tipping.merge(pairs, on=["arm", "need"], how="inner")


def tipping_section(data: ReportData) -> list[str]:
    """Markdown lines: per arm and need, the replications that tipped and how fast."""
    rows_of_needs = concentration(data)
    if rows_of_needs.empty:
        return []
    threshold = data.config.output.dominance_share  # one for every arm (config.arms)
    summary = tipping_summary(dominance(rows_of_needs, threshold))
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
            f"Needs served by a two-sided marketplace in the arm, offered by two firms or more. "
            f"A need **tipped** in a replication when "
            f"one firm holds at least {threshold:.0%} of its served customers at {unit} "
            f"{data.horizon}; the interval is the 95% Wilson interval of the share of "
            f"replications; the time to dominance is the first {unit} a firm reached that "
            f"share (median of the replications in which one did); HHI is the sum of squared "
            f"shares (1: one firm). Per replication: `dominance.csv`; per {unit}: "
            f"`tipping.parquet`, the sellers in `sellers.parquet`.", "",
            markdown_table(pd.DataFrame(rows)), ""]
