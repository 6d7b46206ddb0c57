"""The content of five experiments' reports is complete: what their slides say, and what moves it.

For cac_squeeze, growth_levers, ecosystem_vs_marketplace, convenient_entrant and segmentation,
each composed as ``ecosim experiment=<name>`` composes it: a headline and a claim test on it, a
so-what for either verdict, caveats, 3-5 assumed parameters with a cited range, a robustness map
of two of them, a plain label for every arm; and every robustness variant (tornado and map)
builds a valid config before anything runs. Nothing is simulated.
"""

from __future__ import annotations

import math

import pytest
from hydra import compose, initialize_config_dir

from ecosim.config import arm_configs, load_config, register_configs
from ecosim.config.paths import get_dotted
from ecosim.config.schema import EXPERIMENT_KPIS, HEADLINE_KINDS
from ecosim.config.store import CONF_DIR
from ecosim.metrics.headline import headline_arms
from ecosim.robustness import prepare

NAMES = ["cac_squeeze", "growth_levers", "ecosystem_vs_marketplace", "convenient_entrant",
         "segmentation"]
#: Arm labels appear on chart axes.
MAX_LABEL = 30


def compose_experiment(name: str):
    """The composed config of ``ecosim experiment=<name>``."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"experiment={name}"])


@pytest.mark.parametrize("name", NAMES)
def test_the_content_is_complete(name: str) -> None:
    exp = load_config(compose_experiment(name)).experiment

    head = exp.headline
    assert head.kind in HEADLINE_KINDS and head.kpi in EXPERIMENT_KPIS
    assert head.label and head.label == head.label.lower()[:1] + head.label[1:]
    assert head.kind == "share" or (head.arm in exp.arms and head.baseline in exp.arms
                                    and head.arm != head.baseline)
    test = exp.claim_test
    assert test.op in ("<=", ">=") and math.isfinite(test.value) and test.text
    assert exp.so_what.holds and exp.so_what.fails and exp.so_what.holds != exp.so_what.fails
    assert 2 <= len(exp.caveats) <= 4 and all(c.endswith(".") for c in exp.caveats)

    assert 3 <= len(exp.assumptions) <= 5
    for a in exp.assumptions.values():
        assert a.label and a.label[0].islower() and a.keys and a.source
        assert a.low < a.high
    rob = exp.robustness
    assert len(rob.map) in (0, 2) and set(rob.map) <= set(exp.assumptions)
    assert rob.grid == 3 and rob.replications is not None and rob.replications >= 3

    names = set(exp.arms) | {f for fs in exp.factors.values() for f in fs}
    assert set(exp.labels) == names
    for label in exp.labels.values():
        assert "_" not in label and 0 < len(label) <= MAX_LABEL
    for group in exp.compare:
        assert len(group) >= 2 and set(group) <= set(exp.arms)


@pytest.mark.slow  # about 20 configs built and validated per experiment: 10-60 s each
@pytest.mark.parametrize("name", NAMES)
def test_every_robustness_variant_validates(name: str) -> None:
    raw = compose_experiment(name)
    cfg = load_config(raw)
    plan = prepare(raw, cfg)
    prepared = plan.tornado + [p for pairs in plan.maps.values() for p in pairs]
    exp = cfg.experiment
    assert plan.count == 2 * len(exp.assumptions) + exp.robustness.grid ** 2
    arms = headline_arms(exp)
    for _variant, configs in prepared:
        assert list(configs) == arms
        assert all(c.replications == exp.robustness.replications for c in configs.values())
    # The tornado's low end of every assumption moves its keys in every arm, after the arm's
    # own overrides (scale: true multiplies them, otherwise it replaces them).
    defaults = arm_configs(raw, only=arms)
    for variant, configs in prepared:
        if variant.design != "tornado" or variant.level != "low":
            continue
        a = exp.assumptions[variant.assumption]
        changed = 0
        for arm, moved in configs.items():
            for key in a.keys:
                before = get_dotted(defaults[arm], key)
                expected = before * a.low if a.scale else a.low
                assert get_dotted(moved, key) == pytest.approx(expected), (name, arm, key)
                changed += get_dotted(moved, key) != before
        assert changed, (name, variant.assumption)  # an assumption that moves nothing


def test_segmentation_compares_within_one_informativeness_level() -> None:
    cfg = load_config(compose_experiment("segmentation"))
    exp, default = cfg.experiment, cfg.customers.sociodemo.informativeness
    for group in exp.compare:
        levels = {exp.arms[arm].get("customers.sociodemo.informativeness", default)
                  for arm in group}
        assert len(levels) == 1, group
        assert "targeting" not in str(exp.arms[group[0]])  # the untargeted arm is the reference
    assert {exp.headline.arm, exp.headline.baseline} <= set(exp.compare[0])


def test_convenient_entrant_never_compares_the_answer_with_no_entrant() -> None:
    exp = load_config(compose_experiment("convenient_entrant")).experiment
    assert ["entrant", "entrant_bank_matches"] in exp.compare
    assert not any({"no_entrant", "entrant_bank_matches"} <= set(g) for g in exp.compare)
