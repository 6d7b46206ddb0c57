"""Slide-ready figures, ``report.md`` and a deck of a run, in one house style.

The reporting layer reads a run's tables, summaries and config (a ``RunResult``, any object
with its attributes, or a finished run directory) and never imports the simulation::

    from ecosim.report import write_all
    write_all(result, "results/my_run")          # figures/*.png|svg and report.md
    write_all(result, "results/my_run", deck=True)  # and deck.pptx
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecosim.report.data import ReportData, as_report_data
from ecosim.report.figures import draw_figures, plan_figures, write_figures
from ecosim.report.report import write_report

__all__ = ["ReportData", "write_all", "write_figures", "write_report"]


def write_all(result: Any, out_dir: str | Path, deck: bool | None = None) -> list[Path]:
    """Write the figures (PNG and SVG), ``report.md`` and, if asked, ``deck.pptx``.

    Args:
        result: a ``RunResult`` (or an object with its attributes: ``config``, ``firm_metrics``,
            ``unit_metrics``, ``cohort_retention``, ``kpis``, ``summary``, ``shapley()``,
            ``metadata``), a ``ReportData``, or the path of a finished run directory.
        out_dir: the run directory; figures go to ``out_dir/figures``.
        deck: write ``deck.pptx`` too; ``None`` follows ``config.output.deck`` when the config
            has that flag (off otherwise).

    Returns:
        Every path written: figures, then ``report.md``, then the deck if any.
    """
    data = as_report_data(result)
    specs = plan_figures(data)
    paths = draw_figures(specs, out_dir)
    paths.append(write_report(data, out_dir, figures=specs))
    if deck is None:
        deck = bool(getattr(data.config.output, "deck", False))
    if deck:
        from ecosim.report.deck import write_deck

        paths.append(write_deck(data, out_dir))
    return paths
