"""Calibration: fit lifecycles to data, and tune market parameters to target KPIs.

- ``sbg``: the shifted-beta-geometric model (contractual churn) fitted to a retention table;
- ``bgnbd``: the BG/NBD model (non-contractual purchases and dropout) fitted to a transaction log;
- ``targets``: the distance of a run's KPIs to ``calibration.targets``, which the ``ecosim`` app
  returns as its objective so that Hydra's Optuna sweeper can minimise it;
- ``cli``: the ``ecosim-calibrate`` command, which writes the ``customers.lifecycle`` block.

Both fits are maximum likelihood in pure numpy/scipy, with standard errors from the observed
information (the inverse Hessian of the log-likelihood).
"""
