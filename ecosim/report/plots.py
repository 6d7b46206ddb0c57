"""Customers and revenue of every firm over time: the overview of a run without arms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecosim.report.labels import display_name, human, tick_format
from ecosim.report.style import (
    SLIDE_SIZE,
    STYLE,
    finish,
    firm_colours,
    legend_layout,
    pyplot,
    save,
    side_legend,
)


def customers_and_revenue_finding(firm_metrics: pd.DataFrame, step_unit: str) -> str:
    """The title: who leads on customers and on revenue at the horizon."""
    last = firm_metrics["step"].max()
    at_end = firm_metrics[firm_metrics["step"] == last].groupby("firm")[
        ["customers", "revenue"]].mean()
    top_customers, top_revenue = at_end["customers"].idxmax(), at_end["revenue"].idxmax()
    most_customers = human(at_end["customers"].max())
    most_revenue = f"{human(at_end['revenue'].max())} per {step_unit}"
    if top_customers == top_revenue:
        return (f"{display_name(top_customers)} leads on customers ({most_customers}) "
                f"and revenue ({most_revenue})")
    return (f"{display_name(top_customers)} ends with the most customers ({most_customers}), "
            f"{display_name(top_revenue)} with the most revenue ({most_revenue})")


def plot_customers_and_revenue(firm_metrics: pd.DataFrame, step_unit: str,
                               stem: str | Path, title: str | None = None) -> list[Path]:
    """Customers and revenue per firm over time (mean over replications, 95% band if several).

    Pass one arm's rows: the means are taken over every row of a firm and step. The title
    states who leads at the horizon. Writes ``stem.png`` and ``stem.svg``.
    """
    firms = list(dict.fromkeys(firm_metrics["firm"]))
    colours = firm_colours(firms)
    grouped = firm_metrics.groupby(["firm", "step"], sort=False)
    stats = grouped[["customers", "revenue"]].agg(["mean", "std", "count"])
    last = firm_metrics["step"].max()
    at_end = firm_metrics[firm_metrics["step"] == last].groupby("firm")[
        ["customers", "revenue"]].mean()
    title = title or customers_and_revenue_finding(firm_metrics, step_unit)
    from matplotlib.ticker import LogLocator, NullFormatter

    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=SLIDE_SIZE)
        for ax, column, label in ((axes[0], "customers", "customers"),
                                  (axes[1], "revenue", f"revenue (currency per {step_unit})")):
            for firm in firms:
                series = stats.loc[firm, column]
                if column == "revenue":  # nothing is bought at step 0, the initial state
                    series = series[series.index > 0]
                ax.plot(series.index, series["mean"], color=colours[firm],
                        label=display_name(firm, capital=True))
                if series["count"].max() > 1:
                    half = 1.96 * series["std"] / series["count"] ** 0.5
                    ax.fill_between(series.index, series["mean"] - half, series["mean"] + half,
                                    color=colours[firm], alpha=0.2, linewidth=0)
            ax.set_xlabel(f"{step_unit}s")
            ax.set_ylabel(label)
            ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format(column)))
        revenue = at_end["revenue"][at_end["revenue"] > 0]
        if len(revenue) > 1 and revenue.max() > 20 * revenue.min():
            axes[1].set_yscale("log")  # one firm would flatten all the others
            axes[1].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axes[1].yaxis.set_minor_formatter(NullFormatter())
            axes[1].yaxis.set_major_formatter(plt.FuncFormatter(tick_format("revenue")))
            axes[1].set_ylabel(f"revenue (currency per {step_unit}, log scale)")
        axes[0].set_title("Customers per firm")
        axes[1].set_title("Revenue per firm")
        size, columns = legend_layout(len(firms))
        side_legend(fig, *axes[0].get_legend_handles_labels(), fontsize=size, ncol=columns)
        replications = int(firm_metrics["replication"].nunique())
        band = (f"bands: 95% intervals over {replications} replications" if replications > 1
                else "one replication: no confidence band")
        finish(fig, title, f"Mean over replications; {band}. Revenue is GMV for a marketplace.")
        return save(fig, Path(stem))
