"""YAML parsing for the spec, the scenarios and the world: libyaml when PyYAML was built with it
(the same documents, about eight times faster, which is most of the mock's start-up), else PyYAML's
pure-Python parser."""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, faster."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
