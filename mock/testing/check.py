"""``cloud-backup-mock check``: schemathesis (every check, valid and invalid data) against any server that
claims to implement the contract, with an answer that never passes by testing nothing.

Exit status: 0, the server keeps to the contract; 1, it breaks it (schemathesis prints each failure with
a curl line); 2, nothing could be tested: the URL does not answer, no request got a successful answer
and most were 401/403 (the credentials were refused: a hint says to pass ``--auth-token``), or
schemathesis itself could not run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 5.0
REFUSALS = {401, 403}


@dataclass
class CheckResult:
    status: int  # 0 conforms, 1 violations, 2 could not test
    message: str


def reachable(base_url: str) -> str | None:
    """None when the server answers HTTP at all; else why not, in a few words."""
    import httpx

    try:
        httpx.get(base_url, timeout=CONNECT_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


def statuses_from_har(path: Path) -> list[int]:
    try:
        log = json.loads(path.read_text(encoding="utf-8"))["log"]
    except (OSError, ValueError, KeyError):
        return []
    return [entry["response"]["status"] for entry in log.get("entries", []) if entry.get("response")]


def run_check(spec_file: Path, base_url: str, max_examples: int, operation_ids: list[str], auth_token: str | None,
              seed: int | None, junit_xml: Path | None, color: bool) -> CheckResult:
    if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
        return CheckResult(2, f"{base_url!r} is not a URL (e.g. http://127.0.0.1:8080)")
    problem = reachable(base_url)
    if problem:
        return CheckResult(2, f"cannot reach {base_url} ({problem}): nothing was tested")
    with tempfile.TemporaryDirectory() as scratch:  # schemathesis writes its caches in the working directory
        har = Path(scratch) / "exchanges.har"
        command = [sys.executable, "-m", "schemathesis.cli", "run", str(Path(spec_file).resolve()), "--url", base_url,
                   "--checks", "all", "--mode", "all", "--max-examples", str(max_examples),
                   "--generation-database", "none", "--report", "har" + (",junit" if junit_xml else ""),
                   "--report-har-path", str(har)]
        if junit_xml:
            command += ["--report-junit-path", str(Path(junit_xml).resolve())]
        if not color:
            command.append("--no-color")
        for operation_id in operation_ids:
            command += ["--include-operation-id", operation_id]
        if operation_ids:
            # Links between chosen and left-out operations cannot be followed: no stateful phase then.
            command += ["--phases", "examples,coverage,fuzzing"]
        if auth_token:
            command += ["--header", f"X-Auth-Token: {auth_token}"]
        if seed is not None:
            command += ["--seed", str(seed)]
        completed = subprocess.run(command, cwd=scratch)
        statuses = statuses_from_har(har)
    refused = sum(status in REFUSALS for status in statuses)
    if statuses and not any(200 <= status < 300 for status in statuses) and refused * 2 >= len(statuses):
        # Not one request got through: what was tested is authentication (and the HTTP layer), not the API.
        hint = ("pass --auth-token TOKEN (for this mock, the docs' 0f6e9f63600142f0a970911583522217)"
                if not auth_token else "the token given with --auth-token was refused")
        return CheckResult(2, f"none of the {len(statuses)} answers from {base_url} was a success and {refused} were "
                              f"401 or 403, so nothing but authentication was tested: {hint}")
    if completed.returncode == 0:
        return CheckResult(0, f"{base_url} keeps to {spec_file} ({len(statuses)} requests).")
    if completed.returncode == 1:
        return CheckResult(1, f"{base_url} breaks the contract: see the failures above (each with a curl line).")
    return CheckResult(2, f"schemathesis could not test {base_url} (exit {completed.returncode}): see above")
