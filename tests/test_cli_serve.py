"""``cloud-backup-mock serve`` as a user runs it: a real process on a free port."""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from cloud_backup_mock.http.app import create_app
from cloud_backup_mock.shipped import SCENARIOS_DIR, SPEC_FILE
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

CLI = str(Path(sys.executable).with_name("cloud-backup-mock"))
AGENT_URL = f"/v2/110011/agents/{DOCS_AGENT}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    processes = []

    def start(*args):
        port = free_port()
        log = open(tmp_path / f"serve-{port}.log", "w+")
        process = subprocess.Popen([CLI, "serve", "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT)
        processes.append((process, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/__mock/scenarios", timeout=1)
                return url, log
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise AssertionError(f"serve did not start:\n{log.read()}")
                time.sleep(0.1)

    yield start
    for process, log in processes:
        process.terminate()
        process.wait(10)
        log.close()


def read_log(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def test_serve_with_a_scenario_and_json_log(serve):
    url, log = serve("--scenario", "upstream-unavailable;failures=1", "--log-format", "json")
    headers = {"X-Auth-Token": DOCS_TOKEN}
    assert httpx.get(url + AGENT_URL, headers=headers).status_code == 503
    assert httpx.get(url + AGENT_URL, headers=headers).status_code == 200
    time.sleep(0.2)
    records = [json.loads(line) for line in read_log(log).splitlines()]  # one JSON object per line, all of them
    lines = [r for r in records if r.get("operation") == "getAgent"]
    assert [(l["project"], l["operation"], l["scenario"], l["status"]) for l in lines] == [
        ("110011", "getAgent", "upstream-unavailable", 503), ("110011", "getAgent", "default", 200)]
    assert all(isinstance(l["ms"], float) for l in lines)


def test_serve_refuses_a_broken_scenario_folder(tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, folder)
    (folder / "bad.yaml").write_text("name: bad\ndescription: d\nrules: [{operation: nope, response: {status: 200}}]\n")
    result = subprocess.run([CLI, "serve", "--port", str(free_port()), "--scenarios", str(folder)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{folder / 'bad.yaml'}:3: rules[0].operation: unknown operation 'nope'" in result.stderr


def test_serve_lists_every_problem_of_a_scenario_file(tmp_path):
    from test_scenario_files import BROKEN, broken_problems

    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    result = subprocess.run([CLI, "serve", "--port", str(free_port()), "--scenario-file", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: cannot start the mock: " + "\n".join(broken_problems(broken)) + "\n"


def test_reload_survives_broken_edits(serve, tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, folder)
    url, log = serve("--scenarios", str(folder), "--reload")
    headers = {"X-Auth-Token": DOCS_TOKEN, "X-Mock-Scenario": "teapot"}
    assert httpx.get(url + AGENT_URL, headers=headers).status_code == 400  # unknown yet
    (folder / "teapot.yaml").write_text("name: teapot\ndescription: d\n"
                                        "rules: [{operation: getAgent, response: {status: 409, body: {message: busy}}}]\n")
    deadline = time.monotonic() + 10
    while httpx.get(url + AGENT_URL, headers=headers).status_code != 409:
        assert time.monotonic() < deadline, read_log(log)
        time.sleep(0.2)
    (folder / "teapot.yaml").write_text("name: teapot\nrules: [oops\n")
    deadline = time.monotonic() + 10
    while "keeping the last good set" not in read_log(log):
        assert time.monotonic() < deadline, read_log(log)
        time.sleep(0.2)
    assert httpx.get(url + AGENT_URL, headers=headers).status_code == 409  # last good set still answers
    assert f"{folder / 'teapot.yaml'}:" in read_log(log)


def test_admin_token_guards_the_admin_api_and_beyond_loopback_warns(serve):
    url, log = serve("--admin-token", "s3cret", "--host", "0.0.0.0")
    assert "warning: listening on 0.0.0.0" not in read_log(log)
    refused = httpx.post(url + "/__mock/reset")
    assert refused.status_code == 401 and refused.json()["message"] == "The admin API needs a valid X-Admin-Token header."
    assert httpx.post(url + "/__mock/reset", headers={"X-Admin-Token": "wrong"}).status_code == 401
    assert httpx.post(url + "/__mock/reset", headers={"X-Admin-Token": "s3cret"}).json() == {"reset": "all"}


def test_open_admin_api_beyond_loopback_warns(serve):
    url, log = serve("--host", "0.0.0.0")
    assert "warning: listening on 0.0.0.0 beyond loopback with an open admin API" in read_log(log)


def test_serve_refuses_a_spec_that_is_not_openapi(tmp_path):
    document = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    del document["paths"]["/v2/{project_id}/agents"]["post"]["responses"]["201"]["description"]
    broken = tmp_path / "openapi.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    done = subprocess.run([CLI, "serve", "--port", str(free_port()), "--spec", str(broken)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert f"{broken} is not a valid OpenAPI 3.0 document: at paths//v2/{{project_id}}/agents/post/responses/201" in done.stderr


def test_connexion_still_checks_documents_after_the_mock_added_its_own():
    from connexion.exceptions import InvalidSpecification
    from connexion.spec import Specification

    create_app()  # switches Connexion's own check off while it adds its APIs, and back on
    document = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    del document["info"]
    with pytest.raises(InvalidSpecification):
        Specification.from_dict(document)


def test_each_worker_logs_its_requests_and_nothing_else(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([CLI, "serve", "--port", str(port), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    answers = [httpx.get(f"http://127.0.0.1:{port}{AGENT_URL}", headers={"X-Auth-Token": DOCS_TOKEN})
                               for _ in range(4)]
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text()
    assert [a.status_code for a in answers] == [200] * 4
    assert text.count(f"GET {AGENT_URL} project=110011 operation=getAgent scenario=default status=200") == 4, text
    assert "Warning" not in text, text
    requests = [line for line in text.splitlines() if f"GET {AGENT_URL}" in line]
    workers = {re.search(r" INFO worker=(\d+) GET ", line).group(1) for line in requests}  # each line names its worker
    assert workers and all(int(pid) != proc.pid for pid in workers)


@pytest.mark.parametrize("args, line", [
    (["serve", "--limit", "max_projects=abc"],
     "error: cannot start the mock: limits: limit max_projects must be a positive int, not 'abc'"),
    (["serve", "--spec", "missing.yaml"], "error: cannot start the mock: missing.yaml: cannot read: No such file or directory"),
    (["lint", "--spec", "missing.yaml"], "error: missing.yaml: cannot read: No such file or directory"),
    (["check", "--base-url", "http://127.0.0.1:9", "--spec", "missing.yaml"],
     "error: missing.yaml: cannot read: No such file or directory"),
])
def test_cli_errors_are_one_line_with_their_closing_quotes(tmp_path, args, line):
    done = subprocess.run([CLI, *args, *(["--port", "0"] if args[0] == "serve" else [])], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (2, line + "\n", "")
