"""``cloud-backup-mock check``: schemathesis against any server that claims to implement the contract, and
what it really tested per operation. Every server here is a real one on a free port."""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_from_bytes
from xml.etree import ElementTree

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cloud_backup_mock.contract import Contract
from cloud_backup_mock.http.server import BackgroundServer
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

CLI = str(Path(sys.executable).with_name("cloud-backup-mock"))


def broken_agent(request):
    # Planted violation: getAgent's 200 must carry an agent; this one has a number for an id and little else.
    return JSONResponse({"id": 42})


def run_check(url, *args):
    return subprocess.run([CLI, "check", "--base-url", url, "--max-examples", "5", *args],
                          capture_output=True, text=True, timeout=600)


def test_check_finds_a_planted_violation():
    app = Starlette(routes=[Route("/v2/{project_id}/agents/{agent_id}", broken_agent)])
    with BackgroundServer(app) as server:
        result = run_check(server.url, "--include-operation-id", "getAgent", "--auth-token", DOCS_TOKEN)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "Response violates schema" in result.stdout
    assert "curl -X GET" in result.stdout
    assert "breaks the contract" in result.stderr
    assert "\x1b[" not in result.stdout


OPERATIONS = sorted(Contract.load().operations)


def junit_cases(path):
    return {case.get("name"): case for case in ElementTree.parse(path).getroot().iter("testcase")}


def test_check_passes_against_the_mock_with_the_docs_token(cloud_backup_mock_server, tmp_path):
    # The mock is stateful: the deletes run last, the deepest paths first, so every operation meets the docs'
    # records and none is accepted untested.
    report, junit, har = tmp_path / "report.json", tmp_path / "junit.xml", tmp_path / "exchanges.har"
    cloud_backup_mock_server.reset()
    result = run_check(cloud_backup_mock_server.url, "--auth-token", DOCS_TOKEN, "--report", str(report),
                       "--junit-xml", str(junit), "--har", str(har), "--seed", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    rounds = [line for line in result.stdout.splitlines() if line.startswith("check: round ")]
    assert rounds == ["check: round 1: every operation but the deletes", "check: round 2: delete: deleteLogfile",
                      "check: round 3: delete: deleteConfiguration", "check: round 4: delete: deleteAgent"]
    tested = [int(n) for n in re.findall(r"^\s*Tested: (\d+)", result.stdout, re.M)]
    assert sum(tested) == len(OPERATIONS) and "Failures:" not in result.stdout
    assert "; every operation tested)." in result.stdout
    operations = json.loads(report.read_text())["operations"]
    assert sorted(operations) == sorted(OPERATIONS)
    get_agent = operations["getAgent"]
    assert get_agent["tested"] is True and get_agent["reason"] is None
    assert get_agent["seen"]["200"] >= 1 and get_agent["requests"] == sum(get_agent["seen"].values())
    assert "200" not in get_agent["never"] and "409" in get_agent["never"]
    assert all(o["tested"] and o["successes"] >= 1 for o in operations.values())
    # The table: one row per operation, with what it got.
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0] in OPERATIONS}
    assert set(rows) == set(OPERATIONS)
    assert all(row.rstrip().endswith(" tested") for row in rows.values())
    assert f"200x{get_agent['seen']['200']}" in rows["getAgent"]
    cases = junit_cases(junit)
    assert sorted(cases) == sorted(OPERATIONS) and not any(len(case) for case in cases.values())
    # The HAR file asked for is kept, and the reports listed are those that still exist.
    assert json.loads(har.read_text())["log"]["entries"]
    assert f"HAR: {har} (every request and answer of 4 of 4 rounds)" in result.stdout and "VCR:" not in result.stdout and "st replay" not in result.stdout


def test_check_with_a_wrong_token_is_untested_and_names_the_cause(cloud_backup_mock_server, tmp_path):
    cloud_backup_mock_server.reset()  # the session's mock is stateful: an earlier check may have deleted the docs' agent
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = run_check(cloud_backup_mock_server.url, "--auth-token", "expired-staging-token", "--include-operation-id",
                       "getAgent", "--include-operation-id", "authenticateAgent", "--junit-xml", str(junit),
                       "--report", str(report))
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 operations were not tested") and "getAgent: credentials refused" in last
    assert "the token given with --auth-token was refused" in last and "--allow-untested OPERATION_ID" in last
    assert "getAgent: untested: credentials refused (401/403)" in result.stdout
    # schemathesis's own hint names options this command does not have: left out.
    assert "`--auth`" not in result.stdout and "`-H`" not in result.stdout
    operations = json.loads(report.read_text())["operations"]
    assert operations["getAgent"]["tested"] is False and operations["getAgent"]["seen"] == {
        "401": operations["getAgent"]["requests"]}
    assert operations["authenticateAgent"]["tested"] is True  # it needs no token
    cases = junit_cases(junit)
    assert cases["getAgent"].find("failure").get("message").startswith("untested: credentials refused")
    assert cases["authenticateAgent"].find("failure") is None


def test_check_accepts_an_operation_untested_when_told(cloud_backup_mock_server, tmp_path):
    junit = tmp_path / "junit.xml"
    result = run_check(cloud_backup_mock_server.url, "--auth-token", "expired-staging-token", "--include-operation-id",
                       "getAgent", "--allow-untested", "getAgent", "--junit-xml", str(junit))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "untested, allowed" in result.stdout
    assert junit_cases(junit)["getAgent"].find("skipped") is not None


def not_found(request):
    return JSONResponse({"message": "Not found", "errors": [f"{request.url.path} is not here"]}, status_code=404)


def test_check_of_a_server_that_implements_nothing_fails_and_lists_every_operation(tmp_path):
    # 404 in the API's error shape on every path and method: nothing of the API is there.
    app = Starlette(routes=[Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])
    report = tmp_path / "report.json"
    with BackgroundServer(app) as server:
        result = run_check(server.url, "--auth-token", DOCS_TOKEN, "--max-examples", "2", "--report", str(report))
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {len(OPERATIONS)} of {len(OPERATIONS)} operations were not tested") and "only 404" in last
    for operation in OPERATIONS:
        assert f"{operation}: untested: only 404" in result.stdout
        assert operation in last
    # Hints name only what this command has: no schemathesis commands, config settings or other options.
    assert "`st " not in result.stdout and "st replay" not in result.stdout
    assert "schemathesis.toml" not in result.stdout and "--config" not in result.stdout
    operations = json.loads(report.read_text())["operations"]
    assert not any(o["tested"] for o in operations.values())
    assert json.loads(report.read_text())["exit_status"] == 2


SAFE = "/%?=&;:@!$'()*+,~-._"


def test_check_through_a_proxy_that_breaks_one_answer_is_a_violation(cloud_backup_mock_server, tmp_path):
    async def forward(request):
        # The path and query as sent, bytes outside printable ASCII percent-encoded (the mock decodes them alike).
        target = quote_from_bytes(request.scope["raw_path"], safe=SAFE)
        if request.scope["query_string"]:
            target += "?" + quote_from_bytes(request.scope["query_string"], safe=SAFE)
        async with httpx.AsyncClient() as upstream:
            answer = await upstream.request(request.method, cloud_backup_mock_server.url + target,
                                            content=await request.body(),
                                            headers=[(k, v) for k, v in request.scope["headers"] if k != b"host"])
        headers = {k: v for k, v in answer.headers.items() if k not in ("content-length", "transfer-encoding")}
        if request.method == "GET" and answer.status_code == 200 and "/agents/" in request.url.path:
            body = answer.json()
            if "vault" not in request.url.path:
                body["id"] = 42  # the broken answer: getAgent's id must be a string
            return JSONResponse(body, status_code=200, headers=headers)
        return Response(answer.content, status_code=answer.status_code, headers=headers)

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])
    junit = tmp_path / "junit.xml"
    with BackgroundServer(app) as server:
        result = run_check(server.url, "--auth-token", DOCS_TOKEN, "--include-operation-id", "getAgent",
                           "--include-operation-id", "registerAgent", "--junit-xml", str(junit))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "breaks the contract" in result.stderr
    cases = junit_cases(junit)
    assert "response_schema_conformance" in cases["getAgent"].find("failure").text
    assert cases["registerAgent"].find("failure") is None


def test_check_of_one_operation_against_the_healthy_mock(cloud_backup_mock_server, tmp_path):
    report = tmp_path / "junit.xml"
    result = run_check(cloud_backup_mock_server.url, "--auth-token", DOCS_TOKEN, "--include-operation-id", "getAgent",
                       "--junit-xml", str(report))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "\x1b[" not in result.stdout  # no colour when not on a terminal
    assert "<testsuite" in report.read_text()


def test_check_without_a_token_is_could_not_test_with_a_hint(cloud_backup_mock_server):
    result = run_check(cloud_backup_mock_server.url, "--include-operation-id", "getAgent",
                       "--include-operation-id", "getVaultEncryption")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 2 operations were not tested")
    assert "getAgent, getVaultEncryption: credentials refused (401/403): pass --auth-token TOKEN" in last


def test_check_of_an_unreachable_url_says_so_quickly():
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    started = time.monotonic()
    result = run_check(f"http://127.0.0.1:{port}")
    assert result.returncode == 2 and time.monotonic() - started < 10
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach http://127.0.0.1:{port} (ConnectError")
    assert result.stdout == ""


def test_check_refuses_an_unknown_operation(cloud_backup_mock_server):
    result = run_check(cloud_backup_mock_server.url, "--include-operation-id", "getAgnet")
    assert result.returncode == 2 and "--include-operation-id 'getAgnet' is not an operation" in result.stderr
    result = run_check(cloud_backup_mock_server.url, "--allow-untested", "getAgnet")
    assert result.returncode == 2 and "--allow-untested 'getAgnet' is not an operation" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_deletes_run_last_each_alone_the_deepest_paths_first_and_referrers_before_what_they_name():
    from cloud_backup_mock.testing.check import CheckOptions, rounds

    contract = Contract.load()
    every = rounds(CheckOptions(spec_file=Path("openapi.yaml"), base_url="http://x"), contract)
    assert [(label, phases) for label, _, phases in every] == [
        ("every operation but the deletes", "examples,coverage,fuzzing,stateful"),
        ("delete: deleteLogfile", "examples,coverage,fuzzing"),
        # A configuration names its agent: a server may delete an agent's configurations with it.
        ("delete: deleteConfiguration", "examples,coverage,fuzzing"),
        ("delete: deleteAgent", "examples,coverage,fuzzing")]
    assert sorted(op for _, ops, _ in every for op in ops) == OPERATIONS
    # Operations chosen: no stateful phase (links to the others cannot be followed), still deletes last.
    chosen = rounds(CheckOptions(spec_file=Path("openapi.yaml"), base_url="http://x",
                                 operation_ids=("deleteAgent", "getAgent", "deleteLogfile")), contract)
    assert chosen == [("the chosen operations but the deletes", ["getAgent"], "examples,coverage,fuzzing"),
                      ("delete: deleteLogfile", ["deleteLogfile"], "examples,coverage,fuzzing"),
                      ("delete: deleteAgent", ["deleteAgent"], "examples,coverage,fuzzing")]
    only_deletes = rounds(CheckOptions(spec_file=Path("openapi.yaml"), base_url="http://x",
                                       operation_ids=("deleteAgent",)), contract)
    assert only_deletes == [("delete: deleteAgent", ["deleteAgent"], "examples,coverage,fuzzing")]


def test_the_rounds_hars_are_merged_and_one_cut_short_is_left_out(tmp_path):
    from cloud_backup_mock.testing.check import _merge_hars

    parts = [tmp_path / f"{n}.har" for n in range(4)]
    parts[0].write_text(json.dumps({"log": {"version": "1.2", "entries": [{"n": 1}, {"n": 2}]}}))
    parts[1].write_text('{"log": {"entries": [{"n": 3}')  # a run cut short
    parts[3].write_text(json.dumps({"log": {"version": "1.2", "entries": [{"n": 4}]}}))  # parts[2]: none written
    into = tmp_path / "all.har"
    assert _merge_hars(parts, into) == 2
    assert json.loads(into.read_text()) == {"log": {"version": "1.2", "entries": [{"n": 1}, {"n": 2}, {"n": 4}]}}
    nothing = tmp_path / "none.har"
    assert _merge_hars([parts[2]], nothing) == 0 and not nothing.exists()


def test_a_round_schemathesis_could_not_run_ends_the_rounds_and_failures_of_another_are_still_named(
        cloud_backup_mock_server, monkeypatch, capsys):
    from cloud_backup_mock.testing import check

    ran = []

    def fake(options, operation_ids, phases, cassette, har, scratch):
        ran.append(operation_ids)
        if len(ran) > 1:
            return 2, None  # round 2 cannot run
        # Round 1 got one documented success, and found a violation.
        cassette.write_text(json.dumps({"http_interactions": [{
            "request": {"uri": f"{options.base_url}/v2/110011/agents/{DOCS_AGENT}", "method": "GET"},
            "response": {"status": {"code": "200"}}, "generation": {"mode": "positive"}}]}))
        return 1, None

    monkeypatch.setattr(check, "_schemathesis", fake)
    result = check.run_check(check.CheckOptions(spec_file=Path("openapi.yaml"), base_url=cloud_backup_mock_server.url),
                             Contract.load())
    assert len(ran) == 2  # the rounds after the one that could not run were not tried
    assert result.status == 2 and "(schemathesis also found failures, above)" in result.message
