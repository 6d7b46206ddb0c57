"""The passable-rise interpolation of experiments/cx_price_resistance_figure.py."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

PATH = Path(__file__).resolve().parents[1] / "experiments" / "cx_price_resistance_figure.py"
spec = importlib.util.spec_from_file_location("cx_price_resistance_figure", PATH)
fig = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fig)


def test_passable_interpolates_at_the_first_crossing():
    rises = np.array([0.0, 5, 10, 20])
    # response 0, 10, 30, 50: a target of 20 is crossed halfway between 5 and 10
    assert fig.passable(rises, np.array([0.0, 10, 30, 50]), 20.0) == 7.5
    # a grid point that hits the target exactly is returned as is
    assert fig.passable(rises, np.array([0.0, 10, 30, 50]), 30.0) == 10.0
    # never reached on the grid: NaN
    assert np.isnan(fig.passable(rises, np.array([0.0, 1, 2, 3]), 20.0))


def test_reference_level_passes_its_own_rise_and_a_flatter_curve_passes_more():
    rows = []
    for rep in range(3):
        for rise in (0, 5, 10, 20):
            # the response is linear in the rise: slope 2 at ordinary, 1 at good
            for level, slope in (("ordinary", 2.0), ("good", 1.0)):
                rows.append({"level": level, "rise": rise, "replication": rep,
                             "response": slope * rise + 0.0})
    resp = pd.DataFrame(rows)
    cross = fig.analyse(resp, "ordinary", 10).set_index("level")
    np.testing.assert_allclose(cross.loc["ordinary", "passable"], 10.0)
    np.testing.assert_allclose(cross.loc["good", "passable"], 20.0)
