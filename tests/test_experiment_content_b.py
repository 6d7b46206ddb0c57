"""The content of five experiments' reports is complete and every robustness variant validates.

For ``umbrella_vs_convenience``, ``silos_vs_value_streams``, ``cx_price_resistance``,
``data_pooling`` and ``segment_capacity``: the experiment states a headline, the claim as a test
on it, what to do under each verdict, its caveats, the 3-5 assumed parameters that drive the
headline (each with a cited or argued range) and the two it maps; every arm has a plain-language
label; an assumption that sets its keys outright never overrides a value a headline arm sets
(that would erase the arm's lever); and ``ecosim.robustness.prepare`` builds and validates every
tornado and map variant without running anything. Each brief has a Robustness section, before its
result, with the command that runs it.
"""

from __future__ import annotations

from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ecosim.config import arm_configs, load_config, register_configs
from ecosim.config.paths import get_dotted
from ecosim.config.store import CONF_DIR
from ecosim.metrics.headline import headline_arms
from ecosim.robustness import prepare

EXPERIMENTS = ("umbrella_vs_convenience", "silos_vs_value_streams", "cx_price_resistance",
               "data_pooling", "segment_capacity")
BRIEFS = CONF_DIR.parent / "experiments"
#: Arm labels appear on chart axes.
MAX_LABEL = 30


def compose_experiment(name: str) -> Any:
    """The composed config of ``ecosim experiment=<name>``."""
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"experiment={name}"])


def leaf_paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths to the values an arm's overrides set (nested blocks flattened)."""
    paths = set()
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        paths |= leaf_paths(value, path) if isinstance(value, dict) else {path}
    return paths


@pytest.fixture(scope="module", params=EXPERIMENTS)
def composed(request: pytest.FixtureRequest) -> tuple[str, Any, Any]:
    raw = compose_experiment(request.param)
    return request.param, raw, load_config(raw)


def test_headline_claim_and_so_what(composed: tuple[str, Any, Any]) -> None:
    name, _, cfg = composed
    exp = cfg.experiment
    assert exp.headline.kind in ("share", "effect", "relative_effect"), name
    assert exp.headline.label and exp.headline.label[0].islower(), name  # reads inside a sentence
    assert exp.claim_test.op in ("<=", ">=") and exp.claim_test.text, name
    assert exp.so_what.holds and exp.so_what.fails and exp.so_what.holds != exp.so_what.fails
    assert 2 <= len(exp.caveats) <= 4 and all(c.strip() for c in exp.caveats), name


def test_every_arm_has_a_plain_label(composed: tuple[str, Any, Any]) -> None:
    name, _, cfg = composed
    exp = cfg.experiment
    assert set(exp.arms) <= set(exp.labels), (name, set(exp.arms) - set(exp.labels))
    for arm, label in exp.labels.items():
        assert label and "_" not in label and len(label) <= MAX_LABEL, (name, arm, label)
    assert len(set(exp.labels.values())) == len(exp.labels), name  # no two arms read the same


def test_assumptions_are_cited_and_leave_the_levers_alone(composed: tuple[str, Any, Any]) -> None:
    name, _, cfg = composed
    exp = cfg.experiment
    assert 3 <= len(exp.assumptions) <= 5, name
    set_by_arms = set().union(*(leaf_paths(exp.arms[arm]) for arm in headline_arms(exp)))
    for key, a in exp.assumptions.items():
        assert a.label and a.label[0].islower() and len(a.source) > 40, (name, key)
        assert a.low < a.high, (name, key)
        if a.scale:
            assert a.low <= 1 <= a.high, (name, key)  # factors around the default
        else:  # an absolute value would overwrite what a headline arm sets
            assert not set(a.keys) & set_by_arms, (name, key, set(a.keys) & set_by_arms)
    rob = exp.robustness
    assert len(rob.map) in (0, 2) and set(rob.map) <= set(exp.assumptions), name
    assert rob.grid == 3 and rob.replications is not None and 2 <= rob.replications <= 6, name


def test_every_variant_validates(composed: tuple[str, Any, Any]) -> None:
    name, raw, cfg = composed
    exp = cfg.experiment
    plan = prepare(raw, cfg)
    prepared = plan.tornado + [p for pairs in plan.maps.values() for p in pairs]
    assert plan.count == 2 * len(exp.assumptions) + exp.robustness.grid ** 2, name
    arms = headline_arms(exp)
    for variant, configs in prepared:
        assert list(configs) == arms, (name, variant.assumption)
        assert all(c.replications == exp.robustness.replications for c in configs.values())
    # each assumption's low end moves its keys in every arm, after the arm's own overrides
    unmoved = arm_configs(raw, only=arms)
    lows = {v.assumption: c for v, c in prepared if v.design == "tornado" and v.level == "low"}
    assert set(lows) == set(exp.assumptions), name
    for key, configs in lows.items():
        a = exp.assumptions[key]
        for arm, arm_cfg in configs.items():
            for path in a.keys:
                expected = get_dotted(unmoved[arm], path) * a.low if a.scale else a.low
                assert get_dotted(arm_cfg, path) == pytest.approx(expected), (name, arm, path)


def test_brief_has_a_robustness_section(composed: tuple[str, Any, Any]) -> None:
    name, _, cfg = composed
    text = (BRIEFS / f"{name}.md").read_text()
    assert "\n## Robustness\n" in text, name
    section = text.split("\n## Robustness\n", 1)[1].split("\n## ", 1)[0]
    assert f"ecosim experiment={name} robustness=true" in section, name
    assert text.index("\n## Robustness\n") < text.index("\n## Result"), name
    for a in cfg.experiment.assumptions.values():
        assert a.label in section, (name, a.label)  # the table names each assumption
