"""YAML parsing for the spec, the scenarios and the world: libyaml when PyYAML was built with it,
else PyYAML's pure-Python parser (the same documents either way)."""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, through libyaml where there is one."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
