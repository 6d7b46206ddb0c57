"""The report's section on what firms decided (``decisions.parquet``), so the story reads.

Per arm: how many changes each deciding firm made, by rule (a mean over replications), and the
first replication's decisions in order, with the reason each firm gave (at most ``SHOWN`` rows an
arm; the rest are in ``decisions.parquet``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ecosim.report.labels import name_in
from ecosim.report.tables import markdown_table

#: The most decisions the report lists for an arm.
SHOWN = 12


def _value(key: str, value: float) -> str:
    if key.startswith("units."):
        return "open" if value >= 0.5 else "closed"
    return f"{value:,.4g}"


def decisions_section(data: Any) -> list[str]:
    """Markdown lines of the section (none when no firm decided anything)."""
    decisions: pd.DataFrame = getattr(data, "decisions", None)
    if decisions is None or decisions.empty:
        return []
    replications = max(1, int(getattr(data, "replications", 1)))
    lines = ["## What the firms decided", "",
             "Firms with a `strategy` changed their own prices, budgets, offers or units as the "
             "run played, on what they observed (docs/model.md, \"Firms that decide\"); every "
             "change is a row of `decisions.parquet`.", ""]
    for arm, rows in decisions.groupby("arm", sort=False):
        counts = (rows.groupby(["firm", "rule"]).size() / replications).reset_index(name="n")
        said = "; ".join(f"{name_in(data, firm)} {n:.3g} {rule} change{'s' if n != 1 else ''}"
                         for firm, rule, n in counts.itertuples(index=False))
        lines += [f"### {name_in(data, str(arm), capital=True)}", "",
                  f"Per replication: {said}.", ""]
        first = rows[rows["replication"] == rows["replication"].min()].head(SHOWN)
        table = pd.DataFrame({
            "step": first["step"].astype(int).astype(str),
            "firm": [name_in(data, f) for f in first["firm"]],
            "what": first["key"],
            "from → to": [f"{_value(k, o)} → {_value(k, n)}"
                          for k, o, n in zip(first["key"], first["old"], first["new"],
                                             strict=True)],
            "why": first["reason"]})
        more = int((rows["replication"] == rows["replication"].min()).sum()) - len(first)
        lines += [markdown_table(table), ""]
        if more > 0:
            lines += [f"… and {more} more in replication {int(rows['replication'].min())} "
                      "(`decisions.parquet`).", ""]
    return lines
