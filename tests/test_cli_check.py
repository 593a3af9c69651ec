"""``cloud-backup-mock check``: schemathesis against any server that claims to implement the contract."""

import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloud_backup_mock.http.server import BackgroundServer
from cloud_backup_mock.testing import DOCS_TOKEN

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


def test_check_passes_against_the_mock(cloud_backup_mock_server):
    result = run_check(cloud_backup_mock_server.url, "--auth-token", DOCS_TOKEN)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No issues found" in result.stdout and "Tested: 61" in result.stdout


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
    assert result.stderr.strip().splitlines()[-1].startswith("error: none of the ")
    assert "were 401 or 403, so nothing but authentication was tested: pass --auth-token TOKEN" in result.stderr


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
