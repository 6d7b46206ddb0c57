"""Composing a sweep's configs once: Hydra's composition per set of config groups, values on a copy.

Hydra composes every job of a sweep from scratch (its config files read and merged, ~0.1 s a
job), twice: the sweeper checks each job's config before launching, and the worker composes it
again. Jobs that differ only in values (``seed=0..999``, ``customers.n=...``) share everything but
those values, and Hydra itself composes in that order: the config groups chosen (``experiment=``,
``hydra/launcher=``) and Hydra's own overrides give the composed tree, then the value overrides
are set on it (``ConfigLoaderImpl._apply_overrides_to_config``). ``EcosimConfigLoader`` keeps the
composed tree of each such set (``base``) and gives each job a copy with its values set and
Hydra's record of the job's overrides (``hydra.overrides``, ``hydra.job.override_dirname``)
written as Hydra writes it, so a job's config is the one Hydra composes (tests/test_compose.py).

Whatever this shortcut cannot reproduce exactly goes to Hydra's own composition: sweep overrides
(``seed=1,2`` outside a sweep's jobs), a search path set by config (``hydra.searchpath``), a
config that copies environment variables (``hydra.job.env_copy``), and any override that fails
(Hydra then raises its own error). Bases are kept per ecosim invocation (a token travels with the
loader to the workers of a sweep), so a worker composes each base once; files edited while a
sweep runs are read again by the next invocation only.

``fast_composition`` installs the loader for one ``ecosim`` command, and lets Hydra's first
composition (which only looks for ``hydra.mode``) be the base of the run's own.
"""

from __future__ import annotations

import copy
import functools
import os
import pickle
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import hydra._internal.hydra as hydra_internal
from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.hydra import Hydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobRuntime
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

#: Composed bases kept per process (most recently used last); a base is ~60 kB pickled.
MAX_BASES = 16
#: Hydra overrides that are set on the copy like values: Hydra writes nothing after them.
HYDRA_VALUE_KEYS = frozenset({"hydra.mode"})
#: Marks a key whose configs go to Hydra's own composition (see the module docstring).
_HYDRA_ONLY = object()

_bases: OrderedDict[tuple, Any] = OrderedDict()


class _Plan:
    """An override list split into what composes the base and what is set on its copy."""

    def __init__(self, parsed: list[Override], composing: list[Override],
                 values: list[Override]) -> None:
        self.parsed, self.composing, self.values = parsed, composing, values


class EcosimConfigLoader(ConfigLoaderImpl):
    """Hydra's config loader, composing each set of config groups once (module docstring).

    ``token`` names the invocation whose bases the loader may reuse; it travels with the
    loader when a launcher sends it to its workers.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = uuid.uuid4().hex

    def load_configuration(self, config_name: str | None, overrides: list[str],
                           run_mode: RunMode, from_shell: bool = True,
                           validate_sweep_overrides: bool = True) -> DictConfig:
        """The config Hydra composes for ``overrides``, from a copy of its base when it can."""
        plan = self._plan(overrides)
        if plan is not None:
            key = (self.token, config_name, run_mode, os.getcwd(), _job_name(),
                   tuple(o.input_line for o in plan.composing))
            cfg = self._from_base(key, config_name, plan, run_mode, from_shell,
                                  validate_sweep_overrides)
            if cfg is not None:
                return cfg
        return super().load_configuration(config_name, overrides, run_mode, from_shell,
                                          validate_sweep_overrides)

    def _plan(self, overrides: Sequence[str]) -> _Plan | None:
        """Which overrides choose config groups (or are Hydra's), which set values; None: Hydra."""
        try:
            parsed = [_parse(line) for line in overrides]
        except HydraException:
            return None  # Hydra reports it
        composing, values = [], []
        for override in parsed:
            key = override.key_or_group
            if override.is_sweep_override() or key == "hydra.searchpath":
                return None
            if override.is_hydra_override():
                plain = not (override.is_add() or override.is_delete() or override.is_force_add()
                             or override.package is not None)
                (values if plain and key in HYDRA_VALUE_KEYS else composing).append(override)
            elif self.repository.group_exists(key) and not isinstance(override.value(), dict):
                composing.append(override)  # a config group's choice (Hydra's rule)
            else:
                values.append(override)
        return _Plan(parsed, composing, values)

    def _from_base(self, key: tuple, config_name: str | None, plan: _Plan, run_mode: RunMode,
                   from_shell: bool, validate_sweep_overrides: bool) -> DictConfig | None:
        """The job's config from the base's copy; None when only Hydra can compose it."""
        stored = _bases.get(key)
        if stored is None:
            try:
                base = super().load_configuration(
                    config_name, [o.input_line for o in plan.composing], run_mode, from_shell,
                    validate_sweep_overrides)
            except (HydraException, OmegaConfBaseException, ValueError):
                return None  # Hydra composes the whole list and raises its own error
            hydra_only = bool(OmegaConf.select(base, "hydra.searchpath")
                              or OmegaConf.select(base, "hydra.job.env_copy"))
            stored = _HYDRA_ONLY if hydra_only else _stored(base)
            _bases[key] = stored
            while len(_bases) > MAX_BASES:
                _bases.popitem(last=False)
        _bases.move_to_end(key)
        if stored is _HYDRA_ONLY:
            return None
        cfg = pickle.loads(stored) if isinstance(stored, bytes) else copy.deepcopy(stored)
        try:
            ConfigLoaderImpl._apply_overrides_to_config(plan.values, cfg)
        except (HydraException, OmegaConfBaseException, ValueError):
            return None
        _record(cfg, plan)
        return cfg


@functools.lru_cache(maxsize=4096)
def _parse(line: str) -> Override:
    """One override as Hydra parses it; the lines every job shares are parsed once.

    The parsed override is only read (its key, value and line), never changed.
    """
    return OverridesParser.create().parse_overrides(overrides=[line])[0]


def _stored(base: DictConfig) -> bytes | DictConfig:
    """The base as kept: pickled (a copy is then ~2 ms), or itself (deep-copied, ~12 ms).

    A worker of a launcher may hold a config whose structured types are not the classes its
    modules define now (they came with the launcher's pickled state); pickle refuses those.
    """
    try:
        return pickle.dumps(base)
    except pickle.PicklingError:
        return base


def _record(cfg: DictConfig, plan: _Plan) -> None:
    """Write the job's overrides into ``hydra.overrides`` and ``override_dirname`` as Hydra does.

    The base lists its own (composing) overrides after whatever its files put there; those are
    replaced by all of the job's, in the order given.
    """
    with open_dict(cfg.hydra):
        for name, hydra_side in (("task", False), ("hydra", True)):
            listed = list(cfg.hydra.overrides[name])
            own = sum(1 for o in plan.composing if o.is_hydra_override() == hydra_side)
            lines = listed[:len(listed) - own] + [o.input_line for o in plan.parsed
                                                  if o.is_hydra_override() == hydra_side]
            if lines != listed:  # building a list node costs ~0.5 ms: only when it changes
                cfg.hydra.overrides[name] = lines
        task = [o for o in plan.parsed if not o.is_hydra_override()]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep,
            exclude_keys=dirname.exclude_keys)


def _job_name() -> str | None:
    """The name Hydra gives a job whose config names none (the app's module)."""
    try:
        return JobRuntime().get("name")
    except KeyError:
        return None


def clear_bases() -> None:
    """Forget the composed bases of this process."""
    _bases.clear()


def _get_mode(self: Hydra, config_name: str | None, overrides: list[str]) -> Any:
    """Hydra's ``get_mode`` composed as a run, so that the run's composition reuses its base.

    A composition that succeeds as a run holds the same ``hydra.mode`` as Hydra's (which
    composes as a sweep only to skip config groups left to choose); when it fails, Hydra's own.
    """
    try:
        parsed = OverridesParser.create().parse_overrides(overrides=list(overrides))
        if any(override.is_sweep_override() for override in parsed):
            return _HYDRA_GET_MODE(self, config_name, overrides)  # a sweep: composed as one
        cfg = self.compose_config(config_name=config_name, overrides=overrides,
                                  with_log_configuration=False, run_mode=RunMode.RUN,
                                  validate_sweep_overrides=False)
        return cfg.hydra.mode
    except Exception:  # noqa: BLE001 - Hydra's get_mode swallows every error too
        return _HYDRA_GET_MODE(self, config_name, overrides)


_HYDRA_GET_MODE = Hydra.get_mode


@contextmanager
def fast_composition() -> Iterator[None]:
    """Within the block, Hydra's apps compose with ``EcosimConfigLoader`` (one ``ecosim`` call).

    Patches the loader class that ``Hydra.create_main_hydra2`` instantiates and ``get_mode``;
    both are restored on exit, and the bases of this process are forgotten.
    """
    loader_class, get_mode = hydra_internal.ConfigLoaderImpl, Hydra.get_mode
    hydra_internal.ConfigLoaderImpl = EcosimConfigLoader
    Hydra.get_mode = _get_mode
    try:
        yield
    finally:
        hydra_internal.ConfigLoaderImpl = loader_class
        Hydra.get_mode = get_mode
        clear_bases()
