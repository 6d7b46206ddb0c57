"""KPI bars with 95% confidence intervals: arms side by side for one firm, or firms side by side."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecosim.report.findings import arm_effects, best_effect, describe_interval, effect_headline
from ecosim.report.labels import format_difference, format_value, kpi_info, tick_format, unit
from ecosim.report.style import (
    BASELINE_COLOUR,
    SLIDE_SIZE,
    STYLE,
    finish,
    save,
)


def _grid(panels: int) -> tuple[int, int]:
    """Rows and columns for a number of panels on a 16:9 slide."""
    if panels <= 3:
        return 1, panels
    return 2, math.ceil(panels / 2)


def _sample_note(n: int, horizon_text: str) -> str:
    if n < 2:
        return f"{horizon_text}. One replication: no confidence interval."
    return (f"{horizon_text}. Mean over {n} replications; error bars: 95% confidence interval "
            f"(t interval).")


def _errors(rows: pd.DataFrame) -> np.ndarray | None:
    """Error-bar lengths below and above the mean; None when no CI is defined (no caps drawn)."""
    if not np.isfinite(rows["ci_low"].to_numpy(float)).any():
        return None
    low = (rows["mean"] - rows["ci_low"]).fillna(0.0).clip(lower=0.0)
    high = (rows["ci_high"] - rows["mean"]).fillna(0.0).clip(lower=0.0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def kpi_bars_finding(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str]) -> str:
    """The title: which arm moves the firm's headline KPI most, with the CI of the difference."""
    best = best_effect(arm_effects(summary, firm, kpi, arms))
    short = kpi_info(kpi).short
    if best is None:
        return f"{firm}: {short} by arm"
    if best.better is False:
        return f"No arm beats {arms[0]} on {firm}'s {short}"
    return f"{effect_headline(best, arms[0])} {describe_interval(best)}"


def plot_kpi_bars(summary: pd.DataFrame, firm: str, kpis: list[str], arms: list[str],
                  step_unit: str, colour: str, stem: Path, horizon: int,
                  title: str | None = None) -> list[Path]:
    """One panel per KPI, one bar per arm (baseline grey), 95% CI error bars, for ``firm``.

    Above each bar: its mean, and for the other arms the paired difference to the baseline
    (bold when its 95% CI excludes zero). Writes ``stem.png`` and ``stem.svg``.
    """
    rows_n, cols = _grid(len(kpis))
    title = title or kpi_bars_finding(summary, firm, kpis[0], arms)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows_n, cols, figsize=SLIDE_SIZE, squeeze=False)
        for ax in axes.flat[len(kpis):]:
            ax.set_visible(False)
        for ax, kpi in zip(axes.flat, kpis, strict=False):
            rows = (summary[(summary["firm"] == firm) & (summary["kpi"] == kpi)]
                    .set_index("arm").reindex(arms))
            positions = np.arange(len(arms))
            ax.bar(positions, rows["mean"].fillna(0.0),
                   color=[BASELINE_COLOUR] + [colour] * (len(arms) - 1),
                   yerr=_errors(rows), capsize=6, error_kw={"elinewidth": 2})
            effects = {e.arm: e for e in arm_effects(summary, firm, kpi, arms)}
            for x, arm in enumerate(arms):
                _label_bar(ax, x, rows.loc[arm], kpi, effects.get(arm))
            ax.set_xticks(positions, arms, rotation=20 if len(arms) > 4 else 0)
            ax.set_title(kpi_info(kpi).short)
            ax.set_ylabel(unit(kpi, step_unit), fontsize=13)
            ax.axhline(0, color="#333333", linewidth=1)
            ax.grid(axis="x", visible=False)
            ax.margins(y=0.3)
            ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = int(summary["n"].max())
        finish(fig, title, _sample_note(n, f"Values for {firm} at {step_unit} {horizon}")
               + f" Numbers above the bars: mean, and the difference to {arms[0]} (bold: its 95%"
               f" CI excludes 0).")
        return save(fig, Path(stem))


def _label_bar(ax: plt.Axes, x: int, row: pd.Series, kpi: str, effect: object) -> None:
    """The mean above (or below, if negative) the bar, and the difference to the baseline."""
    mean = row["mean"]
    if not math.isfinite(mean):
        return
    top = row["ci_high"] if math.isfinite(row["ci_high"]) else mean
    bottom = row["ci_low"] if math.isfinite(row["ci_low"]) else mean
    upward = mean >= 0
    text = format_value(kpi, mean)
    bold = False
    if effect is not None and math.isfinite(effect.diff):
        text += f"\n{format_difference(kpi, effect.diff)}"
        bold = effect.excludes_zero
    ax.annotate(text, (x, top if upward else bottom), xytext=(0, 4 if upward else -4),
                textcoords="offset points", ha="center", va="bottom" if upward else "top",
                fontsize=13, fontweight="bold" if bold else "normal")


def firm_kpis_finding(summary: pd.DataFrame, firms: list[str], kpi: str, arm: str,
                      step_unit: str) -> str:
    """The title of a firm comparison: the best firm on the headline KPI, and its value."""
    rows = summary[(summary["arm"] == arm) & (summary["kpi"] == kpi) & summary["firm"].isin(firms)]
    rows = rows.dropna(subset=["mean"])
    info = kpi_info(kpi)
    if rows.empty:
        return f"{info.short} by firm"
    best = rows.sort_values("mean", ascending=info.higher_is_better is False).iloc[0]
    word = "lowest" if info.higher_is_better is False else "highest"
    return (f"{best['firm']} has the {word} {info.short} of {len(rows)} firms: "
            f"{format_value(kpi, best['mean'])} {unit(kpi, step_unit)}")


def plot_firm_kpis(summary: pd.DataFrame, firms: list[str], kpis: list[str], arm: str,
                   step_unit: str, colours: dict[str, str], stem: Path, horizon: int,
                   title: str | None = None) -> list[Path]:
    """One panel per KPI, one horizontal bar per firm (firm colours), 95% CI error bars."""
    title = title or firm_kpis_finding(summary, firms, kpis[0], arm, step_unit)
    panels = kpis[:4]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=SLIDE_SIZE, sharey=True, squeeze=False)
        positions = np.arange(len(firms))[::-1]
        for ax, kpi in zip(axes.flat, panels, strict=True):
            rows = (summary[(summary["arm"] == arm) & (summary["kpi"] == kpi)]
                    .set_index("firm").reindex(firms))
            ax.barh(positions, rows["mean"].fillna(0.0), color=[colours[f] for f in firms],
                    xerr=_errors(rows), capsize=4)
            for y, firm in zip(positions, firms, strict=True):
                _label_hbar(ax, y, rows.loc[firm], kpi)
            ax.set_yticks(positions, firms)
            ax.set_title(kpi_info(kpi).short)
            ax.set_xlabel(unit(kpi, step_unit), fontsize=13)
            ax.axvline(0, color="#333333", linewidth=1)
            ax.grid(axis="y", visible=False)
            ax.margins(x=0.3)
            ax.xaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = int(summary["n"].max())
        finish(fig, title, _sample_note(n, f"At {step_unit} {horizon}"))
        return save(fig, Path(stem))


def _label_hbar(ax: plt.Axes, y: float, row: pd.Series, kpi: str) -> None:
    """The mean beyond the end of a horizontal bar and of its error bar."""
    mean = row["mean"]
    if not math.isfinite(mean):
        return
    if mean >= 0:
        end = max(mean, row["ci_high"]) if math.isfinite(row["ci_high"]) else mean
        ax.annotate(format_value(kpi, mean), (end, y), xytext=(5, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=12)
    else:
        end = min(mean, row["ci_low"]) if math.isfinite(row["ci_low"]) else mean
        ax.annotate(format_value(kpi, mean), (end, y), xytext=(-5, 0),
                    textcoords="offset points", va="center", ha="right", fontsize=12)
