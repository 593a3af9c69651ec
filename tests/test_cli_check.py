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


def test_check_passes_against_the_mock(cloud_backup_mock_server):
    result = run_check(cloud_backup_mock_server.url, "--auth-token", DOCS_TOKEN)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No issues found" in result.stdout and "Tested: 9" in result.stdout
