"""Consumer coverage: which operations, documented statuses and scenarios a client's requests made the
mock answer, and which documented statuses they never did. One shape wherever it is shown (the admin
API, ``MockServer.coverage``, the pytest plugin's report)::

    {"operations": {"<operationId>": {"seen": {"<status>": count}, "never": ["<documented status>", ...],
                                      "scenarios": ["<scenario that answered>", ...]}},
     "responses_documented": N, "responses_seen": M}

``responses_documented`` counts every (operation, documented status) of the contract; ``responses_seen``
those answered at least once. Statuses the operation does not document are in ``seen`` but in neither
total. Answers given by ``respond()`` (scenarios named ``respond-N``) are shown as the scenario
``respond``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable

from .document import Contract

_RESPOND = re.compile(r"respond-\d+")

Count = tuple[str, int, str | None, int]  # operation, status, scenario, how many


def scenario_shown(name: str | None) -> str | None:
    """The name coverage shows for the scenario that answered."""
    return "respond" if name and _RESPOND.fullmatch(name) else name


def counts_of(entries: Iterable[dict[str, Any]]) -> list[Count]:
    """Journal entries (as read) counted by operation, status and scenario; exchanges outside the
    contract and hang-ups (no status) count for nothing."""
    counted: Counter = Counter()
    for entry in entries:
        if entry.get("operation") and isinstance(entry.get("status"), int):
            counted[(entry["operation"], entry["status"], scenario_shown(entry.get("scenario")))] += 1
    return [(operation, status, scenario, n) for (operation, status, scenario), n in counted.items()]


def coverage_of(contract: Contract, counts: Iterable[Count]) -> dict[str, Any]:
    seen: dict[str, Counter] = {op: Counter() for op in contract.operations}
    scenarios: dict[str, set[str]] = {op: set() for op in contract.operations}
    for operation, status, scenario, n in counts:
        if operation in seen:
            seen[operation][status] += n
            if scenario:
                scenarios[operation].add(scenario)
    operations, documented, answered = {}, 0, 0
    for operation_id, operation in contract.operations.items():
        statuses = operation.statuses
        never = [status for status in statuses if not seen[operation_id][status]]
        documented += len(statuses)
        answered += len(statuses) - len(never)
        operations[operation_id] = {
            "seen": {str(status): n for status, n in sorted(seen[operation_id].items())},
            "never": [str(status) for status in never],
            "scenarios": sorted(scenarios[operation_id])}
    return {"operations": operations, "responses_documented": documented, "responses_seen": answered}


def coverage_percent(document: dict[str, Any]) -> float:
    """Documented responses seen, in percent of those documented."""
    return 100.0 * document["responses_seen"] / document["responses_documented"] if document[
        "responses_documented"] else 100.0


def coverage_table(document: dict[str, Any]) -> str:
    """The coverage as a few columns of text, a total last."""
    rows = [("operation", "statuses seen", "documented, never seen", "scenarios")]
    for operation_id, operation in document["operations"].items():
        rows.append((operation_id, " ".join(f"{s}x{n}" for s, n in operation["seen"].items()) or "-",
                     " ".join(operation["never"]) or "-", ", ".join(operation["scenarios"]) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"{document['responses_seen']} of {document['responses_documented']} documented responses "
                 f"answered ({coverage_percent(document):.1f}%)")
    return "\n".join(lines)
