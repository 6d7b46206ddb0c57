"""``ecosim-figures RUN_DIR``: draw a finished run's figures and link them from its report.

A run draws no figures unless asked (``output.figures``; matplotlib costs seconds), so a
strategist who wants them after the fact runs this on the run directory: it reads the tables and
config the run wrote, draws ``figures/*.png|svg`` and rewrites ``report.md`` to show them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa

from ecosim.report.data import ReportData
from ecosim.report.deck import check_run_dir, one_line
from ecosim.report.figures import draw_figures, plan_figures
from ecosim.report.report import write_report


def redraw(run_dir: Path) -> list[Path]:
    """Draw every figure of the finished run in ``run_dir`` and rewrite its ``report.md``.

    Returns:
        The PNG and SVG paths written, headline first, then ``report.md``.

    Raises:
        ValueError: ``run_dir`` is not a complete, readable run directory.
    """
    check_run_dir(run_dir)
    data = ReportData.from_run_dir(run_dir)
    specs = plan_figures(data)
    paths = draw_figures(specs, run_dir)
    paths.append(write_report(data, run_dir, figures=specs))
    return paths


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ecosim-figures RUN_DIR``.

    A directory that is not a complete, readable run is refused with one line and exit status 2.
    """
    parser = argparse.ArgumentParser(
        prog="ecosim-figures",
        description="Draw the slide figures of a finished ecosim run directory and link them "
                    "from its report.md.")
    parser.add_argument("run_dir", type=Path, help="the run directory (holds config.yaml)")
    args = parser.parse_args(argv)
    try:
        paths = redraw(args.run_dir)
    except (OSError, ValueError, KeyError, pa.ArrowException) as error:
        print(f"ecosim-figures: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    figures = [path for path in paths if path.suffix == ".png"]
    print(f"ecosim-figures: drew {len(figures)} figures in {args.run_dir / 'figures'} "
          f"and rewrote {paths[-1]}")


if __name__ == "__main__":
    main()
