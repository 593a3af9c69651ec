"""Scenario selections: ``"name;key=value, other"`` as the ``X-Mock-Scenario`` header, the admin API,
``serve --scenario`` and ``use()`` write them, checked against the loaded scenarios."""

from __future__ import annotations

from typing import Any

from .request import RequestError
from .scenarios import Scenario

Selection = tuple[str, dict[str, Any]]


def parse_selection(value: str, scenarios: dict[str, Scenario]) -> list[Selection]:
    """``"name;key=value, other"`` -> ``[("name", {"key": "value"}), ("other", {})]``; a
    :class:`RequestError` names every problem."""
    selected: list[Selection] = []
    problems: list[str] = []
    invalid = False  # the first problem is a value that does not fit, not an unknown name
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, *pairs = (p.strip() for p in item.split(";"))
        params: dict[str, Any] = {}
        if name not in scenarios:
            problems.append(f"unknown scenario {name!r}")
            continue
        declared = scenarios[name].declared
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep or not key.strip():
                problems.append(f"scenario {name!r}: parameter {pair[:80]!r} is not key=value")
            elif key.strip() not in declared:
                known = ", ".join(declared) or "none"
                problems.append(f"scenario {name!r} has no parameter {key.strip()[:80]!r} (parameters: {known})")
            else:
                try:
                    params[key.strip()] = declared[key.strip()].check(raw.strip())
                except ValueError as exc:
                    problems.append(f"scenario {name!r}: {exc}")
                    invalid = invalid or len(problems) == 1
        selected.append((name, params))
    if problems:
        known = ", ".join(sorted(scenarios))
        kind = "Invalid" if invalid else "Unknown"
        raise RequestError(f"{kind} scenario selection: {problems[0]}. Known scenarios: {known}.",
                           problems + [f"known scenarios: {known}"])
    return selected


def format_selection(selection: Selection) -> str:
    name, params = selection
    return ";".join([name] + [f"{k}={v}" for k, v in params.items()])
