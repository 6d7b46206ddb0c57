"""Configuration of ecosim: the schema, its Hydra registration and validation (docs/design.md §8).

Typical use, in a Hydra app::

    register_configs()            # before @hydra.main runs

    @hydra.main(version_base="1.3", config_path=None, config_name=None)
    def main(raw):
        cfg = load_config(raw)    # EcosimConfig, or ConfigError with a one-line message
"""

from ecosim.config.arms import SINGLE_ARM, arm_configs
from ecosim.config.errors import ConfigError
from ecosim.config.schema import (
    CalibrationConfig,
    CustomersConfig,
    DistSpec,
    EcosimConfig,
    EventConfig,
    ExperimentConfig,
    FirmConfig,
    InvestmentConfig,
    LifecycleConfig,
    MarketingConfig,
    NeedConfig,
    NetworkConfig,
    OfferingConfig,
    OutputConfig,
    SegmentConfig,
    SociodemoConfig,
    TargetConfig,
    TimeConfig,
)
from ecosim.config.store import register_configs
from ecosim.config.validate import config_to_dict, load_config

__all__ = [
    "SINGLE_ARM",
    "arm_configs",
    "CalibrationConfig",
    "ConfigError",
    "CustomersConfig",
    "DistSpec",
    "EcosimConfig",
    "EventConfig",
    "ExperimentConfig",
    "FirmConfig",
    "InvestmentConfig",
    "LifecycleConfig",
    "MarketingConfig",
    "NeedConfig",
    "NetworkConfig",
    "OfferingConfig",
    "OutputConfig",
    "SegmentConfig",
    "SociodemoConfig",
    "TargetConfig",
    "TimeConfig",
    "config_to_dict",
    "load_config",
    "register_configs",
]
