"""Tipping diagnostics: concentration of each need over time, dominance, and the seller side.

docs/model.md, "Tipping diagnostics". Four outputs of a run directory:

* ``tipping.parquet`` — one row per (arm, replication, step, need): ``providers`` (firms offering
  the need), ``served`` (customers served by any firm), ``hhi`` (Herfindahl–Hirschman index of
  the firms' shares of ``served``, a number in [1/providers, 1]; NaN when nobody is served),
  ``leader`` (the firm with the largest share; ties: the first firm) and ``leader_share``;
* ``sellers.parquet`` — one row per (arm, replication, step, firm, need) of a two-sided
  marketplace (``agents.sellers``): ``sellers`` seen by buyers in the step, the step's ``gmv``
  (currency), the sellers it can hold ``seller_target``, and the flows ``seller_joins`` and
  ``seller_leaves`` it sets for the next step;
* ``dominance.csv`` — one row per (arm, replication, need) for needs that two firms or more offer:
  ``dominant`` (the first firm whose share reached ``output.dominance_share``, else empty),
  ``time_to_dominance`` (that step; NaN = never), ``tipped`` (the leader at the horizon holds at
  least ``dominance_share``), the leader, its share and the HHI at step 0 and at the horizon;
* ``tipping_summary.csv`` — one row per (arm, need): replications, how many tipped, the share
  that tipped with its 95 % Wilson interval, the median time to dominance of those that reached
  it, and the mean leader share and HHI at the horizon.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pandas as pd

#: Columns of ``sellers.parquet`` after ``arm``, ``replication``, ``step``, ``firm``, ``need``:
#: the one list of them (the ledger, ``agents.sellers.SellerLedger``, has one field of each name;
#: metrics import nothing of ecosim, so the agents layer does not name them again).
SELLER_COLUMNS = ("sellers", "gmv", "seller_target", "seller_joins", "seller_leaves")
#: z of a two-sided 95 % interval (Wilson's interval for the share of replications that tip).
Z95 = 1.959963984540054


class SellerLedgerLike(Protocol):
    """The seller side of a run, arrays ``[t, f, k]`` (``ecosim.agents.sellers.SellerLedger``)."""

    sellers: np.ndarray
    seller_target: np.ndarray
    seller_joins: np.ndarray
    seller_leaves: np.ndarray
    gmv: np.ndarray


def need_concentration(unit_customers: np.ndarray, offered: np.ndarray, firms: list[str],
                       needs: list[str], arm: str = "base", replication: int = 0) -> pd.DataFrame:
    """One row per (step, need): providers, served customers, HHI, leader and its share.

    Args:
        unit_customers: ``[t, f, k]`` customers of each firm's offering at the end of the step
            (``History.unit_customers``, the market's).
        offered: ``[t, f, k]`` 1 where the firm offers the need in the step (``History.offered``).
        firms, needs: names in index order.
        arm, replication: labels of the run.
    """
    served = unit_customers.sum(axis=1)  # [t, k]
    shares = np.full(unit_customers.shape, np.nan)
    np.divide(unit_customers, served[:, None, :], out=shares, where=served[:, None, :] > 0)
    lead = np.argmax(np.nan_to_num(shares, nan=-1.0), axis=1)  # [t, k]
    steps, n_needs = served.shape
    frame = pd.DataFrame({
        "step": np.repeat(np.arange(steps), n_needs),
        "need": np.tile(np.asarray(needs, dtype=object), steps),
        "providers": (offered > 0).sum(axis=1).ravel().astype(np.int64),
        "served": served.ravel(),
        "hhi": np.where(served > 0, np.nansum(shares ** 2, axis=1), np.nan).ravel(),
        "leader": np.asarray(firms, dtype=object)[lead].ravel(),
        "leader_share": np.take_along_axis(shares, lead[:, None, :], axis=1)[:, 0, :].ravel(),
    })
    frame.loc[frame["served"] <= 0, "leader"] = ""
    frame.insert(0, "replication", replication)
    frame.insert(0, "arm", arm)
    return frame


def seller_table(ledger: SellerLedgerLike, firms: list[str], needs: list[str], arm: str = "base",
                 replication: int = 0) -> pd.DataFrame:
    """One row per (step, firm, need) of a two-sided marketplace; empty without one."""
    t, f, k = np.nonzero(~np.isnan(ledger.sellers))
    frame = pd.DataFrame({
        "arm": arm,
        "replication": replication,
        "step": t.astype(np.int64),
        "firm": np.asarray(firms, dtype=object)[f] if len(f) else np.zeros(0, dtype=object),
        "need": np.asarray(needs, dtype=object)[k] if len(k) else np.zeros(0, dtype=object),
    })
    for name in SELLER_COLUMNS:
        frame[name] = getattr(ledger, name)[t, f, k].astype(float)
    return frame


def dominance(tipping: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per (arm, replication, need) offered by two firms or more: when one firm came to dominate.

    Args:
        tipping: rows of ``need_concentration`` (any number of arms and replications).
        threshold: ``output.dominance_share``, the share of served customers from which a firm
            dominates a need (above 0.5, so at most one firm does).

    Returns:
        Columns ``arm, replication, need, dominant, time_to_dominance, tipped, leader,
        leader_share, hhi_start, hhi`` (the last three at the horizon except ``hhi_start``, at
        step 0). ``time_to_dominance`` is the first step whose leader share reaches the
        threshold (0 if the need starts dominated; NaN = never); ``tipped`` is whether the leader
        holds the threshold at the horizon (a need dominated once and then contested again has
        not tipped).
    """
    rows = []
    for (arm, replication, need), run in tipping.groupby(["arm", "replication", "need"],
                                                         sort=False):
        if run["providers"].max() < 2:
            continue
        run = run.sort_values("step")
        reached = run[run["leader_share"] >= threshold]
        last, first = run.iloc[-1], run.iloc[0]
        rows.append({
            "arm": arm, "replication": replication, "need": need,
            "dominant": reached["leader"].iloc[0] if len(reached) else "",
            "time_to_dominance": float(reached["step"].iloc[0]) if len(reached) else math.nan,
            "tipped": bool(last["leader_share"] >= threshold),
            "leader": last["leader"], "leader_share": float(last["leader_share"]),
            "hhi_start": float(first["hhi"]), "hhi": float(last["hhi"]),
        })
    columns = ["arm", "replication", "need", "dominant", "time_to_dominance", "tipped", "leader",
               "leader_share", "hhi_start", "hhi"]
    return pd.DataFrame(rows, columns=columns)


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial share (NaN, NaN without trials)."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    half = z * spread / (1 + z * z / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding residue
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def tipping_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, need): the share of replications that tipped, with its 95 % Wilson interval.

    Args:
        table: rows of ``dominance``.

    Returns:
        Columns ``arm, need, replications, tipped, tip_share, tip_ci_low, tip_ci_high,
        median_time_to_dominance`` (of the replications in which a firm reached dominance; NaN
        if none did), ``leader_share`` and ``hhi`` (means at the horizon).
    """
    rows = []
    for (arm, need), runs in table.groupby(["arm", "need"], sort=False):
        n, tipped = len(runs), int(runs["tipped"].sum())
        low, high = wilson_interval(tipped, n)
        times = runs["time_to_dominance"].dropna()
        rows.append({"arm": arm, "need": need, "replications": n, "tipped": tipped,
                     "tip_share": tipped / n, "tip_ci_low": low, "tip_ci_high": high,
                     "median_time_to_dominance": float(times.median()) if len(times)
                     else math.nan,
                     "leader_share": float(runs["leader_share"].mean()),
                     "hhi": float(runs["hhi"].mean())})
    columns = ["arm", "need", "replications", "tipped", "tip_share", "tip_ci_low", "tip_ci_high",
               "median_time_to_dominance", "leader_share", "hhi"]
    return pd.DataFrame(rows, columns=columns)


def tipping_outputs(tipping: pd.DataFrame, sellers: pd.DataFrame,
                    threshold: float) -> dict[str, pd.DataFrame]:
    """The four files of the diagnostics, by file name (the module docstring lists them)."""
    per_run = dominance(tipping, threshold)
    return {"tipping.parquet": tipping, "sellers.parquet": sellers, "dominance.csv": per_run,
            "tipping_summary.csv": tipping_summary(per_run)}
