"""The key parameters the page edits, and checking an edit with the project's own validation.

An *edit* sets one dotted key of the config tree (``firms.bank.marketing.budget``) to a value,
as ``ecosim firms.bank.marketing.budget=1e5`` would on the command line. Edits apply to the
source's own values, so in an experiment they change every arm (an arm that sets the same key
itself keeps its own value). An edit is accepted only if the whole config, every arm included,
still validates; otherwise the page shows ``load_config``'s one-line error next to the field and
keeps the previous value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecosim.config import ConfigError, EcosimConfig, arm_configs
from ecosim.config.paths import get_dotted, set_dotted
from ecosim.config.schema import BUSINESS_MODELS, ORGANISATIONS

#: Per offering: what the customer pays (× market price), and the two levers of experience.
OFFERING_KEYS = (("price_index", "price index"), ("convenience", "convenience"),
                 ("experience", "experience"))
#: The ecosystem's switches (used when the firm's model is ``ecosystem``).
ECOSYSTEM_KEYS = (("ecosystem.context_reach", "context reach (share of occasions)"),
                  ("ecosystem.entry_bonus", "single-entry bonus (utility)"),
                  ("ecosystem.data_gain", "pooled-data loss cut (share)"))


@dataclass(frozen=True)
class Field:
    """One input of the form.

    Attributes:
        key: the dotted config key it sets.
        label: what the page calls it (units in brackets).
        group: the panel it sits in (``Market`` or ``Firm <name>``).
        kind: ``number`` (typed as text, parsed), ``text``, ``choice`` (one of ``choices``) or
            ``switch``.
        choices: the allowed values of a ``choice``.
    """

    key: str
    label: str
    group: str
    kind: str = "number"
    choices: tuple[str, ...] = ()


def key_fields(cfg: EcosimConfig) -> list[Field]:
    """The form of a config: market size and horizon, then per firm its model and levers."""
    fields = [
        Field("customers.n", "simulated customers", "Market"),
        Field("customers.market_size", "market size (customers)", "Market"),
        Field("time.horizon", f"horizon ({cfg.time.step_unit}s)", "Market"),
        Field("replications", "replications", "Market"),
        Field("seed", "seed", "Market"),
    ]
    if cfg.experiment.assumptions:
        fields.append(Field("robustness", "robustness over the assumptions", "Market", "switch"))
    for name, firm in cfg.firms.items():
        group = f"Firm {name}"
        fields.append(Field(f"firms.{name}.model", "business model", group, "choice",
                            BUSINESS_MODELS))
        fields.append(Field(f"firms.{name}.marketing.budget", "marketing budget (money/step)",
                            group))
        fields.append(Field(f"firms.{name}.brand", "brand (shared by firms: an umbrella brand)",
                            group, "text"))
        for need in firm.offerings:
            for key, label in OFFERING_KEYS:
                fields.append(Field(f"firms.{name}.offerings.{need}.{key}", f"{need}: {label}",
                                    group))
        if firm.model == "ecosystem":
            fields += [Field(f"firms.{name}.{key}", label, group) for key, label in ECOSYSTEM_KEYS]
        fields.append(Field(f"firms.{name}.cross_sell.organisation", "cross-sell organisation",
                            group, "choice", ORGANISATIONS))
    return fields


def current_value(cfg: EcosimConfig, key: str) -> Any:
    """The value a validated config has at ``key`` (the schema's default where unset)."""
    return get_dotted(cfg, key)


def parse_input(text: str, kind: str) -> Any:
    """The value typed into a field: an int or a float when it reads as one, else the text.

    Text that is no number is passed on as is, so that the schema's own check rejects it with
    its message (``expected a number``), exactly as it would in a YAML file.
    """
    if kind != "number":
        return text
    stripped = text.strip()
    for convert in (int, float):
        try:
            return convert(stripped)
        except ValueError:
            pass
    return stripped


def apply_edits(tree: Mapping[str, Any], edits: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``tree`` with every edit set (``key`` -> value, in order)."""
    out = copy.deepcopy(dict(tree))
    for key, value in edits.items():
        set_dotted(out, key, value)
    return out


def validate(tree: Mapping[str, Any]) -> dict[str, EcosimConfig]:
    """One validated config per arm of ``tree`` (``ecosim.config.arm_configs``).

    Raises:
        ConfigError: one line naming the key, the value and what is allowed.
    """
    try:
        return arm_configs(dict(tree))
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:  # a value of a type the checks did not foresee
        raise ConfigError("", None, "expected a config the schema accepts",
                          " ".join(str(error).split())) from None


def check_edit(tree: Mapping[str, Any], edits: Mapping[str, Any], key: str,
               value: Any) -> str | None:
    """The one-line error an edit would cause, or None when the config stays valid.

    Args:
        tree: the source's values.
        edits: the edits accepted so far.
        key, value: the new edit.
    """
    try:
        validate(apply_edits(tree, {**edits, key: value}))
    except ConfigError as error:
        return str(error)
    return None


def as_overrides(edits: Mapping[str, Any]) -> list[str]:
    """The edits as command-line overrides (``key=value``), for the run's metadata."""
    return [f"{key}={value}" for key, value in edits.items()]
