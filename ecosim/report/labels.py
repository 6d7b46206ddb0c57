"""What each KPI is called on a slide, its unit, which way is better, and how to write its numbers.

Every figure, table and sentence of a report names KPIs and formats their values through this
module, so "revenue per customer (currency per month)" reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecosim.metrics.summary import LTV_WINDOW

MINUS = "\u2212"  # typographic minus: "−3.2" reads better than "-3.2" on a slide


def display_name(name: str, labels: Mapping[str, str] | None = None,
                 capital: bool = False) -> str:
    """The plain-language name of an arm, factor or firm on a slide.

    ``labels[name]`` when the experiment gives one (``experiment.labels``), else the name with
    underscores as spaces ("food_delivery" -> "food delivery").

    Args:
        name: the arm, factor or firm as the config spells it.
        labels: the experiment's plain-language names (arms and factors only; firms have none).
        capital: start with a capital letter (a tick, a legend entry, a panel title).
    """
    text = (labels or {}).get(name) or str(name).replace("_", " ")
    return text[:1].upper() + text[1:] if capital else text


def names_of(data: Any) -> Mapping[str, str]:
    """The plain-language names a run's experiment declares (``experiment.labels``).

    ``data``: a ``ReportData`` (or anything with ``.experiment.labels``).
    """
    experiment = getattr(data, "experiment", None)
    return dict(getattr(experiment, "labels", None) or {})


def name_in(data: Any, name: str, capital: bool = False) -> str:
    """``display_name`` of an arm, factor or firm of a run, with its experiment's labels.

    A firm is never looked up in the labels (they name arms and factors).
    """
    firms = getattr(getattr(data, "config", None), "firms", None) or {}
    labels = {} if name in firms else names_of(data)
    return display_name(name, labels, capital)


@dataclass(frozen=True)
class Kpi:
    """How a KPI is shown.

    Attributes:
        label: its name in words ("revenue per customer (ARPU)").
        short: a short name for a chart panel or a table column ("ARPU").
        unit: its unit; ``{step}`` is replaced by the run's step unit ("month").
        kind: ``money``, ``count``, ``share`` (a fraction in [0, 1], written in %), ``ratio``
            (written as 3.4×) or ``number``.
        higher_is_better: which way is good for the firm (None: neither).
        definition: one sentence for a newcomer.
    """

    label: str
    short: str
    unit: str
    kind: str
    higher_is_better: bool | None
    definition: str


KPIS: dict[str, Kpi] = {
    "customers": Kpi("customers", "customers", "customers", "count", True,
                     "customers using at least one of the firm's offerings at the horizon"),
    "new_customers": Kpi("new customers", "new customers", "customers per {step}", "count", True,
                         "customers acquired in the last {step}"),
    "churned_customers": Kpi("churned customers", "churned", "customers per {step}", "count",
                             False, "customers lost in the last {step}"),
    "churn_rate": Kpi("churn rate", "churn", "share of customers per {step}", "share", False,
                      "customers lost in the last {step} / customers at its start"),
    "cac": Kpi("customer acquisition cost (CAC)", "CAC", "currency per new customer", "money",
               False, "marketing spend / new customers in the last {step}"),
    "revenue": Kpi("revenue", "revenue", "currency per {step}", "money", True,
                   "what customers paid the firm in the last {step} (GMV for a marketplace)"),
    "gross_margin": Kpi("gross margin", "gross margin", "currency per {step}", "money", True,
                        "the share of revenue the firm keeps, in the last {step}"),
    "losses": Kpi("credit losses", "losses", "currency per {step}", "money", False,
                  "defaults on risk-priced needs in the last {step}"),
    "profit": Kpi("profit", "profit", "currency per {step}", "money", True,
                  "gross margin - losses - marketing - contact costs + partner fees, last {step}"),
    "arpu": Kpi("revenue per customer (ARPU)", "ARPU", "currency per customer per {step}",
                "money", True, "revenue / customers in the last {step}"),
    "products_per_customer": Kpi("products per customer", "products per customer",
                                 "products per customer", "number", True,
                                 "the firm's offerings a customer uses, on average"),
    "share_of_wallet": Kpi("share of wallet", "share of wallet", "share of customers' spend",
                           "share", True,
                           "revenue / everything the firm's customers spent on their needs"),
    "contacts": Kpi("cross-sell contacts", "contacts", "contacts per {step}", "count", None,
                    "cross-sell offers sent in the last {step}"),
    "conversions": Kpi("cross-sell conversions", "conversions", "customers per {step}", "count",
                       True, "contacts that ended in a purchase, last {step}"),
    "conversion_rate": Kpi("cross-sell conversion rate", "conversion", "share of contacts",
                           "share", True, "conversions / contacts over the whole run"),
    "ltv": Kpi("customer lifetime value (LTV)", "LTV", "currency per customer", "money", True,
               "discounted contribution a customer is expected to bring, predicted from the "
               f"margin and retention of the last {LTV_WINDOW} {{step}}s (or the whole run)"),
    "ltv_cac": Kpi("LTV / CAC", "LTV/CAC", "ratio", "ratio", True,
                   "lifetime value over acquisition cost (above 1 a customer pays back; "
                   "3 is the usual target)"),
    "cum_revenue": Kpi("revenue over the run", "total revenue", "currency", "money", True,
                       "revenue summed over every {step} of the run"),
    "cum_profit": Kpi("profit over the run", "total profit", "currency", "money", True,
                      "profit summed over every {step} of the run"),
    "cum_contacts": Kpi("cross-sell contacts over the run", "total contacts", "contacts", "count",
                        None, "cross-sell offers summed over the run"),
    "cum_new_customers": Kpi("customers acquired over the run", "total acquired", "customers",
                             "count", True, "new customers summed over the run"),
    "npv": Kpi("net present value of profit (NPV)", "NPV", "currency", "money", True,
               "profit of every {step}, investment costs included, discounted to {step} 0 at "
               "the run's discount rate"),
    "cum_capex": Kpi("investment outlay (capex)", "capex", "currency", "money", False,
                     "one-off investment costs summed over the run"),
    "cum_opex": Kpi("running cost of investments (opex)", "opex", "currency", "money", False,
                    "investments' running costs summed over the run"),
    "cum_cost_to_serve": Kpi("cost to serve", "cost to serve", "currency", "money", False,
                             "investments' cost per customer served, summed over the run"),
    "payback_step": Kpi("payback step", "payback", "{step}", "number", False,
                        "first {step} at which the firm's cumulative profit since its investment "
                        "started, investment costs included, is back at 0 or above"),
    "breakeven_step": Kpi("break-even step", "break-even", "{step}", "number", False,
                          "first {step} from the investment's start with a profit >= 0"),
    "justified_investment": Kpi("largest justified investment", "justified investment",
                                "currency", "money", True,
                                "NPV of the arm's profit before capex minus NPV of the "
                                "baseline's profit: the most a one-off outlay could cost"),
    "incremental_payback_step": Kpi("payback step vs the baseline", "incremental payback",
                                    "{step}", "number", False,
                                    "first {step} at which the cumulative profit gained over the "
                                    "baseline since the investment started is back at 0 or above"),
    "incremental_breakeven_step": Kpi("break-even step vs the baseline",
                                      "incremental break-even", "{step}", "number", False,
                                      "first {step} from the investment's start whose profit is "
                                      "at least the baseline's"),
}


def kpi_info(name: str) -> Kpi:
    """The description of a KPI (a plain one for a name this module does not know)."""
    return KPIS.get(name, Kpi(name.replace("_", " "), name.replace("_", " "), "", "number", None,
                              name.replace("_", " ")))


def unit(name: str, step_unit: str) -> str:
    """The KPI's unit with the step unit filled in ("currency per customer per month")."""
    return kpi_info(name).unit.format(step=step_unit)


def axis_label(name: str, step_unit: str) -> str:
    """An axis label: the short name and the unit ("ARPU (currency per customer per month)")."""
    info = kpi_info(name)
    text = unit(name, step_unit)
    return f"{info.short} ({text})" if text and text != info.short else info.short


def human(value: float, digits: int = 3) -> str:
    """A number for a reader: three significant digits, k/M/B above ten thousand.

    ``human(1714) == "1,714"``, ``human(45052) == "45.1k"``, ``human(5.183) == "5.18"``.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    sign = MINUS if value < 0 else ""
    size = abs(value)
    for limit, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if size >= limit * (1 - 0.5 * 10.0 ** -digits):  # 999,999 is "1.00M", not "1000k"
            return f"{sign}{_significant(size / scale, digits)}{suffix}"
    if size >= 10 ** (digits - 1):
        return f"{sign}{size:,.0f}"
    return f"{sign}{_significant(size, digits)}"


def _significant(size: float, digits: int) -> str:
    if size == 0:
        return "0"
    magnitude = math.floor(math.log10(size))
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{size:.{decimals}f}"
    if float(text) >= 10.0 ** (magnitude + 1):  # rounding carried a digit: 0.9999 -> 1.00
        text = f"{size:.{max(decimals - 1, 0)}f}"
    return text


def format_value(name: str, value: float) -> str:
    """A KPI's value as a reader expects it: 6.1%, 3.4×, 45.1k, 23.4."""
    if value is None or not math.isfinite(value):
        return "n/a"
    kind = kpi_info(name).kind
    if kind == "share":
        return human(100 * value, 3 if abs(value) >= 0.01 else 2) + "%"
    if kind == "ratio":
        return human(value) + "×"
    return human(value)


def format_difference(name: str, value: float) -> str:
    """A signed difference: +5.18, −2.9 pp (percentage points for shares), +0.4×."""
    if value is None or not math.isfinite(value):
        return "n/a"
    sign = "+" if value > 0 else MINUS if value < 0 else "±"
    kind = kpi_info(name).kind
    size = abs(value)
    if kind == "share":
        return f"{sign}{human(100 * size, 2)} pp"
    text = human(size) + ("×" if kind == "ratio" else "")
    return f"{sign}{text}"


def format_interval(name: str, low: float, high: float, difference: bool = False) -> str:
    """A 95% interval as "[low, high]" ("n/a" when it is not defined, e.g. one replication)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    write = format_difference if difference else format_value
    return f"[{write(name, low)}, {write(name, high)}]"


def is_better(name: str, difference: float) -> bool | None:
    """Whether a difference is good for the firm (None when the KPI has no good direction)."""
    direction = kpi_info(name).higher_is_better
    if direction is None or not math.isfinite(difference) or difference == 0:
        return None
    return (difference > 0) == direction


def tick_format(name: str) -> Callable[[float, object], str]:
    """A matplotlib tick formatter for a KPI's axis: 10%, 2×, 1.5k, 40 (no trailing zeros)."""
    kind = kpi_info(name).kind

    def tick(value: float, _position: object = None) -> str:
        if kind == "share":
            return _trim(human(100 * value)) + "%"
        return _trim(human(value)) + ("×" if kind == "ratio" else "")

    return tick


def _trim(text: str) -> str:
    """"40.0" -> "40", "1.50k" -> "1.5k"."""
    digits = len(text) - len(text.rstrip("kMB"))
    body, suffix = (text[:-digits], text[-digits:]) if digits else (text, "")
    if "." in body:
        body = body.rstrip("0").rstrip(".")
    return body + suffix
