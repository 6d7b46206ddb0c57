"""``ecosim-calibrate``: fit a lifecycle to data and write the ``customers.lifecycle`` block.

ecosim-calibrate sbg retention.csv                      # columns: [cohort,] age, alive
ecosim-calibrate sbg results/run/cohort_retention.parquet --where firm=bank
ecosim-calibrate bgnbd transactions.csv --step-unit week  # columns: customer, date, amount
ecosim-calibrate bgnbd results/run/transactions.parquet --date time --where need=media

The block is printed (or written with ``--out``) as YAML with the estimates and their standard
errors in a comment; paste it into a config, or merge it on the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

from ecosim.calibrate.bgnbd import DAYS_PER_STEP, fit_bgnbd
from ecosim.calibrate.mle import Fit
from ecosim.calibrate.sbg import fit_sbg


def read_table(path: Path, where: list[str]) -> pd.DataFrame:
    """A CSV or Parquet file, keeping the rows where each ``column=value`` holds."""
    table = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    for condition in where:
        column, _, value = condition.partition("=")
        if column not in table.columns:
            raise ValueError(f"--where {condition}: no column {column!r} in {path}")
        table = table[table[column].astype(str) == value]
    if table.empty:
        raise ValueError(f"no rows left in {path} after --where {' '.join(where)}")
    return table


def lifecycle_yaml(fit: Fit, source: str) -> str:
    """The ``customers.lifecycle`` block, with the fit in comments above it."""
    estimates = ", ".join(f"{name} = {value:.4g} (se {fit.se[name]:.2g})"
                          for name, value in fit.params.items())
    lifecycle = {key: ({k: round(v, 6) if isinstance(v, float) else v for k, v in value.items()}
                       if isinstance(value, dict) else value)
                 for key, value in fit.lifecycle.items()}
    header = (f"# ecosim-calibrate {fit.model} on {source}: {fit.n} customers, "
              f"log-likelihood {fit.loglik:.2f}{'' if fit.converged else ' (NOT converged)'}\n"
              f"# {estimates}\n")
    return header + yaml.safe_dump({"customers": {"lifecycle": lifecycle}}, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecosim-calibrate``."""
    parser = argparse.ArgumentParser(prog="ecosim-calibrate", description=__doc__.split("\n")[0])
    models = parser.add_subparsers(dest="model", required=True)
    sbg = models.add_parser("sbg", help="contractual churn (shifted-beta-geometric) from a "
                                        "retention table: [cohort columns,] age, alive")
    sbg.add_argument("table", type=Path)
    sbg.add_argument("--age", default="age")
    sbg.add_argument("--alive", default="alive")
    sbg.add_argument("--cohort", nargs="*", default=None,
                     help="columns that identify a cohort (default: all but age and counts)")
    bgnbd = models.add_parser("bgnbd", help="non-contractual purchasing (BG/NBD) from a "
                                            "transaction log: customer, date[, amount]")
    bgnbd.add_argument("table", type=Path)
    bgnbd.add_argument("--customer", default="customer")
    bgnbd.add_argument("--date", default="date", help="dates, timestamps, or times in steps")
    bgnbd.add_argument("--step-unit", default="month", choices=sorted(DAYS_PER_STEP))
    bgnbd.add_argument("--end", default=None, help="end of observation (default: last purchase)")
    for sub in (sbg, bgnbd):
        sub.add_argument("--where", nargs="*", default=[], metavar="COLUMN=VALUE",
                         help="keep only these rows (e.g. firm=bank)")
        sub.add_argument("--out", type=Path, default=None, help="write the YAML block here")
    args = parser.parse_args(argv)
    try:
        table = read_table(args.table, args.where)
        if args.model == "sbg":
            fit = fit_sbg(table, age=args.age, alive=args.alive, cohort=args.cohort)
        else:
            end = args.end
            if end is not None and pd.api.types.is_numeric_dtype(table[args.date]):
                end = float(end)
            fit = fit_bgnbd(table, customer=args.customer, date=args.date,
                            step_unit=args.step_unit, end=end)
    except (OSError, ValueError, KeyError) as error:
        print(f"ecosim-calibrate: {error}", file=sys.stderr)
        return 2
    text = lifecycle_yaml(fit, args.table.name)
    if args.out is not None:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
