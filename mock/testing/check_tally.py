"""What a ``check`` run really tested, per operation, counted from schemathesis's VCR cassettes against the
contract: each recorded request is matched to its operation by the contract's route index.

An operation is *tested* when at least one valid (positively generated) request to it was answered with a
success status the operation documents; otherwise it is *untested*, with the likely cause read from what
its valid requests were answered.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from ..contract import Contract
from ..yaml_files import YAMLError, load_yaml
from . import DOCS_TOKEN

REFUSALS = (401, 403)
FAILURES_KEPT = 5  # distinct failed checks kept per operation, for the reports


class CassetteError(ValueError):
    """schemathesis's cassette cannot be read."""


@dataclass
class OperationTally:
    operation_id: str
    documented: list[int]
    requests: int = 0
    valid: int = 0  # positively generated requests
    successes: int = 0  # valid requests answered with a documented 2xx
    stateful: int = 0  # requests made by the stateful phase (following the contract's links)
    unanswered: int = 0  # requests that got no answer at all
    seen: Counter = field(default_factory=Counter)  # status -> requests answered so
    valid_seen: Counter = field(default_factory=Counter)  # the same, for valid requests only
    failures: list[str] = field(default_factory=list)  # "check: message", distinct
    allowed: bool = False  # accepted untested with --allow-untested

    @property
    def never(self) -> list[int]:
        return [status for status in self.documented if status not in self.seen]

    def reason(self, auth_token: str | None) -> str | None:
        """None when tested; else why not, with what would fix it where the answers say."""
        if self.successes:
            return None
        if not self.requests:
            return "no request was made to it (see schemathesis's errors above)"
        if not self.valid:
            return "no valid request was generated for it"
        answered = sum(self.valid_seen.values())
        if not answered:
            return "not reachable: no valid request got an answer"
        refused = sum(self.valid_seen[status] for status in REFUSALS)
        if refused * 2 >= answered:
            if auth_token:
                return "credentials refused (401/403): the token given with --auth-token was refused"
            return f"credentials refused (401/403): pass --auth-token TOKEN (for this mock, the docs' {DOCS_TOKEN})"
        if set(self.valid_seen) == {404}:
            return "only 404: the server knows none of the ids tried, or does not implement the operation"
        if set(self.valid_seen) == {405}:
            return "only 405: the server does not have this method on this path"
        if all(status >= 500 for status in self.valid_seen):
            return "only server errors (5xx)"
        shown = ", ".join(f"{status} x{count}" for status, count in sorted(self.valid_seen.items()))
        return f"no valid request got a documented success (answered {shown})"

    def as_json(self, auth_token: str | None) -> dict[str, Any]:
        reason = self.reason(auth_token)
        return {"tested": reason is None, "reason": reason, "allowed_untested": self.allowed and reason is not None,
                "requests": self.requests, "valid_requests": self.valid, "successes": self.successes,
                "stateful_requests": self.stateful, "unanswered": self.unanswered,
                "seen": {str(status): count for status, count in sorted(self.seen.items())},
                "never": [str(status) for status in self.never], "failures": self.failures}


@dataclass
class Tally:
    operations: dict[str, OperationTally]
    outside: int = 0  # requests that reach no operation (other methods, paths outside the contract)
    links: tuple[int, int] | None = None  # stateful phase: API links covered, selected

    def untested(self, auth_token: str | None) -> dict[str, str]:
        """Untested operations not accepted with --allow-untested, and why."""
        found = {}
        for operation_id, tally in self.operations.items():
            reason = tally.reason(auth_token)
            if reason is not None and not tally.allowed:
                found[operation_id] = reason
        return found

    def as_json(self, auth_token: str | None) -> dict[str, Any]:
        return {"operations": {op: t.as_json(auth_token) for op, t in self.operations.items()},
                "outside_operations": self.outside,
                "links": None if self.links is None else {"covered": self.links[0], "selected": self.links[1]}}


def tally_cassette(cassettes: list[Path], contract: Contract, base_url: str, operation_ids: list[str],
                   allowed: list[str]) -> Tally:
    """Count the interactions of VCR cassettes per operation (``operation_ids``: the ones checked)."""
    operations = {op: OperationTally(op, contract.operations[op].statuses, allowed=op in allowed)
                  for op in (operation_ids or contract.operations)}
    tally = Tally(operations)
    for cassette in cassettes:
        if cassette.is_file():  # else schemathesis stopped before it made a request
            _tally_one(tally, cassette, contract, base_url)
    return tally


def _tally_one(tally: Tally, cassette: Path, contract: Contract, base_url: str) -> None:
    operations = tally.operations
    try:
        document = load_yaml(cassette.read_text(encoding="utf-8", errors="replace")) or {}
    except (OSError, YAMLError) as exc:
        raise CassetteError(f"cannot read the requests schemathesis recorded ({exc}): nothing could be counted") \
            from None
    prefix = urlsplit(base_url).path.rstrip("/")
    for interaction in document.get("http_interactions") or []:
        request = interaction.get("request") or {}
        raw_path = urlsplit(str(request.get("uri", ""))).path
        if prefix and raw_path.startswith(prefix):
            raw_path = raw_path[len(prefix):]
        match = contract.routes.match(str(request.get("method", "")).upper(), unquote(raw_path), raw_path)
        operation = operations.get(match.operation_id) if match.found else None
        if operation is None:
            tally.outside += 1
            continue
        _count(operation, interaction)


def _count(operation: OperationTally, interaction: dict[str, Any]) -> None:
    operation.requests += 1
    valid = ((interaction.get("generation") or {}).get("mode")) == "positive"
    operation.valid += valid
    operation.stateful += ((interaction.get("phase") or {}).get("name")) == "stateful"
    response = interaction.get("response")
    if not response:
        operation.unanswered += 1
        return
    status = int(response["status"]["code"])
    operation.seen[status] += 1
    if valid:
        operation.valid_seen[status] += 1
        operation.successes += 200 <= status < 300 and status in operation.documented
    for check in interaction.get("checks") or []:
        if check.get("status") == "FAILURE":
            message = " ".join(str(check.get("message") or "").split())
            failure = f"{check.get('name')}: {message}" if message else str(check.get("name"))
            if failure not in operation.failures and len(operation.failures) < FAILURES_KEPT:
                operation.failures.append(failure)


def table(tally: Tally, auth_token: str | None) -> str:
    """The per-operation table ``check`` prints after schemathesis's own output."""
    rows = [("operation", "requests", "valid", "successes", "statuses seen", "documented, never seen", "verdict")]
    for operation_id, operation in tally.operations.items():
        reason = operation.reason(auth_token)
        verdict = ("tested" if reason is None else "untested, allowed" if operation.allowed else "UNTESTED")
        if operation.failures:
            verdict += f", {len(operation.failures)} failed check(s)"
        seen = " ".join(f"{status}x{count}" for status, count in sorted(operation.seen.items())) or "-"
        rows.append((operation_id, str(operation.requests), str(operation.valid), str(operation.successes), seen,
                     " ".join(map(str, operation.never)) or "-", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) if i in (0, 4, 5, 6) else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in rows]
    for operation_id, operation in tally.operations.items():
        reason = operation.reason(auth_token)
        if reason is not None:
            lines.append(f"{operation_id}: untested: {reason}")
    if tally.links is not None:
        lines.append(f"stateful phase: {tally.links[0]} of {tally.links[1]} API links covered")
    return "\n".join(lines)


def write_report(path: Path, tally: Tally, auth_token: str | None, base_url: str, status: int) -> None:
    document = {"base_url": base_url, "exit_status": status, **tally.as_json(auth_token)}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, tally: Tally, auth_token: str | None, base_url: str) -> None:
    """One test case per operation: a failure when it is untested (not allowed) or a check failed on it;
    skipped when it is untested and allowed."""
    suite = ElementTree.Element("testsuite", name="cloud-backup-mock check", hostname=base_url)
    failed = skipped = 0
    for operation_id, operation in tally.operations.items():
        case = ElementTree.SubElement(suite, "testcase", classname="cloud-backup-mock check", name=operation_id)
        reason = operation.reason(auth_token)
        problems = [f"untested: {reason}"] if reason is not None and not operation.allowed else []
        problems += operation.failures
        if problems:
            failed += 1
            element = ElementTree.SubElement(case, "failure", message=problems[0])
            element.text = "\n".join(problems)
        elif reason is not None:
            skipped += 1
            ElementTree.SubElement(case, "skipped", message=f"untested, allowed: {reason}")
    suite.set("tests", str(len(tally.operations)))
    suite.set("failures", str(failed))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
