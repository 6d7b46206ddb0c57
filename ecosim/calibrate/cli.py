"""``ecosim-calibrate``: fit a lifecycle to data and write the ``customers.lifecycle`` block.

ecosim-calibrate sbg retention.csv                      # columns: [cohort,] age, alive
ecosim-calibrate sbg results/run/cohort_retention.parquet --where firm=bank
ecosim-calibrate bgnbd transactions.csv --step-unit week  # columns: customer, date, amount
ecosim-calibrate bgnbd log.csv --date-format %Y%m%d       # dates written as 20240105
ecosim-calibrate bgnbd summary.csv                        # columns: x, t_x, T (in steps)
ecosim-calibrate bgnbd results/run/transactions.parquet --date time --where replication=0

The block is printed (or written with ``--out``) as YAML with the estimates and their standard
errors in a comment (for sBG also the projected survival); paste it into a config, or merge it on
the command line.

Bad data is refused with one line naming the column and row, exit status 2: blank, non-numeric,
negative or fractional counts, recency after the end of observation, YYYYMMDD numbers read as
steps, and fewer than 10 events per parameter (``mle.EVENTS_PER_PARAMETER``). An ecosim table
with several arms or firms (sBG), or several arms or replications (BG/NBD: customers are numbered
per replication, so pooling would merge different customers), is refused until ``--where``
keeps one. A fit whose parameters the data do not pin down (relative standard error above 0.5)
is written with a warning; one that did not converge is written, marked, with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ecosim.calibrate.bgnbd import DAYS_PER_STEP, fit_bgnbd
from ecosim.calibrate.mle import MAX_RELATIVE_SE, Fit
from ecosim.calibrate.sbg import fit_sbg, survival
from ecosim.metrics.parquet_stream import read_rows

#: Ages (periods since acquisition) at which the sBG fit's projected survival is printed.
SURVIVAL_AGES = (1, 2, 3, 6, 12, 24, 36, 60)
#: Exit statuses: a fit written; a fit written but not converged; input refused.
OK, NOT_CONVERGED, REFUSED = 0, 1, 2


def _conditions(where: list[str], columns: list[str], path: Path) -> list[tuple[str, str]]:
    """``--where COLUMN=VALUE`` conditions as (column, value), each column one of ``columns``."""
    conditions = []
    for condition in where:
        column, equals, value = condition.partition("=")
        if not equals or not column:
            raise ValueError(f"--where {condition}: expected COLUMN=VALUE")
        if column not in columns:
            raise ValueError(f"--where {condition}: no column {column!r} in {path}")
        conditions.append((column, value))
    return conditions


def _keep(table: pd.DataFrame, conditions: list[tuple[str, str]]) -> np.ndarray:
    """The rows where every condition holds.

    As text, or as a number in a numeric column, or as a time in a date or duration column
    (compared as times: pandas writes them as text in a format it picks for the whole column,
    a date alone only when every value is midnight, which would make a match depend on which
    rows are read together).
    """
    keep = np.ones(len(table), bool)
    for column, value in conditions:
        series = table[column]
        if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(
                series):
            match = series == _moment(value, series)
        else:
            match = series.astype(str) == value
            if pd.api.types.is_numeric_dtype(series):  # replication=0 matches 0.0
                number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
                match |= series == number
        keep &= match.to_numpy(dtype=bool, na_value=False)  # a missing value matches nothing
    return keep


def _moment(value: str, series: pd.Series) -> pd.Timestamp | pd.Timedelta:
    """``value`` as a time of ``series``'s kind (in its time zone); NaT if it is not one."""
    if pd.api.types.is_timedelta64_dtype(series):
        return pd.to_timedelta(value, errors="coerce")
    moment = pd.to_datetime(value, errors="coerce")
    zone = getattr(series.dt, "tz", None)
    if moment is pd.NaT or zone is None:
        return moment if moment is pd.NaT or moment.tzinfo is None else moment.tz_localize(None)
    return moment.tz_localize(zone) if moment.tzinfo is None else moment.tz_convert(zone)


def _read_parquet(path: Path, where: list[str]) -> pd.DataFrame:
    """A Parquet file's rows where ``where`` holds, filtered batch by batch as it is read.

    A long run's ``cohort_retention.parquet`` (steps² / 2 × firms rows) is never held whole to
    keep one firm's rows; the result is the whole file filtered, its labels the rows' positions.
    A file that stores an index of its own (pandas ``index=True`` with labels other than the
    positions) is read whole and filtered, as its labels and index columns are then data.
    """
    file = pq.ParquetFile(path)
    if file.metadata.num_rows == 0:
        raise ValueError(f"{path} has no rows")
    index = (file.schema_arrow.pandas_metadata or {}).get("index_columns", [])
    positions = not index or (len(index) == 1 and isinstance(index[0], dict)
                              and index[0].get("kind") == "range" and index[0].get("start") == 0
                              and index[0].get("step") == 1 and index[0].get("name") is None)
    if not positions:
        table = pd.read_parquet(path)
        return table[_keep(table, _conditions(where, list(table.columns), path))]
    conditions = _conditions(where, file.schema_arrow.names, path)
    if not conditions:
        return pd.read_parquet(path)
    kept, labels = read_rows(
        path, lambda batch: _keep(pa.Table.from_batches([batch]).to_pandas(), conditions))
    table = kept.to_pandas()
    table.index = pd.Index(labels)
    return table


def read_table(path: Path, where: list[str]) -> pd.DataFrame:
    """A CSV or Parquet file, keeping the rows where each ``column=value`` holds."""
    if path.suffix in (".parquet", ".pq"):
        table = _read_parquet(path, where)
    else:
        table = pd.read_csv(path)
        if table.empty:
            raise ValueError(f"{path} has no rows")
        table = table[_keep(table, _conditions(where, list(table.columns), path))]
    if table.empty:
        raise ValueError(f"no rows left in {path} after --where {' '.join(where)}")
    return table


def refuse_pooling(table: pd.DataFrame, columns: tuple[str, ...], why: str) -> None:
    """Refuse a table that mixes several values of one of ``columns`` (ecosim's arm, firm...)."""
    for column in columns:
        if column in table.columns and table[column].nunique(dropna=False) > 1:
            values = [str(v) for v in pd.unique(table[column])]
            shown = ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")
            raise ValueError(f"the table holds {len(values)} values of {column!r} ({shown}); "
                             f"{why}: keep one with --where {column}={values[0]}")


def lifecycle_yaml(fit: Fit, source: str) -> str:
    """The ``customers.lifecycle`` block, with the fit in comments above it."""
    estimates = ", ".join(f"{name} = {value:.4g} (se {fit.se[name]:.2g})"
                          for name, value in fit.params.items())
    lifecycle = {key: ({k: round(v, 6) if isinstance(v, float) else v for k, v in value.items()}
                       if isinstance(value, dict) else value)
                 for key, value in fit.lifecycle.items()}
    mark = "" if fit.converged else f" -- NOT CONVERGED ({fit.message})"
    header = (f"# ecosim-calibrate {fit.model} on {source}: {fit.n} customers, "
              f"log-likelihood {fit.loglik:.2f}{mark}\n"
              f"# {estimates}\n")
    if fit.model == "sbg":
        ages = np.array(SURVIVAL_AGES)
        shares = survival(fit.params["a"], fit.params["b"], ages)
        header += ("# projected survival S(t) = B(a, b + t) / B(a, b): "
                   + ", ".join(f"t={t} {s:.3f}" for t, s in zip(ages, shares, strict=True))
                   + f" (observed to t={fit.horizon:g}; later ages extrapolate)\n")
    return header + yaml.safe_dump({"customers": {"lifecycle": lifecycle}}, sort_keys=False)


def warnings(fit: Fit) -> list[str]:
    """One line per problem of a fit: not converged; parameters the data do not pin down."""
    lines = []
    if not fit.converged:
        lines.append(f"the fit did not converge: {fit.message}; do not use these estimates")
    weak = fit.weak()
    if weak:
        shown = ", ".join(f"{name} = {fit.params[name]:.3g} (se {fit.se[name]:.2g})"
                          for name in weak)
        lines.append(f"the data do not pin down {shown}: a relative standard error "
                     f"above {MAX_RELATIVE_SE:g} leaves even its size open; fit more customers "
                     f"or a longer history")
    return lines


def _fit(args: argparse.Namespace) -> Fit:
    """Read the table and fit the model the arguments ask for."""
    table = read_table(args.table, args.where)
    if args.model == "sbg":
        refuse_pooling(table, ("arm", "firm"), "their lifecycles differ")
        return fit_sbg(table, age=args.age, alive=args.alive, cohort=args.cohort)
    refuse_pooling(table, ("arm", "replication"),
                   "customers are numbered per replication and arms differ, so pooling would "
                   "merge different customers")
    if {"x", "t_x", "T"} <= set(table.columns):  # already summarised: the log options are moot
        return fit_bgnbd(table)
    for option, column in (("--customer", args.customer), ("--date", args.date)):
        if column not in table.columns:
            raise ValueError(f"no column {column!r} in {args.table} (name it with {option}); "
                             f"its columns are {', '.join(map(str, table.columns))}")
    return fit_bgnbd(table, customer=args.customer, date=args.date, step_unit=args.step_unit,
                     end=args.end, date_format=args.date_format)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecosim-calibrate``."""
    parser = argparse.ArgumentParser(prog="ecosim-calibrate", description=__doc__.split("\n")[0])
    models = parser.add_subparsers(dest="model", required=True)
    sbg = models.add_parser("sbg", help="contractual churn (shifted-beta-geometric) from a "
                                        "retention table: [cohort columns,] age, alive")
    sbg.add_argument("table", type=Path)
    sbg.add_argument("--age", default="age")
    sbg.add_argument("--alive", default="alive", help="active customers (counts, not shares)")
    sbg.add_argument("--cohort", nargs="*", default=None,
                     help="columns that identify a cohort (default: all but age and counts)")
    bgnbd = models.add_parser("bgnbd", help="non-contractual purchasing (BG/NBD) from a "
                                            "transaction log: customer, date[, amount]; or a "
                                            "summary: x, t_x, T")
    bgnbd.add_argument("table", type=Path)
    bgnbd.add_argument("--customer", default="customer")
    bgnbd.add_argument("--date", default="date", help="dates, timestamps, or times in steps")
    bgnbd.add_argument("--date-format", default=None, metavar="FORMAT",
                       help="strftime format of the dates, e.g. %%Y%%m%%d for 20240105 "
                            "(default: inferred; numbers are times in steps)")
    bgnbd.add_argument("--step-unit", default=None, choices=sorted(DAYS_PER_STEP),
                       help="the period of the rates, for dates (default: month)")
    bgnbd.add_argument("--end", default=None, help="end of observation (default: last purchase)")
    for sub in (sbg, bgnbd):
        sub.add_argument("--where", nargs="*", default=[], metavar="COLUMN=VALUE",
                         help="keep only these rows (e.g. firm=bank; a date or duration column "
                              "is compared as a time: date=2024-01-05)")
        sub.add_argument("--out", type=Path, default=None, help="write the YAML block here")
    args = parser.parse_args(argv)
    try:
        fit = _fit(args)
    except KeyError as error:  # a column the checks above missed
        print(f"ecosim-calibrate: no column {error} in {args.table}", file=sys.stderr)
        return REFUSED
    except (OSError, ValueError) as error:
        print(f"ecosim-calibrate: {' '.join(str(error).split())}", file=sys.stderr)
        return REFUSED
    text = lifecycle_yaml(fit, args.table.name)
    if args.out is not None:
        args.out.write_text(text)
    print(text, end="")
    for line in warnings(fit):
        print(f"ecosim-calibrate: warning: {line}", file=sys.stderr)
    return OK if fit.converged else NOT_CONVERGED


if __name__ == "__main__":
    sys.exit(main())
