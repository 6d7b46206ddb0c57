"""The figures of a run, planned from its data and written as PNG and SVG into ``figures/``.

``plan_figures`` decides which figures a run gets, their titles (each states a finding computed
from the data) and captions, without drawing; ``write_figures`` draws them. An experiment gets
the uplift waterfall, KPI bars per arm, ARPU per arm, retention per arm, LTV vs CAC and market
share (baseline against the winning arm); a run without arms compares firms instead. With a
declared headline the first figure's title is the verdict on the claim, and a run with
``robustness=true`` adds the tornado and the map of the headline over its assumptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecosim.report import (
    arpu,
    kpi_bars,
    ltv_cac,
    market_share,
    plots,
    retention,
    robustness_map,
    tornado,
    verdict,
    waterfall,
)
from ecosim.report.data import ReportData, as_report_data
from ecosim.report.findings import possessive, shapley_headline
from ecosim.report.labels import display_name, kpi_info, names_of
from ecosim.report.style import arm_colours, firm_colours

#: Panels of the retention figure in a run without arms (the largest firms).
RETENTION_FIRMS = 4
#: Most arms a figure with a line or a panel (or a marker) per arm shows.
ARPU_ARMS, RETENTION_ARMS, LTV_ARMS = 8, 6, 6


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw: its file stem, its title (the finding), a caption and how to draw it."""

    name: str
    title: str
    caption: str
    draw: Callable[[Path], list[Path]]


def _largest_firms(data: ReportData, count: int) -> list[str]:
    s = data.summary
    rows = s[(s["arm"] == data.baseline) & (s["kpi"] == "customers")]
    return list(rows.sort_values("mean", ascending=False)["firm"].head(count))


def headline_title(data: ReportData) -> str | None:
    """The headline figure's title: the verdict on the claim, or None without a headline.

    The same sentence as the report's answer; None leaves the figure its own finding.
    """
    if data.headline is None:
        return None
    return verdict.verdict_title(data) or None


def _waterfall(data: ReportData, kpi: str, colour: str,
               title: str | None = None) -> FigureSpec | None:
    firm, exp, unit = data.focus_firm, data.experiment, data.step_unit
    names = names_of(data)
    if exp.factors and not data.shapley.empty:
        title = title or shapley_headline(data.shapley, firm, kpi, names)
        return FigureSpec(
            "uplift_waterfall", title,
            f"From the arm with no factor to the arm with every factor, each step is one factor's "
            f"Shapley contribution to {possessive(firm)} {kpi_info(kpi).label}, with its 95% CI.",
            lambda stem: waterfall.plot_shapley_waterfall(
                data.shapley, data.summary, exp.factors, firm, kpi, unit, colour, stem, title,
                names))
    if not data.is_experiment:
        return None
    groups = kpi_bars.compared(data, firm)
    title = title or waterfall.arm_waterfall_finding(data.summary, firm, kpi, data.arms, groups,
                                                     names)
    return FigureSpec(
        "uplift_waterfall", title,
        f"The first bar of each group is {possessive(firm)} {kpi_info(kpi).label} under its "
        f"reference ({'; '.join(display_name(g[0], names) for g, _ in groups)}); each other bar "
        f"is an arm's paired difference to it, with its 95% CI (* when the CI excludes 0).",
        lambda stem: waterfall.plot_arm_waterfall(data.summary, firm, kpi, data.arms, unit,
                                                  colour, stem, title, groups, names))


def _kpi_bars(data: ReportData, kpis: list[str], colours: dict[str, str],
              title: str | None = None) -> FigureSpec:
    firm, unit = data.focus_firm, data.step_unit
    if data.is_experiment:
        groups, names = kpi_bars.compared(data, firm), names_of(data)
        title = title or kpi_bars.kpi_bars_finding(data.summary, firm, kpis[0], data.arms,
                                                   groups, names)
        return FigureSpec(
            "kpi_bars", title,
            f"{possessive(firm)} KPIs at the horizon in every arm compared: mean over "
            f"replications with 95% CIs; the number right of each bar is the paired difference "
            f"to its group's reference "
            f"({'; '.join(display_name(g[0], names) for g, _ in groups)}).",
            lambda stem: kpi_bars.plot_kpi_bars(data.summary, firm, kpis, data.arms, unit,
                                                colours[firm], stem, data.horizon, title,
                                                groups, names))
    title = kpi_bars.firm_kpis_finding(data.summary, data.firms, kpis[0], data.baseline, unit)
    return FigureSpec(
        "kpi_bars", title, "Every firm's KPIs at the horizon, with 95% CIs.",
        lambda stem: kpi_bars.plot_firm_kpis(data.summary, data.firms, kpis, data.baseline, unit,
                                             colours, stem, data.horizon, title))


def _customers_and_revenue(data: ReportData) -> FigureSpec:
    title = plots.customers_and_revenue_finding(data.firm_metrics, data.step_unit)
    return FigureSpec(
        "customers_and_revenue", title,
        "Customers and revenue of every firm over time (mean over replications).",
        lambda stem: plots.plot_customers_and_revenue(data.firm_metrics, data.step_unit, stem,
                                                      title))


def _arpu(data: ReportData, colours: dict[str, str]) -> FigureSpec:
    firm, unit = data.focus_firm, data.step_unit
    names = names_of(data)
    groups = kpi_bars.compared(data, firm) if data.is_experiment else None
    title = arpu.arpu_finding(data.summary, data.firm_metrics, data.firms, data.arms, firm,
                             unit, groups, names)
    if data.is_experiment:
        arms, references, note = kpi_bars.shown_arms(data, "arpu", ARPU_ARMS)
        return FigureSpec(
            "arpu_over_time", title,
            f"{possessive(firm)} revenue per active customer each {unit}, one line per arm "
            f"(dashed: the references), with 95% bands.",
            lambda stem: arpu.plot_arpu(data.firm_metrics, arms, "arm", arm_colours(arms), unit,
                                        stem, title, subset=firm, labels=names,
                                        dashed=references, note=note))
    return FigureSpec(
        "arpu_over_time", title,
        f"Revenue per active customer each {unit}, one line per firm, with 95% bands.",
        lambda stem: arpu.plot_arpu(data.firm_metrics, data.firms, "firm", colours, unit, stem,
                                    title))


def _titled_arms(data: ReportData, arms: list[str]) -> list[str]:
    """The arms a figure's title compares: the last group of ``experiment.compare``.

    A title never compares across groups; without groups it compares all the figure shows.
    """
    if not data.is_experiment or not data.experiment.compare:
        return arms
    group = kpi_bars.compared(data, data.focus_firm)[-1][0]
    return [arm for arm in group if arm in arms] or arms


def _retention(data: ReportData, colours: dict[str, str]) -> FigureSpec:
    note, names = "", names_of(data)
    if data.is_experiment:
        arms, _, note = kpi_bars.shown_arms(data, (data.focus_kpis or ["arpu"])[0],
                                            RETENTION_ARMS)
        panels = [(arm, data.focus_firm) for arm in arms]
    else:
        panels = [(data.baseline, f) for f in _largest_firms(data, RETENTION_FIRMS)]
    by_arm, unit = data.is_experiment, data.step_unit
    titled = [(arm, firm) for arm, firm in panels if arm in _titled_arms(data, [a for a, _ in
                                                                                panels])]
    title = retention.retention_finding(data.cohort_retention, titled or panels, unit, by_arm,
                                        names)
    return FigureSpec(
        "retention_by_cohort", title,
        f"The share of each cohort (customers acquired in one {unit}) still a customer, by age; "
        f"the dashed line follows the customers the firm had at the start.",
        lambda stem: retention.plot_retention(data.cohort_retention, panels, data.horizon, unit,
                                              colours, stem, by_arm, title, names, note))


def _ltv_cac(data: ReportData, colours: dict[str, str]) -> FigureSpec:
    points = ltv_cac.ltv_cac_points(data.kpis)
    names, arms, note = names_of(data), data.arms, ""
    if data.is_experiment:
        arms, _, note = kpi_bars.shown_arms(data, "ltv_cac", LTV_ARMS)
    title = ltv_cac.ltv_cac_finding(points, _titled_arms(data, arms), data.focus_firm, names)
    return FigureSpec(
        "ltv_vs_cac", title,
        "Each point is a firm (and arm): above the dashed line a customer is worth more than "
        "it cost to acquire; above the dotted line, three times more.",
        lambda stem: ltv_cac.plot_ltv_cac(data.kpis, arms, data.firms, colours,
                                          data.step_unit, stem, title, data.focus_firm,
                                          data.horizon, names, note))


def _market_share(data: ReportData, kpi: str, colours: dict[str, str]) -> FigureSpec:
    firm, names = data.focus_firm, names_of(data)
    shown = market_share.compared_arms(data, kpi)
    title = market_share.market_share_finding(data.unit_metrics, shown, firm, names)
    sides = (f" Left: {display_name(shown[0], names)}; right: {display_name(shown[1], names)}."
             if len(shown) > 1 else "")
    return FigureSpec(
        "market_share_by_need", title,
        "Who serves each need at the horizon: each bar splits the need's customers between "
        "firms." + sides,
        lambda stem: market_share.plot_market_share(data.unit_metrics, shown, data.firms,
                                                    colours, data.step_unit, stem, title, firm,
                                                    names))


def robustness_specs(data: ReportData) -> list[FigureSpec]:
    """The tornado and (when the run has one) the map of the headline over the assumptions."""
    table = data.robustness
    if table.empty or not (table["design"] == "tornado").any():
        return []
    n = int(table.loc[table["design"] == "default", "n"].max())
    title = tornado.tornado_finding(data)
    specs = [FigureSpec(
        "robustness_tornado", title,
        f"The headline with each assumed parameter at the low and at the high end of its range, "
        f"the others at default, widest swing on top: the bars are the spread over "
        f"assumptions. The grey band is the default's simulation noise (95% interval over {n} "
        f"replications); the dashed line is the claim's threshold.",
        lambda stem: tornado.plot_tornado(data, stem, title))]
    if (table["design"] == "map").any():
        map_title = robustness_map.map_finding(data)
        specs.append(FigureSpec(
            "robustness_map", map_title,
            "The headline over the two assumptions the experiment maps, on a grid of their "
            "ranges (the others at default): its spread over the cells is the interval over "
            "assumptions; the dashed contour is the claim's threshold, interpolated between "
            "grid points; each cell's simulation noise (95% over replications) is in the note.",
            lambda stem: robustness_map.plot_map(data, stem, map_title)))
    return specs


def _headline_kpi(data: ReportData, first: str) -> str:
    """The KPI of the headline figure: the headline's own (so the verdict titles its chart)."""
    if not data.has_headline:
        return first
    kpi = data.experiment.headline.kpi
    if data.experiment.headline.kind == "share" and (
            data.shapley.empty or kpi not in set(data.shapley["kpi"])):
        return first
    return kpi if kpi in set(data.summary["kpi"]) else first


def plan_figures(data: ReportData) -> list[FigureSpec]:
    """The figures of a run, headline first, with titles computed from its data.

    With a declared headline the first figure's title is the verdict on the claim; a run with
    ``robustness=true`` ends with the tornado and the map of the headline over the assumptions.
    """
    colours = firm_colours(data.firms)
    kpis = data.focus_kpis or ["arpu"]
    title = headline_title(data)
    if data.is_experiment:
        head = [_waterfall(data, _headline_kpi(data, kpis[0]), colours[data.focus_firm], title)]
    else:
        head = [_customers_and_revenue(data)]
    if head[0] is None:  # the KPI bars lead: they carry the verdict
        head = []
    bars_title = title if not head else None
    specs = [*head, _kpi_bars(data, kpis, colours, bars_title), _arpu(data, colours),
             _retention(data, colours), _ltv_cac(data, colours),
             _market_share(data, kpis[0], colours), *robustness_specs(data)]
    return [spec for spec in specs if spec is not None]


def draw_figures(specs: list[FigureSpec], out_dir: str | Path) -> list[Path]:
    """Draw planned figures into ``out_dir/figures`` (created); the PNG and SVG paths."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return [path for spec in specs for path in spec.draw(folder / spec.name)]


def write_figures(result_like: Any, out_dir: str | Path) -> list[Path]:
    """Write every figure of a run as PNG and SVG into ``out_dir/figures``.

    Args:
        result_like: a ``RunResult``, an object with its attributes, a ``ReportData``, or the
            path of a finished run directory.
        out_dir: the run directory.

    Returns:
        The paths written, PNG and SVG of each figure, headline first.
    """
    return draw_figures(plan_figures(as_report_data(result_like)), out_dir)
