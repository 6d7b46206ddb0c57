"""What a report is made of: a run's tables, summaries and config, from memory or a run directory.

``ReportData`` gathers everything the figures, ``report.md`` and the deck read. It is built from a
``RunResult`` (duck-typed: any object with the same attributes will do, so the reporting layer
does not import the simulation) or from a finished run directory.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ecosim.config import EcosimConfig, ExperimentConfig, load_config
from ecosim.metrics.cohorts import read_cohorts
from ecosim.metrics.headline import (
    Headline,
    Verdict,
    assumption_range,
    compute_headline,
    verdict,
)
from ecosim.metrics.summary import experiment_summary, run_kpis, shapley_split
from ecosim.report.retention import figure_cohorts


@dataclass(frozen=True)
class ReportData:
    """The inputs of a report.

    Attributes:
        config: the (baseline arm's) config; ``config.experiment`` holds the question and arms.
        firm_metrics, unit_metrics: the tidy tables of docs/design.md §4.
        cohort_retention: the rows of that table the retention figure may draw
            (``retention.figure_cohorts``: four cohorts); a long run's whole triangle is never
            loaded.
        kpis: one row per (arm, replication, firm) with every KPI (``metrics.summary.run_kpis``).
        summary: per (arm, firm, kpi): mean, sd, 95% CI, n and the paired difference to the
            first arm (``metrics.summary.experiment_summary``).
        shapley: the Shapley split of each KPI's uplift (empty without ``experiment.factors``).
        metadata: the run's ``metadata.json`` (replications, customers, warnings, ...).
        robustness: the headline over the assumptions' variants (``robustness.csv``; empty
            unless the run had ``robustness=true``), anchored on the run's own headline: each
            variant's value is the headline plus its paired swing (variant minus the default
            over the same replications), and the default row is the run's headline with its
            interval over every replication.
        decisions: what firms with a strategy decided (``decisions.parquet``; empty without).
        tipping, sellers: each arm's concentration per step and need, and its two-sided
            marketplaces' sellers (``tipping.parquet``, ``sellers.parquet``:
            ``metrics.tipping``); empty for a run directory written without them.

    Money and customer counts in every table are the market's (``customers.market_size``): the
    run records them so (``ecosim.model.History``), and the report shows them as they are.
    """

    config: EcosimConfig
    firm_metrics: pd.DataFrame
    unit_metrics: pd.DataFrame
    cohort_retention: pd.DataFrame
    kpis: pd.DataFrame
    summary: pd.DataFrame
    shapley: pd.DataFrame = field(default_factory=pd.DataFrame)
    metadata: dict[str, Any] = field(default_factory=dict)
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    tipping: pd.DataFrame = field(default_factory=pd.DataFrame)
    sellers: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def experiment(self) -> ExperimentConfig:
        """The experiment block of the config (name, question, claim, arms, kpis, factors)."""
        return self.config.experiment

    @property
    def title(self) -> str:
        """The report's title: the experiment's name in words, or "Scenario run"."""
        name = self.experiment.name
        return name.replace("_", " ").capitalize() if name else "Scenario run"

    @property
    def arms(self) -> list[str]:
        """The arms in the order played; the first is the baseline."""
        return list(dict.fromkeys(self.firm_metrics["arm"]))

    @property
    def baseline(self) -> str:
        """The arm every other arm is compared with."""
        return self.arms[0]

    @property
    def is_experiment(self) -> bool:
        """Whether the run compares arms (otherwise it compares firms)."""
        return len(self.arms) > 1

    @property
    def firms(self) -> list[str]:
        """The firms in config order (the order that fixes their colours)."""
        return list(self.config.firms)

    @property
    def step_unit(self) -> str:
        """The length of a step in words ("month")."""
        return self.config.time.step_unit

    @property
    def replications(self) -> int:
        """Replications per arm."""
        return int(self.firm_metrics["replication"].nunique())

    @property
    def horizon(self) -> int:
        """The last step."""
        return int(self.firm_metrics["step"].max())

    @property
    def focus_kpis(self) -> list[str]:
        """The KPIs the report is about, the first being the headline."""
        available = set(self.summary["kpi"])
        return [kpi for kpi in self.experiment.kpis if kpi in available]

    @property
    def focus_firm(self) -> str:
        """The firm the answer is about: the experiment's, else the largest at the horizon."""
        if self.experiment.focus_firm:
            return self.experiment.focus_firm
        s = self.summary
        base = s[(s["arm"] == self.baseline) & (s["kpi"] == "customers")]
        return str(base.sort_values("mean", ascending=False)["firm"].iloc[0])

    @staticmethod
    def scales_with_market(kpi: str) -> bool:
        """Whether a KPI is a total that grows with the market (money or customers in all).

        Per-customer KPIs (ARPU, CAC, LTV), rates and ratios do not.
        """
        from ecosim.report.labels import kpi_info

        return kpi_info(kpi).kind in ("money", "count") and kpi not in ("arpu", "cac", "ltv")

    @property
    def market_customers(self) -> int:
        """The customers of the market the run speaks for (``customers.market_size``)."""
        return self.config.customers.market

    @property
    def customer_weight(self) -> float:
        """Market customers each simulated customer stands for (1: the whole market simulated)."""
        return self.config.customers.weight

    @property
    def has_headline(self) -> bool:
        """Whether the experiment declares a headline (``experiment.headline.kind``)."""
        return bool(self.experiment.headline.kind) and self.is_experiment

    @property
    def headline(self) -> Headline | None:
        """The headline with its interval over replications (simulation noise), if declared."""
        if not self.has_headline:
            return None
        try:
            return compute_headline(self.kpis, self.experiment)
        except KeyError:
            return None

    @property
    def assumption_range(self) -> tuple[float, float] | None:
        """The headline's range over the assumptions' variants (None: robustness not run)."""
        return assumption_range(self.robustness)

    @property
    def verdict(self) -> Verdict | None:
        """The verdict on the claim (None without a headline)."""
        headline = self.headline
        if headline is None:
            return None
        return verdict(headline, self.experiment.claim_test, self.assumption_range)

    @classmethod
    def from_result(cls, result: Any) -> ReportData:
        """Gather a ``RunResult`` (or any object with its attributes)."""
        shapley = result.shapley() if callable(getattr(result, "shapley", None)) else None
        cohorts = figure_cohorts(result.config.time.horizon)
        retention = (result.retention(cohorts) if callable(getattr(result, "retention", None))
                     else read_cohorts(result.cohort_retention, cohorts))
        return cls.gather(result.config, {"firm_metrics": result.firm_metrics,
                                           "unit_metrics": result.unit_metrics,
                                           "cohort_retention": retention},
                          summary=result.summary, shapley=shapley,
                          kpis=getattr(result, "kpis", None),
                          metadata=dict(getattr(result, "metadata", {}) or {}),
                          robustness=getattr(result, "robustness", None),
                          decisions=getattr(result, "decisions", None),
                          tipping=getattr(result, "tipping", None),
                          sellers=getattr(result, "sellers", None))

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> ReportData:
        """Read a finished run directory (``config.yaml``, the parquet tables, the csv files)."""
        run = Path(run_dir)
        config = load_config(yaml.safe_load((run / "config.yaml").read_text()))
        tables = {name: pd.read_parquet(run / f"{name}.parquet")
                  for name in ("firm_metrics", "unit_metrics")}
        tables["cohort_retention"] = read_cohorts(run / "cohort_retention.parquet",
                                                  figure_cohorts(config.time.horizon))
        summary_path, shapley_path = run / "summary.csv", run / "shapley.csv"
        summary = pd.read_csv(summary_path) if summary_path.is_file() else None
        shapley = pd.read_csv(shapley_path) if shapley_path.is_file() else None
        metadata_path = run / "metadata.json"
        metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
        robustness_path = run / "robustness.csv"
        robustness = (pd.read_csv(robustness_path, dtype={"level": str})
                      if robustness_path.is_file() else None)
        decisions_path = run / "decisions.parquet"
        decisions = pd.read_parquet(decisions_path) if decisions_path.is_file() else None
        tipping_path, sellers_path = run / "tipping.parquet", run / "sellers.parquet"
        tipping = pd.read_parquet(tipping_path) if tipping_path.is_file() else None
        sellers = pd.read_parquet(sellers_path) if sellers_path.is_file() else None
        return cls.gather(config, tables, summary=summary, shapley=shapley, metadata=metadata,
                          robustness=robustness, decisions=decisions, tipping=tipping,
                          sellers=sellers)

    @classmethod
    def gather(cls, config: EcosimConfig, tables: dict[str, pd.DataFrame],
               summary: pd.DataFrame | None = None, shapley: pd.DataFrame | None = None,
               metadata: dict[str, Any] | None = None,
               robustness: pd.DataFrame | None = None,
               kpis: pd.DataFrame | None = None,
               decisions: pd.DataFrame | None = None,
               tipping: pd.DataFrame | None = None,
               sellers: pd.DataFrame | None = None) -> ReportData:
        """A ReportData from a run's tables (already the market's), robustness anchored.

        ``kpis``, ``summary`` and ``shapley`` are recomputed from the tables when not given.
        """
        if kpis is None:
            kpis = run_kpis(tables["firm_metrics"], config.time.discount_rate)
        if summary is None:
            summary = experiment_summary(kpis)
        if shapley is None:
            shapley = _shapley(config, kpis)
        data = cls(config=config, kpis=kpis, summary=summary, shapley=shapley,
                   metadata=dict(metadata or {}),
                   decisions=_frame(decisions), tipping=_frame(tipping),
                   sellers=_frame(sellers), **tables)
        if robustness is None or robustness.empty:
            return data
        return replace(data, robustness=_anchored(data, robustness))


def _shapley(config: EcosimConfig, kpis: pd.DataFrame) -> pd.DataFrame:
    """The Shapley split of each reported KPI (as ``RunResult.shapley``)."""
    exp = config.experiment
    if not exp.factors or not set(exp.factors) <= set(kpis["arm"]):
        return pd.DataFrame()
    firms = [exp.focus_firm] if exp.focus_firm else list(config.firms)
    return pd.concat([shapley_split(kpis, exp.factors, firm, kpi)
                      for firm in firms for kpi in exp.kpis], ignore_index=True)


def _anchored(data: ReportData, table: pd.DataFrame) -> pd.DataFrame:
    """The robustness table, each variant shifted onto the run's headline.

    The variants replay the run's first replications, so a variant minus the default row is a
    paired swing; adding it to the run's headline (over every replication) anchors the
    variants on the number the answer states.
    """
    table = table.copy()
    headline = data.headline
    default = table["design"] == "default"
    if headline is None or not default.any():
        return table
    shift = headline.value - float(table.loc[default, "value"].iloc[0])
    if math.isfinite(shift):
        table[["value", "low", "high"]] += shift
    table.loc[default, ["value", "low", "high", "n"]] = [headline.value, headline.low,
                                                        headline.high, headline.n]
    return table


def _frame(table: pd.DataFrame | None) -> pd.DataFrame:
    return table if table is not None else pd.DataFrame()


def as_report_data(result_like: Any) -> ReportData:
    """A ReportData from a ReportData, a RunResult-like object, or a run directory path."""
    if isinstance(result_like, ReportData):
        return result_like
    if isinstance(result_like, str | Path):
        return ReportData.from_run_dir(result_like)
    return ReportData.from_result(result_like)
