"""The ``ecosim`` command: a Hydra app that runs a scenario and writes its run directory.

ecosim                                   # the default scenario (conf/config.yaml)
ecosim customers.n=20000 time.horizon=24 # overrides
ecosim --config-dir DIR --config-name my_market
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ecosim.config import ConfigError, load_config, register_configs
from ecosim.experiment import RunResult, mark_complete, run, write_tables

#: The YAML shipped with the repository (an editable install finds it here).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def write_run_dir(result: RunResult, out_dir: str | Path) -> Path:
    """Tables, figures, then ``metadata.json`` (the completeness mark) into ``out_dir``."""
    out = write_tables(result, out_dir)
    if result.config.output.figures:
        from ecosim.report.plots import plot_customers_and_revenue

        figures = out / "figures"
        figures.mkdir(exist_ok=True)
        plot_customers_and_revenue(result.firm_metrics, result.config.time.step_unit,
                                   figures / "customers_and_revenue")
    mark_complete(result, out)
    return out


def _app(raw: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        cfg = load_config(raw)
    except ConfigError as error:
        print(f"ecosim: config error: {error}", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    result = run(cfg)
    write_run_dir(result, out_dir)
    print(f"ecosim: wrote {out_dir}")


def main() -> None:
    """Entry point of the ``ecosim`` console script."""
    register_configs()
    config_path = str(CONF_DIR) if CONF_DIR.is_dir() else None
    hydra.main(version_base="1.3", config_path=config_path, config_name="config")(_app)()


if __name__ == "__main__":
    main()
