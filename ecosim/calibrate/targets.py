r"""Distance of a run to its calibration targets, the objective Hydra's Optuna sweeper minimises.

    ecosim -m hydra/sweeper=optuna hydra.sweeper.n_trials=40 \\
        'firms.bank.marketing.budget=interval(1e4,1e5)' \\
        +calibration.targets.bank_churn='{kpi: churn_rate, firm: bank, value: 0.015}'

Each target names a KPI of a firm (``firm_metrics``) or of its unit for a need (``unit_metrics``,
with ``need``); its simulated value is the mean over arms, replications and the last
``calibration.window`` steps. The distance is ``sqrt(sum w_i e_i^2 / sum w_i)`` with
``e_i = (simulated_i - value_i) / scale_i`` (``scale`` defaults to ``|value|``: relative errors),
so 0.1 reads "about 10 % off on average". A KPI that cannot be computed (CAC with no new
customers) makes the distance infinite.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ecosim.config import CalibrationConfig


def simulated_kpis(calibration: CalibrationConfig, firm_metrics: pd.DataFrame,
                   unit_metrics: pd.DataFrame) -> dict[str, float]:
    """The simulated value of each target's KPI (NaN if it cannot be computed)."""
    last_step = int(firm_metrics["step"].max())
    first_step = last_step - calibration.window + 1
    values = {}
    for name, target in calibration.targets.items():
        table = firm_metrics if target.need is None else unit_metrics
        rows = table[(table["firm"] == target.firm) & (table["step"] >= first_step)]
        if target.need is not None:
            rows = rows[rows["need"] == target.need]
        series = pd.to_numeric(rows[target.kpi], errors="coerce")
        values[name] = float(series.mean()) if series.notna().any() else math.nan
    return values


def distance(calibration: CalibrationConfig, firm_metrics: pd.DataFrame,
             unit_metrics: pd.DataFrame) -> tuple[float, dict[str, Any]]:
    """The distance to the targets, and a record of it for ``metadata.json``.

    Returns:
        ``(distance, record)``; ``record`` holds the distance and, per target, its value, the
        simulated value and the scaled error.
    """
    simulated = simulated_kpis(calibration, firm_metrics, unit_metrics)
    total = weights = 0.0
    record: dict[str, Any] = {"targets": {}}
    for name, target in calibration.targets.items():
        scale = target.scale if target.scale is not None else abs(target.value)
        error = (simulated[name] - target.value) / scale
        record["targets"][name] = {"kpi": target.kpi, "firm": target.firm, "need": target.need,
                                   "value": target.value, "simulated": simulated[name],
                                   "error": error}
        total += target.weight * error * error if target.weight > 0 else 0.0
        weights += target.weight
    value = math.sqrt(total / weights) if weights > 0 else 0.0
    value = value if math.isfinite(value) else math.inf
    record["distance"] = value
    return value, record
