"""The tipping figure of marketplace_tipping: the leader's share and the sellers over time, by arm.

    .venv/bin/ecosim experiment=marketplace_tipping hydra.run.dir=RUN_DIR
    .venv/bin/python experiments/marketplace_tipping_figure.py RUN_DIR [--figure PATH]

Reads RUN_DIR/unit_metrics.parquet (the share of the need's served customers of ``--leader``,
the marketplace that starts ahead) and sellers.parquet (each marketplace's sellers). Left: the
leader's share of ``--need`` by arm, mean over replications with the band of their range; the
dominance line (``--dominance``, output.dominance_share) for reference. Right: the ratio of the
leader's sellers to its rival's, on a log scale. Prints the numbers at steps 0, 12 and the
horizon and writes the figure (PNG and SVG; default RUN_DIR/figures/tipping.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ecosim.report.style import ARM_PALETTE, SLIDE_SIZE, STYLE, finish, plt, save


def shares_and_ratios(run_dir: Path, need: str, leader: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per arm, replication and step: the leader's share of the need, and its seller ratio."""
    units = pd.read_parquet(run_dir / "unit_metrics.parquet")
    units = units[units["need"] == need]
    share = units[units["firm"] == leader][["arm", "replication", "step", "market_share"]]
    sellers = pd.read_parquet(run_dir / "sellers.parquet")
    sellers = sellers[sellers["need"] == need]
    wide = sellers.pivot_table(index=["arm", "replication", "step"], columns="firm",
                               values="sellers").reset_index()
    rivals = [c for c in wide.columns if c not in ("arm", "replication", "step", leader)]
    wide["ratio"] = wide[leader] / wide[rivals].max(axis=1)
    return share, wide[["arm", "replication", "step", "ratio"]]


def arm_labels(run_dir: Path) -> dict[str, str]:
    """The experiment's plain-language arm names (config.yaml), by arm."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    return dict(config.get("experiment", {}).get("labels", {}))


def plot(share: pd.DataFrame, ratio: pd.DataFrame, need: str, leader: str, dominance: float,
         path: Path, labels: dict[str, str] | None = None) -> list[Path]:
    """Two panels, one line per arm (mean over replications, band = their range)."""
    labels = labels or {}
    arms = list(dict.fromkeys(share["arm"]))
    colours = dict(zip(arms, ARM_PALETTE, strict=False))
    horizon = int(share["step"].max())
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=SLIDE_SIZE)
        for arm in arms:
            for ax, frame, column in ((left, share, "market_share"), (right, ratio, "ratio")):
                by_step = frame[frame["arm"] == arm].groupby("step")[column]
                mean, low, high = by_step.mean(), by_step.min(), by_step.max()
                ax.plot(mean.index, mean.to_numpy(), color=colours[arm],
                        label=labels.get(arm, arm))
                ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colours[arm],
                                alpha=0.2, linewidth=0)
        left.axhline(dominance, color="#595959", linestyle="--", linewidth=1.5)
        left.text(1, dominance + 0.01, f"dominance ({dominance:.0%})", color="#595959",
                  fontsize=12, va="bottom")
        left.axhline(0.5, color="#8c8c8c", linewidth=1)
        left.set_ylim(0.4, 1.0)
        left.set_ylabel(f"{leader}'s share of {need} customers")
        left.set_title(f"{leader}'s share of the need", fontsize=16)
        right.set_title("its sellers against its rival's", fontsize=16)
        left.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        right.set_yscale("log")
        ticks = [t for t in (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0)
                 if t <= max(2.0, float(ratio["ratio"].max()) * 1.1)]
        right.set_yticks(ticks, [f"{t:g}×" for t in ticks])
        right.yaxis.set_minor_formatter(plt.NullFormatter())
        right.axhline(1.0, color="#8c8c8c", linewidth=1)
        right.set_ylabel(f"{leader}'s sellers / rival's (log scale)")
        for ax in (left, right):
            ax.set_xlabel("month")
            ax.set_xlim(0, horizon)
        left.legend(loc="upper left", frameon=False)
        end = share[share["step"] == horizon].groupby("arm")["market_share"].mean()
        title = (f"{leader}'s early lead grows with strong network effects "
                 f"({end.get(arms[-1], np.nan):.0%} of {need} at month {horizon}) and melts "
                 f"with weak ones ({end.get(arms[0], np.nan):.0%})")
        if end.max() < dominance:
            title += f"; neither tips within {horizon} months"
        note = (f"Mean over {share['replication'].nunique()} replications; bands: their range. "
                "Share: of the need's customers served by any firm.")
        finish(fig, title, note)
        return save(fig, path.with_suffix(""))


def main() -> None:
    """Print the numbers and write the figure of a marketplace_tipping run directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--need", default="crafts")
    parser.add_argument("--leader", default="souk")
    parser.add_argument("--dominance", type=float, default=0.8)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    share, ratio = shares_and_ratios(args.run_dir, args.need, args.leader)
    horizon = int(share["step"].max())
    table = share.merge(ratio, on=["arm", "replication", "step"])
    table = table[table["step"].isin([0, 12, horizon])]
    print(table.groupby(["arm", "step"])[["market_share", "ratio"]]
          .agg(["mean", "min", "max"]).round(3).to_string())
    figures = args.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    for path in plot(share, ratio, args.need, args.leader, args.dominance,
                     args.figure or figures / "tipping.png", arm_labels(args.run_dir)):
        print(path)


if __name__ == "__main__":
    main()
