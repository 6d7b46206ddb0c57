"""The answer in words: the headline, the verdict on the claim, and how far it can be trusted.

One place writes these sentences, so slide 1 of the deck, the report's answer and the headline
figure's title never disagree. Two intervals are kept apart everywhere:

* **simulation noise**: the 95 % interval of the headline over replications (other draws of the
  same market, same assumptions);
* **over assumptions**: the headline's range over the robustness variants (the assumed
  parameters moved over their cited ranges, ``robustness=true``).
"""

from __future__ import annotations

import math

from ecosim.metrics.headline import dominant
from ecosim.report.data import ReportData
from ecosim.report.labels import MINUS, format_difference, human, kpi_info, unit

CONFIDENCE_WORDS = {
    "high": "high: neither simulation noise nor the assumptions' ranges reach the claim's "
            "threshold",
    "medium": "medium: the answer holds against simulation noise but turns within the "
              "assumptions' ranges",
    "low": "low: the headline's noise interval straddles the claim's threshold; run more "
           "replications",
    "n/a": "not rated: the experiment states no claim test",
}


def headline_number(data: ReportData, value: float, signed: bool = False) -> str:
    """A headline value with its unit: "48%", "+2.1 pp", "+0.31M EUR", "−12%"."""
    head = data.experiment.headline
    if value is None or not math.isfinite(value):
        return "n/a"
    if head.kind in ("share", "relative_effect"):
        text = human(100 * abs(value), 2) + "%"
        sign = ("+" if value > 0 else MINUS if value < 0 else "") if (
            signed or head.kind == "relative_effect") else (MINUS if value < 0 else "")
        return sign + text
    text = "0" if value == 0 else format_difference(head.kpi, value)
    kind = kpi_info(head.kpi).kind
    if kind == "money":
        return f"{text} {data.config.output.currency}"
    return text


def headline_unit(data: ReportData) -> str:
    """The unit of the headline for an axis ("% of the uplift", "EUR per customer per month")."""
    head = data.experiment.headline
    if head.kind == "share":
        return "share of the uplift, %"
    if head.kind == "relative_effect":
        return "change against the baseline, %"
    text = unit(head.kpi, data.step_unit).replace("currency", data.config.output.currency)
    return text + (f", market of {data.market_customers:,} customers"
                   if data.customer_weight != 1 and data.scales_with_market(head.kpi) else "")


def interval(data: ReportData, low: float, high: float) -> str:
    """"41%–55%"."""
    return f"{headline_number(data, low)} to {headline_number(data, high)}"


def verdict_title(data: ReportData) -> str:
    """An action title: the headline and what it says about the claim (one line of words)."""
    head, headline, verdict = data.experiment.headline, data.headline, data.verdict
    if headline is None or verdict is None:
        return ""
    label = head.label or kpi_info(head.kpi).label
    text = f"{label[:1].upper() + label[1:]}: {headline_number(data, headline.value)}"
    test = data.experiment.claim_test
    if verdict.holds is None:
        return text
    claim = test.text or f"{test.op} {headline_number(data, test.value)}"
    if verdict.holds:
        return f"{text}, as the claim says ({claim})"
    return f"{text}, not the claimed {claim}"


def noise_sentence(data: ReportData) -> str:
    """The headline's interval over replications, labelled as simulation noise."""
    headline = data.headline
    if headline is None:
        return ""
    if not headline.has_interval:
        return (f"Simulation noise: not measured ({headline.n} replication); run more "
                f"replications.")
    return (f"Simulation noise: {interval(data, headline.low, headline.high)} (95% interval "
            f"over {headline.n} replications on common random numbers).")


def assumptions_sentence(data: ReportData) -> str:
    """The headline's range over the robustness variants, and which assumptions drive it."""
    span = data.assumption_range
    if span is None:
        return ("Over assumptions: not measured in this run (run it with robustness=true to "
                "move the assumed parameters over their ranges).")
    names = {name: a.label or name.replace("_", " ")
             for name, a in data.experiment.assumptions.items()}
    drivers = [names.get(n, n) for n in dominant(data.robustness)]
    count = int((data.robustness["design"] != "default").sum())
    return (f"Over assumptions: {interval(data, *span)} across {count} variants of "
            f"{len(names)} assumed parameters; {' and '.join(drivers)} move it most.")


def confidence_sentence(data: ReportData) -> str:
    """"Confidence: high: ..."."""
    verdict = data.verdict
    if verdict is None:
        return ""
    if verdict.confidence == "high" and verdict.assumptions_cross is None:
        return ("Confidence: high against simulation noise; not yet tested over assumptions "
                "(robustness=true).")
    return f"Confidence: {CONFIDENCE_WORDS[verdict.confidence]}."


def so_what(data: ReportData) -> str:
    """What to do about it, as the experiment writes it for its verdict."""
    verdict = data.verdict
    text = data.experiment.so_what
    if verdict is None or verdict.holds is None:
        return text.holds or text.fails
    return text.holds if verdict.holds else text.fails


def verdict_lines(data: ReportData) -> list[str]:
    """Verdict, noise, assumptions, confidence: the lines that go next to every answer."""
    if data.headline is None:
        return []
    return [s for s in (verdict_title(data) + ".", noise_sentence(data),
                        assumptions_sentence(data), map_sentence(data),
                        confidence_sentence(data)) if s]


def map_sentence(data: ReportData) -> str:
    """Whether the map crosses the two assumptions that dominate the tornado (empty: no map)."""
    rob = data.robustness
    pair = data.experiment.robustness.map
    if rob.empty or not pair or not (rob["design"] == "map").any():
        return ""
    names = {name: a.label or name.replace("_", " ")
             for name, a in data.experiment.assumptions.items()}
    top = dominant(rob, 2)
    shown = " × ".join(names[n] for n in pair)
    if set(top) == set(pair):
        return f"The map crosses the two assumptions that move the headline most: {shown}."
    return (f"The map crosses {shown}, chosen before the run; the tornado's two largest swings "
            f"are {' and '.join(names.get(n, n) for n in top)}.")
