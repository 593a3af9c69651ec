"""What a mock is started with: one dataclass, shared by ``serve``, ``MockServer`` and the pytest plugin.

Imports nothing heavy: the pytest plugin loads it with every test session of a user's project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .shipped import SCENARIOS_DIR, SPEC_FILE

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
CONFIG_ENVIRONMENT_VARIABLE = "CLOUD_BACKUP_MOCK_CONFIG"  # a MockConfig as JSON, for `serve --workers` workers
_PATHS = ("spec_file", "scenarios_dir", "world_file")


@dataclass
class MockConfig:
    spec_file: Path = SPEC_FILE
    scenarios_dir: Path = SCENARIOS_DIR
    scenario_files: list[Path] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    log_format: str | None = None  # None: no request log; "text" or "json"
    world_file: Path | None = None  # default: scenarios_dir / world.yaml
    settings: dict[str, Any] = field(default_factory=dict)  # overrides of world.yaml's settings
    journal_size: int = 1000  # requests kept in the journal (oldest dropped first)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    admin_token: str | None = None  # when set, the admin API needs it as X-Admin-Token

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
