"""Segment capacity: wallets by need, addressable and captured wallets, a strategy's potential.

Each segment's wallet is split by need; a firm's addressable and captured wallet are read per
segment; and a strategy arm is valued on the same customers (a worked example's "potential").
Reads ``segment_metrics`` and ``segment_needs`` (docs/design.md §4) over the last ``window``
steps (a year of months by default). A host's *income* from a segment is its revenue there plus
the fees its partners pay on their revenue there (``partner_take_rate`` × the partner's revenue
in the segment); its *group* addresses the needs it or a partner offers. The *potential* of an
arm is its income minus the baseline's in the same replication (common random numbers: the same
customers), with a 95% t interval over replications.

``python -m ecosim.report.segments RUN_DIR --arm ARM`` prints the tables as Markdown and writes
``RUN_DIR/figures/segment_potential.png`` (and ``.svg``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from matplotlib.patches import Patch

from ecosim.metrics.summary import mean_ci
from ecosim.report.findings import possessive
from ecosim.report.labels import display_name, human, tick_format
from ecosim.report.style import (
    BASELINE_COLOUR,
    SLIDE_SIZE,
    STYLE,
    axes_width,
    finish,
    relayout,
    save,
    side_legend,
    text_width,
    wrap_to,
)

#: Steps summed for "a year" (months).
WINDOW = 12
#: The label of the row that sums every segment.
ALL = "all"
_KEYS = ["arm", "replication", "segment"]


def last_window(segment_metrics: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """Sums over the last ``window`` steps per (arm, replication, segment, firm).

    ``revenue``, ``wallet``, ``addressable_wallet`` and ``captured_wallet`` are summed;
    ``customers`` is the count at the last step. A segment ``all`` sums the segments.
    """
    last = int(segment_metrics["step"].max())
    rows = segment_metrics[segment_metrics["step"] > last - window]
    money = ["revenue", "wallet", "addressable_wallet", "captured_wallet"]
    year = rows.groupby([*_KEYS, "firm"], sort=False)[money].sum()
    at_end = rows[rows["step"] == last].set_index([*_KEYS, "firm"])["customers"]
    year = year.join(at_end).reset_index()
    total = year.groupby(["arm", "replication", "firm"], sort=False)[[*money, "customers"]].sum()
    total = total.reset_index().assign(segment=ALL)
    return pd.concat([year, total[year.columns]], ignore_index=True)


def need_window(segment_needs: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """Each segment's wallet per need, summed over the last ``window`` steps.

    Args:
        segment_needs: the run's ``segment_needs`` table.
        window: steps summed.

    Returns:
        One row per (arm, replication, segment, need) with ``wallet``; a segment ``all`` sums the
        segments.
    """
    last = int(segment_needs["step"].max())
    rows = segment_needs[segment_needs["step"] > last - window]
    year = rows.groupby([*_KEYS, "need"], sort=False)["wallet"].sum().reset_index()
    total = year.groupby(["arm", "replication", "need"], sort=False)["wallet"].sum()
    total = total.reset_index().assign(segment=ALL)
    return pd.concat([year, total[year.columns]], ignore_index=True)


def host_income(year: pd.DataFrame, needs: pd.DataFrame, host: str,
                partners: dict[str, dict[str, float]],
                offers: dict[str, dict[str, list[str]]]) -> pd.DataFrame:
    """The host's income, addressable and captured wallet per (arm, replication, segment).

    Columns: ``customers`` (the host's, at the last step), ``wallet`` (the segment's),
    ``revenue`` (the host's own), ``fees`` (its partners' take on their revenue in the segment),
    ``income`` = revenue + fees, ``addressable`` and ``captured`` (the host's own needs),
    ``group_addressable`` and ``group_captured`` (the needs the host or a partner offers).

    Args:
        year: ``last_window``'s table.
        needs: ``need_window``'s table.
        host: the firm.
        partners: per arm, each partner of ``host`` and its take rate.
        offers: per arm, each firm's offered needs.
    """
    out = []
    for arm in offers:
        rows = year[year["arm"] == arm].set_index([*_KEYS, "firm"])
        own = rows.xs(host, level="firm")
        frame = pd.DataFrame({"customers": own["customers"],
                              "wallet": rows.xs(ALL, level="firm")["wallet"],
                              "revenue": own["revenue"],
                              "addressable": own["addressable_wallet"],
                              "captured": own["captured_wallet"]})
        fees = 0.0 * frame["revenue"]
        captured = frame["captured"].copy()
        group_needs = set(offers[arm][host])
        for partner, rate in partners.get(arm, {}).items():
            theirs = rows.xs(partner, level="firm")
            fees = fees + rate * theirs["revenue"]
            captured = captured + theirs["captured_wallet"]
            group_needs |= set(offers[arm][partner])
        arm_needs = needs[(needs["arm"] == arm) & needs["need"].isin(group_needs)]
        frame["fees"] = fees
        frame["income"] = frame["revenue"] + fees
        frame["group_addressable"] = arm_needs.groupby(_KEYS)["wallet"].sum()
        frame["group_captured"] = captured
        out.append(frame.reset_index())
    return pd.concat(out, ignore_index=True)


def paired(frame: pd.DataFrame, column: str, baseline: str, arm: str) -> pd.DataFrame:
    """Per segment: ``column`` under ``baseline`` and ``arm`` and their paired difference.

    Returns one row per segment (in the table's order) with ``base``, ``base_low``,
    ``base_high``, ``arm``, ``arm_low``, ``arm_high``, ``diff``, ``diff_low``, ``diff_high`` (95%
    t intervals over replications) and ``relative``, ``relative_low``, ``relative_high``: the
    mean of arm / base - 1 over replications, with its interval (NaN where base is 0).
    """
    wide = frame.pivot_table(index=["segment", "replication"], columns="arm", values=column)
    rows = []
    for segment in dict.fromkeys(frame["segment"]):
        cell = wide.loc[segment]
        base, arm_values = cell[baseline].to_numpy(), cell[arm].to_numpy()
        b, _, b_low, b_high, _ = mean_ci(base)
        a, _, a_low, a_high, _ = mean_ci(arm_values)
        d, _, d_low, d_high, n = mean_ci(arm_values - base)
        with np.errstate(divide="ignore", invalid="ignore"):
            r, _, r_low, r_high, _ = mean_ci(arm_values / base - 1.0)
        rows.append({"segment": segment, "base": b, "base_low": b_low, "base_high": b_high,
                     "arm": a, "arm_low": a_low, "arm_high": a_high, "diff": d,
                     "diff_low": d_low, "diff_high": d_high, "relative": r,
                     "relative_low": r_low, "relative_high": r_high, "n": n})
    return pd.DataFrame(rows)


def potential_finding(table: pd.DataFrame, firm: str, arm: str,
                      labels: Mapping[str, str] | None = None) -> str:
    """The title: how much the arm adds to the firm's yearly income from the same customers.

    ``labels``: the arms' plain-language names.
    """
    total = table[table["segment"] == ALL].iloc[0]
    best = table[table["segment"] != ALL].sort_values("diff", ascending=False).iloc[0]
    name = display_name(arm, labels, capital=True)
    if not total["diff_low"] > 0 and not total["diff_high"] < 0:
        return f"{name} does not change {possessive(firm)} income (CI spans 0)"
    sign = "+" if total["diff"] > 0 else "\u2212"
    return (f"{name}: {display_name(firm)} earns {sign}{abs(total['relative']):.0%} "
            f"a year from the same customers, most among {display_name(best['segment'])} "
            f"({sign}{abs(best['relative']):.0%})")


def plot_segment_potential(table: pd.DataFrame, firm: str, baseline: str, arm: str,
                           colour: str, stem: Path, title: str, note: str = "",
                           currency: str = "currency per year",
                           labels: Mapping[str, str] | None = None) -> list[Path]:
    """Bars per segment: the firm's yearly income under ``baseline`` and ``arm`` (95% CIs).

    The part of the arm's bar above the baseline is hatched, and the potential (the paired
    difference, with its CI) is written above each pair. ``labels``: the arms' plain-language
    names.
    """
    base_name, arm_name = display_name(baseline, labels), display_name(arm, labels)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        x = np.arange(len(table))
        width = 0.38
        for offset, key, label, face in ((-width / 2, "base", base_name, BASELINE_COLOUR),
                                         (width / 2, "arm", arm_name, colour)):
            means = table[key].to_numpy()
            errors = np.vstack([means - table[f"{key}_low"].to_numpy(),
                                table[f"{key}_high"].to_numpy() - means]).clip(min=0)
            ax.bar(x + offset, means, width, color=face, label=wrap_to(label[:1].upper()
                                                                       + label[1:], 2.6, 14),
                   yerr=errors, capsize=5)
        gain = (table["arm"] - table["base"]).clip(lower=0).to_numpy()
        ax.bar(x + width / 2, gain, width, bottom=table["base"].to_numpy(), color="none",
               edgecolor="white", hatch="//", linewidth=0)
        top = table[["base_high", "arm_high"]].max(axis=1).to_numpy()
        texts = []
        for _, row in table.reset_index(drop=True).iterrows():
            sign = "+" if row["diff"] >= 0 else "\u2212"
            texts.append(f"{sign}{human(abs(row['diff']))} ({sign}{abs(row['relative']):.0%})\n"
                         f"[{human(row['diff_low'])}, {human(row['diff_high'])}]")
        ax.set_ylabel(wrap_to(f"{possessive(firm)} income from the segment ({currency})",
                              5.0, 16))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format("revenue")))
        ax.set_ylim(0, top.max() * 1.3)
        ax.set_xticks(x, [display_name(s, capital=True) for s in table["segment"]])
        handles, _labels = ax.get_legend_handles_labels()
        gap = wrap_to(f"Potential: {arm_name} − {base_name}", 2.6, 14)
        handles.append(Patch(facecolor=colour, edgecolor="white", hatch="//", label=gap))
        side_legend(fig, handles, [h.get_label() for h in handles])
        finish(fig, title, note)
        slot = 0.95 * axes_width(ax) / max(len(table), 1)
        ax.set_xticks(x, [wrap_to(display_name(s, capital=True), slot, 14)
                          for s in table["segment"]])
        size = 15.0
        while size > 9 and max(text_width(line, size, "bold") for t in texts
                               for line in t.split("\n")) > slot:
            size -= 1
        for i, text in enumerate(texts):
            ax.annotate(text, (i, top[i]), xytext=(0, 8), textcoords="offset points",
                        ha="center", va="bottom", fontsize=size, fontweight="bold")
        relayout(fig)
        return save(fig, stem)


def _arm_configs(run_dir: Path) -> dict[str, dict[str, Any]]:
    arms = run_dir / "arms.yaml"
    if arms.is_file():
        return yaml.safe_load(arms.read_text())
    return {"base": yaml.safe_load((run_dir / "config.yaml").read_text())}


def offers_and_partners(configs: dict[str, dict[str, Any]], host: str, start: int
                        ) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, float]]]:
    """Per arm, each firm active from step ``start`` with its needs, and the host's partners."""
    offers, partners = {}, {}
    for arm, cfg in configs.items():
        firms = {name: firm for name, firm in cfg["firms"].items()
                 if int(firm.get("enters_at", 0) or 0) <= start}
        offers[arm] = {name: list(firm.get("offerings", {})) for name, firm in firms.items()}
        partners[arm] = {name: float(firm.get("partner_take_rate", 0.0))
                         for name, firm in firms.items() if firm.get("partner_of") == host}
    return offers, partners


def firm_year(firm_metrics: pd.DataFrame, firms: list[str], window: int = WINDOW
              ) -> pd.DataFrame:
    """Revenue, margin, partner fees and profit of ``firms`` over the last ``window`` steps.

    One row per (arm, replication, firm).
    """
    last = int(firm_metrics["step"].max())
    rows = firm_metrics[(firm_metrics["step"] > last - window) & firm_metrics["firm"].isin(firms)]
    money = ["revenue", "gross_margin", "partner_fees", "profit"]
    return rows.groupby(["arm", "replication", "firm"], sort=False)[money].sum().reset_index()


def _money(value: float, low: float, high: float) -> str:
    return f"{human(value)} [{human(low)}, {human(high)}]"


def markdown(income: pd.DataFrame, needs: pd.DataFrame, potential: pd.DataFrame,
             baseline: str, arm: str) -> str:
    """The tables of the brief: wallets by need, the host's wallets, and the potential."""
    lines = []
    base_needs = needs[needs["arm"] == baseline]
    share = base_needs.groupby(["segment", "need"])["wallet"].mean().unstack("need")
    share = share.div(share.sum(axis=1), axis=0)
    order = list(dict.fromkeys(income["segment"]))
    share = share.loc[order]
    lines += ["| segment | " + " | ".join(share.columns) + " |",
              "| --- |" + " --- |" * len(share.columns)]
    for segment, row in share.iterrows():
        lines.append(f"| {segment} | " + " | ".join(f"{v:.1%}" for v in row) + " |")
    lines.append("")
    cols = ["customers", "wallet", "addressable", "captured", "group_addressable",
            "group_captured", "revenue", "fees", "income"]
    for which in (baseline, arm):
        rows = income[income["arm"] == which]
        lines += [f"**{which}**", "",
                  "| segment | " + " | ".join(cols) + " |", "| --- |" + " --- |" * len(cols)]
        for segment in order:
            cell = rows[rows["segment"] == segment]
            text = []
            for col in cols:
                m, _, low, high, _ = mean_ci(cell[col].to_numpy())
                text.append(f"{m:,.0f}" if col == "customers" else _money(m, low, high))
            lines.append(f"| {segment} | " + " | ".join(text) + " |")
        lines.append("")
    lines += [f"**potential: income under {arm} minus under {baseline}, same customers**",
              "",
              "| segment | " + f"{baseline} | {arm} | potential | relative |",
              "| --- | --- | --- | --- | --- |"]
    for _, row in potential.iterrows():
        lines.append(f"| {row['segment']}"
                     f" | {_money(row['base'], row['base_low'], row['base_high'])}"
                     f" | {_money(row['arm'], row['arm_low'], row['arm_high'])}"
                     f" | {_money(row['diff'], row['diff_low'], row['diff_high'])}"
                     f" | {row['relative']:+.1%} [{row['relative_low']:+.1%}, "
                     f"{row['relative_high']:+.1%}] |")
    return "\n".join(lines)


def firm_markdown(year: pd.DataFrame, baseline: str, arm: str) -> str:
    """Each firm's yearly revenue, fees and profit under both arms, and the paired difference."""
    lines = ["| firm | money (a year) | " + f"{baseline} | {arm} | difference |",
             "| --- | --- | --- | --- | --- |"]
    for firm in dict.fromkeys(year["firm"]):
        rows = year[year["firm"] == firm].rename(columns={"firm": "segment"})
        for column in ("revenue", "gross_margin", "partner_fees", "profit"):
            row = paired(rows, column, baseline, arm).iloc[0]
            lines.append(f"| {firm} | {column} | "
                         f"{_money(row['base'], row['base_low'], row['base_high'])} | "
                         f"{_money(row['arm'], row['arm_low'], row['arm_high'])} | "
                         f"{_money(row['diff'], row['diff_low'], row['diff_high'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m ecosim.report.segments RUN_DIR --arm ARM``: tables and the potential figure."""
    parser = argparse.ArgumentParser(prog="python -m ecosim.report.segments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--arm", required=True, help="the strategy arm")
    parser.add_argument("--baseline", default=None, help="default: the first arm")
    parser.add_argument("--firm", default=None, help="default: the experiment's focus firm")
    parser.add_argument("--window", type=int, default=WINDOW)
    args = parser.parse_args(argv)
    configs = _arm_configs(args.run_dir)
    first = next(iter(configs.values()))
    firm = args.firm or first["experiment"]["focus_firm"]
    baseline = args.baseline or next(iter(configs))
    metrics = pd.read_parquet(args.run_dir / "segment_metrics.parquet")
    horizon = int(metrics["step"].max())
    offers, partners = offers_and_partners(configs, firm, horizon - args.window + 1)
    year = last_window(metrics, args.window)
    needs = need_window(pd.read_parquet(args.run_dir / "segment_needs.parquet"), args.window)
    income = host_income(year, needs, firm, partners, offers)
    potential = paired(income, "income", baseline, args.arm)
    print(markdown(income, needs, potential, baseline, args.arm))
    firms = [firm, *sorted({p for arm_partners in partners.values() for p in arm_partners})]
    print("\n" + firm_markdown(firm_year(pd.read_parquet(args.run_dir / "firm_metrics.parquet"),
                                          firms, args.window), baseline, args.arm))
    folder = args.run_dir / "figures"
    folder.mkdir(exist_ok=True)
    n = int(potential["n"].iloc[0])
    step = first.get("time", {}).get("step_unit", "step")
    labels = first.get("experiment", {}).get("labels") or {}
    note = (f"{possessive(firm).capitalize()} income = its revenue + fees from its partners, "
            f"summed over {step}s {horizon - args.window + 1}–{horizon}; "
            f"{len(year['segment'].unique()) - 1} segments, mean over {n} replications on the "
            f"same customers in both arms; error bars and [brackets]: 95% confidence intervals "
            f"(t interval); the label is the paired difference (the strategy's potential).")
    paths = plot_segment_potential(potential, firm, baseline, args.arm, "#1f4e79",
                                   folder / "segment_potential",
                                   potential_finding(potential, firm, args.arm, labels), note,
                                   f"currency per year, {first['customers']['n']:,} customers",
                                   labels)
    print(f"\nwrote {paths[0]}")


if __name__ == "__main__":
    main()
