"""The engine a configuration describes: its contract, scenarios, world seed, bounds and store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import Limits, MockConfig
from ..contract import Contract
from ..shipped import RESOURCES_FILE_NAME, SCENARIOS_DIR, SPEC_FILE, WORLD_FILE_NAME
from .engine import Engine
from .resources import ResourceError, ResourceModel
from .scenarios import load_directory
from .world import Seed

log = logging.getLogger("cloud_backup_mock")


def build_engine(config: MockConfig) -> Engine:
    """The engine a configuration describes: its contract, scenarios and world seed, all checked.

    The shipped scenarios and world are written for the shipped contract: served with another one,
    what in them does not fit it is left out and logged, one warning each. Scenario files of the
    user's own are held to whichever contract is served."""
    contract = Contract.load(config.spec_file)
    shipped_for_another = (Path(config.scenarios_dir).resolve() == SCENARIOS_DIR.resolve()
                           and Path(config.spec_file).resolve() != SPEC_FILE.resolve())
    left_out: list[str] | None = [] if shipped_for_another else None
    scenarios = load_directory(config.scenarios_dir, contract, config.scenario_files, left_out)
    world_file = config.world_file or Path(config.scenarios_dir) / WORLD_FILE_NAME

    def example(operation_id: str) -> Any:
        if operation_id not in contract.operations:
            return None
        op = contract.operation(operation_id)
        return op.response_example(min((s for s in op.statuses if 200 <= s < 300), default=200))

    seed = Seed.load(world_file, example, left_out)
    seed.model = resource_model(contract, Path(config.scenarios_dir), left_out)
    limits = _limits(seed, str(world_file), config)
    for problem in left_out or []:
        log.warning("%s", problem)
    for name, value in config.settings.items():
        if not hasattr(seed.settings, name):
            raise ValueError(f"unknown world setting {name!r}")
        setattr(seed.settings, name, value)
    engine = Engine(contract, scenarios, seed, active=config.active, limits=limits)
    if config.state != "memory":
        from .redis_store import RedisStore

        engine.use_store(RedisStore(config.state, seed, engine.clock, limits, engine.added_scenario))
    return engine


def resource_model(contract: Contract, scenarios_dir: Path, left_out: list[str] | None = None) -> ResourceModel | None:
    """The resource model of ``scenarios_dir`` (the shipped one when it has none). Served with another contract,
    the shipped model is left out (logged) when it does not fit."""
    path = scenarios_dir / RESOURCES_FILE_NAME
    if not path.exists():
        path = SCENARIOS_DIR / RESOURCES_FILE_NAME
    try:
        return ResourceModel.load(path, contract)
    except ResourceError as exc:
        if left_out is None:
            raise ValueError(str(exc)) from None
        left_out.append(f"{exc}; the resource model is left out")
        return None


def _limits(seed: Seed, source: str, config: MockConfig) -> Limits:
    limits = Limits().replace(seed.limits, source).replace(config.limits, "limits")
    if config.journal_size is not None:
        limits = limits.replace({"journal_entries": config.journal_size}, "journal_size")
    if config.max_body_bytes is not None:
        limits = limits.replace({"max_body_bytes": config.max_body_bytes}, "max_body_bytes")
    return limits


def limits_of(config: MockConfig) -> Limits:
    """The bounds a configuration gives (``Limits``' defaults, world.yaml's ``limits:``, the config's own)."""
    world_file = config.world_file or Path(config.scenarios_dir) / WORLD_FILE_NAME
    return _limits(Seed.load(world_file, left_out=[]), str(world_file), config)
