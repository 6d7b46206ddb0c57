"""A market's KPIs do not depend on how many of its customers are simulated (docs/model.md).

The default market (``conf/config.yaml``: ``customers.market_size`` 100 000, the default budgets)
is simulated with 20 000 and with 100 000 customers over 36 months (its month-24 fee rise
included). Every count and amount of money the run records is the market's, so the KPIs of
each firm -- customers and revenue at month 36, new customers and CAC (advertising and referral
spend over new customers) over the run -- must agree between the two resolutions within sampling
error.

Tolerance: the difference of the two means over replications must stay within ``Z_AGREE`` = 5
combined standard errors, ``sqrt(sd_20k² / R_20k + sd_100k² / R_100k)``, each sd taken over that
resolution's replications. With 10 and 5 replications the statistic is a Welch t with about 8
degrees of freedom, which passes 5 with probability about 0.1 %: under 2 % for the 16 checks
(``FIRMS`` × ``KPIS``) together, should a change of random streams redraw them (the seeds are
fixed; measured at this commit: |z| at most 2.6). The check has power: each standard error is
under 2 % of its KPI (asserted), so a resolution bias of 10 % fails it. The same tolerance must
fail under the old semantics, where a budget was money for the simulated customers
(``market_size`` = the 20 000 simulated, totals then multiplied by 5): there a firm spends its
whole budget on 20 000 customers, and every firm's CAC lands far outside it (measured: 3 to 5
times the market's).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from ecosim.config import EcosimConfig, load_config, register_configs
from ecosim.model import EcosystemModel

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
HORIZON = 36
#: Replications per resolution: the 20 000-customer runs are 5× cheaper, so they get twice as many.
REPLICATIONS = {20_000: 10, 100_000: 5}
FIRMS = ("bank", "neobank", "streamer", "taxi_app")
KPIS = ("customers", "revenue", "new_customers", "cac")
Z_AGREE = 5.0


def market_config(n: int, market_size: int) -> EcosimConfig:
    """The default market, ``n`` customers simulated for ``market_size``, over ``HORIZON``."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=[f"customers.n={n}",
                                           f"customers.market_size={market_size}",
                                           f"time.horizon={HORIZON}", "output.figures=false"])
    return load_config(raw)


@cache
def market_kpis(n: int, market_size: int = 100_000, replications: int = 0) -> dict:
    """``{(firm, kpi): values over replications}``, totals multiplied up to 100 000 customers.

    A run whose market is smaller than 100 000 (the old semantics) has its totals multiplied by
    ``100 000 / market_size``, as the old reports did.
    """
    cfg = market_config(n, market_size)
    up = 100_000 / market_size
    values: dict[tuple[str, str], list[float]] = {}
    for r in range(replications or REPLICATIONS[n]):
        h = EcosystemModel(cfg, r).run()
        for firm in FIRMS:
            f = list(cfg.firms).index(firm)
            new = h.new_customers[1:, f].sum()
            kpi = {"customers": h.customers[HORIZON, f] * up,
                   "revenue": h.revenue[HORIZON, f].sum() * up,
                   "new_customers": new * up,
                   "cac": h.marketing_spend[1:, f].sum() / new}
            for name, value in kpi.items():
                values.setdefault((firm, name), []).append(float(value))
    return {key: np.array(v) for key, v in values.items()}


def combined_se(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of the difference of two means over independent replications (Welch)."""
    return math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)


def z_score(a: np.ndarray, b: np.ndarray) -> float:
    """The difference of two means in combined standard errors."""
    return (a.mean() - b.mean()) / combined_se(a, b)


@pytest.mark.slow
def test_kpis_of_a_market_agree_at_20k_and_100k_simulated_customers():
    sample, full = market_kpis(20_000), market_kpis(100_000)
    z = {key: z_score(sample[key], full[key]) for key in full}
    assert all(abs(v) < Z_AGREE for v in z.values()), {k: round(v, 2) for k, v in z.items()}
    # the check has power: the sampling error is small against the KPIs (below 2 % of each mean)
    for key, values in full.items():
        se = combined_se(sample[key], values)
        assert 0 < se < 0.02 * abs(values.mean()), (key, se, values.mean())


@pytest.mark.slow
def test_budgets_for_the_simulated_customers_alone_make_another_market():
    """Under the old semantics (reach priced per simulated customer) the KPIs do not agree."""
    old, full = market_kpis(20_000, market_size=20_000, replications=4), market_kpis(100_000)
    for firm in FIRMS:
        assert abs(z_score(old[(firm, "cac")], full[(firm, "cac")])) > Z_AGREE, firm
        # the whole budget goes to a fifth of the customers: fewer join than in the market, each
        # at a higher cost, though five times the advertising per head reaches more of them
        assert old[(firm, "cac")].mean() > 2 * full[(firm, "cac")].mean(), firm
