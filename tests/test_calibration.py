"""The default market lands inside the bands of its stylised facts (docs/calibration.md).

The bands are the targets of ``conf/calibration/default_market.yaml`` (``value ± scale``); the
run is the default market simulated with 20 000 customers (``customers.n=20000``) over 24 months
without its month-24 price rise, each KPI averaged over months 13-24 as ``calibrate.targets``
does.

Tolerance: a band is widened only by the sampling error of that size: 3 standard errors of the
window's mean, estimated from the month-to-month variation of the KPI (12 months).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir

from ecosim.calibrate.targets import simulated_kpis
from ecosim.config import load_config, register_configs
from ecosim.experiment import run

CONF = Path(__file__).resolve().parents[1] / "conf"
BANDS = yaml.safe_load((CONF / "calibration" / "default_market.yaml").read_text())


@pytest.fixture(scope="module")
def calibrated_run():
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        raw = compose("config", overrides=["+calibration=default_market", "customers.n=20000"])
    cfg = load_config(raw)
    assert cfg.customers.n == 20_000 and cfg.customers.market_size == 100_000
    assert cfg.time.horizon == 24 and not cfg.events
    result = run(cfg, progress=False)
    return cfg, result.firm_metrics, result.unit_metrics


def window_sd(table, target, first_step: int) -> float:
    """Standard error of the window mean of a KPI, from its month-to-month variation."""
    rows = table[(table["firm"] == target.firm) & (table["step"] >= first_step)]
    if target.need is not None:
        rows = rows[rows["need"] == target.need]
    values = rows[target.kpi].to_numpy(float)
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1) / math.sqrt(values.size))


@pytest.mark.slow
def test_the_default_market_lands_inside_every_band(calibrated_run):
    cfg, firm_metrics, unit_metrics = calibrated_run
    simulated = simulated_kpis(cfg.calibration, firm_metrics, unit_metrics)
    first_step = cfg.time.horizon - cfg.calibration.window + 1
    outside = []
    for name, target in cfg.calibration.targets.items():
        table = firm_metrics if target.need is None else unit_metrics
        se = window_sd(table, target, first_step)
        low, high = target.value - target.scale - 3 * se, target.value + target.scale + 3 * se
        if not low <= simulated[name] <= high:
            outside.append((name, simulated[name], (low, high)))
    assert not outside, outside


def test_the_bands_are_the_documented_ones():
    """Every target of the calibration file appears in docs/calibration.md's summary."""
    doc = (CONF.parent / "docs" / "calibration.md").read_text()
    for name in BANDS["calibration"]["targets"]:
        assert f"`{name}`" in doc, name
