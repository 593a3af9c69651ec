"""What a mock is started with: one dataclass, shared by ``serve``, ``MockServer`` and the pytest plugin.

Imports nothing heavy: the pytest plugin loads it with every test session of a user's project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .shipped import SCENARIOS_DIR, SPEC_FILE

CONFIG_ENVIRONMENT_VARIABLE = "CLOUD_BACKUP_MOCK_CONFIG"  # a MockConfig as JSON, for `serve --workers` workers
_PATHS = ("spec_file", "scenarios_dir", "world_file")
_SHARES = {"address_share": "a fraction of max_connections"}  # limits that are fractions: at most 1


@dataclass
class Limits:
    """Every bound the server keeps on what clients can make it hold, with its default: the one place
    they are defined. ``world.yaml``'s ``limits:`` section and ``serve --limit NAME=VALUE`` change them;
    the world's own per-project bounds (tokens, vault requests, agents, field size) are world settings."""

    max_projects: int = 10_000  # projects with state; the least recently used is forgotten first
    max_body_bytes: int = 1024 * 1024  # larger request bodies: 413
    max_header_bytes: int = 16 * 1024  # request line and headers together; beyond: 431
    max_connections: int = 1000  # open connections; beyond: 503 with Retry-After, then closed
    address_share: float = 0.5  # of max_connections, the most one client address may hold open; beyond: 503
    max_bodies_bytes: int = 64 * 1024 * 1024  # request bodies being received, all connections together; beyond: 503
    idle_timeout: float = 5.0  # seconds a connection may wait between requests (or before its first)
    header_timeout: float = 10.0  # seconds to send a request's line and headers once begun: else 408
    body_timeout: float = 10.0  # seconds to send a request's body: else 408
    shutdown_timeout: float = 3.0  # seconds SIGTERM waits for requests in flight
    journal_entries: int = 1000  # requests kept in the journal, all projects together
    journal_bytes: int = 16 * 1024 * 1024  # their size, all projects together
    journal_body_bytes: int = 64 * 1024  # of one request's body, kept in the journal (the rest is cut, and marked)
    journal_page_bytes: int = 1024 * 1024  # one page of GET /__mock/requests, as JSON (a larger entry comes alone)
    max_added_scenarios: int = 100  # per project, added at run time (admin API, respond()); one more: 400
    max_added_scenarios_total: int = 1000  # all projects together
    max_scenario_bytes: int = 64 * 1024  # one added scenario document, as JSON
    max_counters: int = 1000  # `times` counts kept per project (one per scenario rule and parameter values)
    store_timeout: float = 1.0  # seconds a shared store (Redis) may take to answer; beyond: 503 with Retry-After

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.__dataclass_fields__)

    def replace(self, changes: dict[str, Any], source: str) -> "Limits":
        """A copy with ``changes`` (name -> value, numbers or numeric strings); names and values checked."""
        values = dict(self.__dict__)
        for name, raw in (changes or {}).items():
            if name not in values:
                raise ValueError(f"{source}: unknown limit {name!r}; known: {', '.join(self.names())}")
            kind = type(values[name])
            try:
                value = kind(raw) if not isinstance(raw, bool) else None
            except (TypeError, ValueError):
                value = None
            if value is None or value != value or value <= 0 or value == float("inf"):
                raise ValueError(f"{source}: limit {name} must be a positive {kind.__name__}, not {raw!r}")
            if name in _SHARES and value > 1:
                raise ValueError(f"{source}: limit {name} must be a share from 0 to 1 ({_SHARES[name]}), not {raw!r}")
            values[name] = value
        return Limits(**values)


@dataclass
class MockConfig:
    spec_file: Path = SPEC_FILE
    scenarios_dir: Path = SCENARIOS_DIR
    scenario_files: list[Path] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    log_format: str | None = None  # None: no request log; "text" or "json"
    world_file: Path | None = None  # default: scenarios_dir / world.yaml
    settings: dict[str, Any] = field(default_factory=dict)  # overrides of world.yaml's settings
    limits: dict[str, Any] = field(default_factory=dict)  # overrides of world.yaml's limits (Limits' names)
    journal_size: int | None = None  # same as limits["journal_entries"]
    max_body_bytes: int | None = None  # same as limits["max_body_bytes"]
    admin_token: str | None = None  # when set, the admin API needs it as X-Admin-Token
    journal_mask: list[str] = field(default_factory=list)  # more header names and body fields to mask
    state: str = "memory"  # where projects' state and the journal are kept: "memory" or "redis://HOST:PORT/DB"

    def to_json(self) -> str:
        data = {k: (None if v is None else str(v)) if k in _PATHS else v for k, v in self.__dict__.items()}
        data["scenario_files"] = [str(p) for p in self.scenario_files]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "MockConfig":
        data = json.loads(text)
        for key in _PATHS:
            if data.get(key) is not None:
                data[key] = Path(data[key])
        data["scenario_files"] = [Path(p) for p in data.get("scenario_files", [])]
        return cls(**data)
