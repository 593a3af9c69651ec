"""``cloud-backup-mock check``: schemathesis (every check, valid and invalid data) against any server that
claims to implement the contract, with an answer that never passes by testing nothing.

Exit status: 0, the server keeps to the contract and every operation was tested; 1, it breaks the contract
(schemathesis prints each failure with a curl line); 2, something could not be tested: the URL does not
answer, an operation never got a documented success for a valid request (and was not accepted with
``--allow-untested``), or schemathesis itself could not run. What each operation got is counted from
schemathesis's VCR cassettes (``check_tally.py``) and printed as a table after its output.

The server is stateful, so the order of operations matters: a delete run early leaves the operations after it
only 404s. schemathesis runs in rounds: every operation but the deletes (with the stateful phase, which follows
the links it learned from the other phases' answers), then each delete on its own, the deepest paths first (a
log file before its agent).

schemathesis's output is passed through with the hints that would mislead here left out: tips naming
options this command does not have or schemathesis's config file, schemathesis's own commands (``st
replay`` needs files this command does not keep) and report files that are deleted when the command ends.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from ..contract import Contract
from .check_tally import CassetteError, Tally, table, tally_cassette, write_junit, write_report

CONNECT_TIMEOUT = 5.0
OUR_OPTIONS = {"--base-url", "--max-examples", "--include-operation-id", "--auth-token", "--seed", "--junit-xml",
               "--report", "--har", "--allow-untested", "--spec"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
_CODE = re.compile(r"`([^`]*)`")
_LINKS = re.compile(r"API Links:\s+(\d+) covered / (\d+) selected")


@dataclass
class CheckResult:
    status: int  # 0 conforms, 1 violations, 2 could not test
    message: str


@dataclass
class CheckOptions:
    spec_file: Path
    base_url: str
    max_examples: int = 20
    operation_ids: tuple[str, ...] = ()
    auth_token: str | None = None
    seed: int | None = None
    junit_xml: Path | None = None
    report: Path | None = None
    har: Path | None = None
    allow_untested: tuple[str, ...] = ()
    color: bool = False


def reachable(base_url: str) -> str | None:
    """None when the server answers HTTP at all; else why not, in a few words."""
    import httpx

    try:
        httpx.get(base_url, timeout=CONNECT_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


def run_check(options: CheckOptions, contract: Contract) -> CheckResult:
    base_url = options.base_url
    if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
        return CheckResult(2, f"{base_url!r} is not a URL (e.g. http://127.0.0.1:8080)")
    problem = reachable(base_url)
    if problem:
        return CheckResult(2, f"cannot reach {base_url} ({problem}): nothing was tested")
    with tempfile.TemporaryDirectory() as scratch:  # schemathesis writes its caches in the working directory
        returncodes, cassettes, hars, links = [], [], [], None
        for number, (label, operation_ids, phases) in enumerate(rounds(options, contract), 1):
            print(f"check: round {number}: {label}", flush=True)
            cassette, har = Path(scratch) / f"exchanges-{number}.yaml", Path(scratch) / f"exchanges-{number}.har"
            returncode, found = _schemathesis(options, operation_ids, phases, cassette, har, scratch)
            returncodes.append(returncode)
            cassettes.append(cassette)
            hars.append(har)
            links = found or links
            if returncode not in (0, 1):
                break  # schemathesis could not run (or was interrupted): the next rounds would not either
        try:
            tally = tally_cassette(cassettes, contract, base_url, list(options.operation_ids),
                                   list(options.allow_untested))
        except CassetteError as exc:
            return CheckResult(2, str(exc))
        if options.har:
            held = _merge_hars(hars, Path(options.har))
            print(f"HAR: {options.har} (every request and answer of {held} of {len(hars)} rounds)" if held
                  else "HAR: none written (schemathesis recorded no exchanges)", flush=True)
    tally.links = links
    returncode = next((code for code in returncodes if code not in (0, 1)), max(returncodes, default=2))
    result = _verdict(options, tally, returncode, violations=1 in returncodes)
    print("\n" + table(tally, options.auth_token), flush=True)
    if options.report:
        write_report(options.report, tally, options.auth_token, base_url, result.status)
    if options.junit_xml:
        write_junit(options.junit_xml, tally, options.auth_token, base_url)
    return result


def _verdict(options: CheckOptions, tally: Tally, returncode: int, violations: bool) -> CheckResult:
    requests = sum(t.requests for t in tally.operations.values())
    if not requests and returncode not in (0, 1):
        return CheckResult(2, f"schemathesis could not test {options.base_url} (exit {returncode}): see above")
    untested = tally.untested(options.auth_token)
    if untested:
        by_reason: dict[str, list[str]] = {}
        for operation_id, reason in untested.items():
            by_reason.setdefault(reason, []).append(operation_id)
        causes = "; ".join(f"{', '.join(ops)}: {reason}" for reason, ops in by_reason.items())
        also = " (schemathesis also found failures, above)" if violations else ""
        return CheckResult(2, f"{len(untested)} of {len(tally.operations)} operations were not tested (no valid "
                              f"request got a documented success){also}: {causes}. Accept one with "
                              "--allow-untested OPERATION_ID")
    if returncode == 0:
        allowed = sorted(op for op, t in tally.operations.items() if t.allowed and t.reason(options.auth_token))
        tested = (f"every operation tested but {', '.join(allowed)}, accepted untested" if allowed
                  else "every operation tested")
        return CheckResult(0, f"{options.base_url} keeps to {options.spec_file} ({requests} requests; {tested}).")
    if returncode == 1:
        return CheckResult(1, f"{options.base_url} breaks the contract: see the failures above (each with a curl "
                              "line).")
    return CheckResult(2, f"schemathesis could not test {options.base_url} (exit {returncode}): see above")


STATELESS = "examples,coverage,fuzzing"


def rounds(options: CheckOptions, contract: Contract) -> list[tuple[str, list[str], str]]:
    """What each schemathesis run covers, in order: a label, its operations and its phases."""
    chosen = list(options.operation_ids) or sorted(contract.operations)
    kept = [op for op in chosen if contract.operations[op].method.upper() != "DELETE"]
    deletes = [op for op in chosen if contract.operations[op].method.upper() == "DELETE"]
    # The stateful phase follows links it learns from the earlier phases' answers, so it runs with them: never
    # with the deletes, and only when every operation is checked (links to left-out ones cannot be followed).
    phases = STATELESS + ("" if options.operation_ids else ",stateful")
    label = "the chosen operations but the deletes" if options.operation_ids else "every operation but the deletes"
    result = [(label, kept, phases)] if kept else []
    return result + [(f"delete: {op}", [op], STATELESS) for op in _delete_order(deletes, contract)]


def _delete_order(deletes: list[str], contract: Contract) -> list[str]:
    """Deepest paths first (a log file before its agent); at one depth, an item that names another kind
    (a configuration's ``agent``) before that kind's, as a server may delete what refers to what it deletes."""
    noun = {op: contract.operations[op].path.rstrip("/").rsplit("{", 1)[-1].rstrip("}").removesuffix("_id")
            for op in deletes}
    names: dict[str, set[str]] = {}
    for op in deletes:
        read = contract.read_at(contract.operations[op].path)
        names[op] = set(((read.response_schema(200) or {}) if read else {}).get("properties") or {})

    def named_by(op: str) -> int:
        return sum(1 for other in deletes if other != op and names[other] & {noun[op], f"{noun[op]}_id"})

    return sorted(deletes, key=lambda op: (-contract.operations[op].path.count("/"), named_by(op), op))


def _merge_hars(parts: list[Path], into: Path) -> int:
    """One HAR file holding every round's entries, round after round; how many rounds it holds (0: none
    wrote one, and nothing is written). A part that cannot be read (a run cut short) is left out."""
    merged: dict | None = None
    held = 0
    for part in parts:
        try:
            document = json.loads(part.read_text(encoding="utf-8"))
            entries = document["log"]["entries"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        held += 1
        if merged is None:
            merged = document
        else:
            merged["log"]["entries"].extend(entries)
    if merged is not None:
        into.write_text(json.dumps(merged, indent=2), encoding="utf-8")
    return held


def _schemathesis(options: CheckOptions, operation_ids: list[str], phases: str, cassette: Path, har: Path,
                  scratch: str) -> tuple[int, tuple[int, int] | None]:
    """Run schemathesis on ``operation_ids`` and ``phases``, its output passed through :class:`_Output`; its
    exit code and the API links the stateful phase covered (when it ran)."""
    reports = "vcr" + (",har" if options.har else "")
    command = [sys.executable, "-m", "schemathesis.cli", "run", str(Path(options.spec_file).resolve()),
               "--url", options.base_url, "--checks", "all", "--mode", "all",
               "--max-examples", str(options.max_examples), "--generation-database", "none",
               "--report", reports, "--report-vcr-path", str(cassette), "--phases", phases]
    if options.har:
        command += ["--report-har-path", str(har)]
    if not options.color:
        command.append("--no-color")
    for operation_id in operation_ids:
        command += ["--include-operation-id", operation_id]
    if options.auth_token:
        command += ["--header", f"X-Auth-Token: {options.auth_token}"]
    if options.seed is not None:
        command += ["--seed", str(options.seed)]
    output = _Output(sys.stdout, scratch)
    with subprocess.Popen(command, cwd=scratch, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                          errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.write(line)
    output.close()
    return process.returncode, output.links


class _Output:
    """schemathesis's output, line by line, without the hints that do not hold for this command."""

    def __init__(self, out: IO[str], scratch: str):
        self.out, self.scratch = out, scratch
        self.held: str | None = None  # a "Reports:" heading, shown only if a report it lists is kept
        self.links: tuple[int, int] | None = None

    def write(self, line: str) -> None:
        plain = _ANSI.sub("", line).strip()
        found = _LINKS.search(plain)
        if found:
            self.links = (int(found.group(1)), int(found.group(2)))
        if plain == "Reports:":
            self.held = line
            return
        if not self._kept(plain):
            return
        if self.held is not None:
            if plain.startswith("- "):
                self.out.write(self.held)
            self.held = None
        self.out.write(line.replace("`--url ", "`--base-url "))
        self.out.flush()

    def _kept(self, plain: str) -> bool:
        if self.scratch in plain or "st replay" in plain or "`st " in plain:
            return False  # files deleted when the command ends; commands of schemathesis's own CLI
        if plain.startswith("💡"):
            # A tip stays when everything it tells to use is this command's: its options, no config file.
            plain = plain.replace("`--url ", "`--base-url ")
            named = set(_OPTION.findall(plain)) | {span.split()[0] for span in _CODE.findall(plain) if span.split()}
            return named <= OUR_OPTIONS and "config" not in plain
        return True

    def close(self) -> None:
        self.out.flush()
