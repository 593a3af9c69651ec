"""Verification over the journal: "this operation was called N times with this body", and when it was
not, a message that says what was expected, what was seen and the nearest requests with their
differences (as WireMock and pytest-httpserver report near misses).

``body`` matches as a subset: every key given must be there with that value (recursively; lists
element by element, of the same length); keys not given are not looked at. ``headers`` likewise, names
case-insensitive. ``status`` is the status the mock answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..contract import Contract, field_path

NEAR_MISSES = 3
MASKED = "***"


class UnknownOperation(ValueError):
    """An operation the contract does not have; names the known ones (and the closest)."""


def known_operation(contract: Contract, operation: str) -> str:
    if operation in contract.operations:
        return operation
    raise UnknownOperation(contract.unknown(operation))


@dataclass
class Verification:
    verified: bool
    matched: list[dict[str, Any]]
    message: str
    near_misses: list[dict[str, Any]] = field(default_factory=list)  # {"id", "request", "differences"}

    def as_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "matched": len(self.matched), "message": self.message,
                "near_misses": self.near_misses}


def verify(entries: list[dict[str, Any]], operation: str, count: int | None = None, status: int | None = None,
           body: Any = None, headers: dict[str, str] | None = None, hidden: frozenset[str] = frozenset()) -> Verification:
    """Check the journal ``entries`` (oldest first, as sent) for requests to ``operation`` that fit. The
    values of fields and headers named in ``hidden`` are compared but never shown."""
    expected = {"status": status, "body": body, "headers": headers}
    scored = [(differences(entry, operation, hidden=hidden, **expected), entry) for entry in entries]
    matched = [entry for problems, entry in scored if not problems]
    verified = len(matched) == count if count is not None else bool(matched)
    wanted = describe(operation, count, **expected)
    if verified:
        return Verification(True, matched, f"{wanted}: {len(matched)} matched")
    # Nearest first: the same operation before any other, then the fewest differences, then the latest.
    misses = sorted(((p, e) for p, e in scored if p),
                    key=lambda pe: (pe[1].get("operation") != operation, len(pe[0]), -pe[1]["id"]))[:NEAR_MISSES]
    near = [{"id": e["id"], "request": f"{e['method']} {e['path']} -> {e['status']}", "differences": p} for p, e in misses]
    lines = [f"expected {wanted}", f"but {len(matched)} request{'s' if len(matched) != 1 else ''} matched "
             f"(of {len(entries)} recorded)"]
    if near:
        lines.append("nearest requests:")
        for miss in near:
            lines.append(f"  #{miss['id']} {miss['request']}")
            lines.extend(f"      {difference}" for difference in miss["differences"])
    return Verification(False, matched, "\n".join(lines), near)


def describe(operation: str, count: int | None, status: int | None, body: Any, headers: dict[str, str] | None) -> str:
    parts = [f"{'exactly ' + str(count) if count is not None else 'at least 1'} request(s) to {operation}"]
    if status is not None:
        parts.append(f"answered {status}")
    if body is not None:
        parts.append(f"with a body containing {json.dumps(body, default=str)}")
    if headers:
        parts.append(f"with headers {json.dumps(headers)}")
    return " ".join(parts)


def differences(entry: dict[str, Any], operation: str, status: int | None = None, body: Any = None,
                headers: dict[str, str] | None = None, hidden: frozenset[str] = frozenset()) -> list[str]:
    """What keeps ``entry`` from matching ([] when it matches)."""
    problems = []
    if entry.get("operation") != operation:
        problems.append(f"operation: {entry.get('operation') or 'none (outside the contract)'}, not {operation}")
    if status is not None and entry.get("status") != status:
        problems.append(f"status: {entry.get('status')}, not {status}")
    if body is not None:
        problems.extend(subset_differences(body, entry.get("body"), [], hidden))
    for name, value in (headers or {}).items():
        sent = (entry.get("headers") or {}).get(name.lower())
        if sent != value:
            shown = MASKED if name.lower() in hidden else repr(sent)
            problems.append(f"header {name}: {shown}, not {value!r}")
    return problems


def subset_differences(expected: Any, actual: Any, path: list[Any], hidden: frozenset[str] = frozenset()) -> list[str]:
    """What keeps ``actual`` from containing ``expected``; values of fields named in ``hidden`` are not shown."""
    where = field_path(path)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {short_json(actual)}, not an object"]
        found = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{field_path(path + [key])}: missing, expected {short_json(value)}")
            else:
                found.extend(subset_differences(value, actual[key], path + [key], hidden))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {short_json(actual)}, expected {short_json(expected)}"]
        return [p for i, (e, a) in enumerate(zip(expected, actual)) for p in subset_differences(e, a, path + [i], hidden)]
    numbers = (isinstance(expected, (int, float)) and isinstance(actual, (int, float))
               and not isinstance(expected, bool) and not isinstance(actual, bool))  # 1 == 1.0, but true is not 1
    if expected != actual or (type(expected) is not type(actual) and not numbers):
        shown = MASKED if path and path[-1] in hidden else short_json(actual)
        return [f"{where}: {shown}, expected {short_json(expected)}"]
    return []


def short_json(value: Any, limit: int = 80) -> str:
    """A value as JSON, cut to ``limit`` characters (ending in ``...``)."""
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
