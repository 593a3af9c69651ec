"""What the CLI prints, as a user sees it: snapshots (paths and ports normalised to {repo}, {tmp}, {port})."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_backup_mock import __version__
from cloud_backup_mock.contract import Contract

from serve_banner import serve_banner

REPO = Path(__file__).resolve().parent.parent


def run(*args, cwd=REPO, timeout=60):
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", *args], capture_output=True, text=True,
                            timeout=timeout, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


def normalised(text: str, **values: str) -> str:
    for name, value in values.items():
        text = text.replace(value, "{" + name + "}")
    return text.replace(str(REPO), "{repo}")


def test_version():
    assert run("--version")[:2] == (0, f"cloud-backup-mock, version {__version__}\n")


def test_lint_text_and_json():
    code, out, err = run("lint")
    assert (code, normalised(out), err) == (0, "13 scenarios in {repo}/scenarios keep to {repo}/spec/openapi.yaml (the "
                                                 "checkout at {repo}, found from the current directory; DIR and --spec "
                                                 "choose others).\n", "")
    code, out, _ = run("lint", "--format", "json")
    assert code == 0 and json.loads(out) == {
        "ok": True, "directory": str(REPO / "scenarios"), "spec": str(REPO / "spec" / "openapi.yaml"),
        "scenarios": ["agent-never-picks-up", "backup-fails-partway", "connection-dropped", "credentials-rejected",
                      "default", "encryption-disabled", "fingerprint-conflict", "password-invalid", "restore-conflict",
                      "server-error", "slow", "upstream-unavailable", "verification-pending"], "problems": []}


def test_lint_problems_text_and_json(tmp_path):
    (tmp_path / "default.yaml").write_text("name: default\ndescription: d\nrules:\n  - {operation: getAgnet, response: {status: 200}}\n")
    code, out, err = run("lint", str(tmp_path))
    known = ", ".join([*sorted(Contract.load().operations), "*"])
    assert (code, out, normalised(err, tmp=str(tmp_path))) == (1, "", (
        f"{{tmp}}/default.yaml:4: rules[0].operation: unknown operation 'getAgnet' (did you mean 'getAgent'?); known: {known}\n"
        "1 problem(s) in {tmp} against {repo}/spec/openapi.yaml (the checkout at {repo}, found from the current "
        "directory; DIR and --spec choose others)\n"))
    code, out, _ = run("lint", str(tmp_path), "--format", "json")
    assert code == 1 and json.loads(out)["problems"] == [
        f"{tmp_path}/default.yaml:4: rules[0].operation: unknown operation 'getAgnet' (did you mean 'getAgent'?); known: {known}"]


def test_serve_banner_names_the_bound_port_and_a_port_in_use_says_so():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run("serve", "--port", str(port))
    assert (code, out, err) == (2, "", f"error: cannot listen on 127.0.0.1:{port}: Address already in use; pick "
                                       "another with --port, or --port 0 for a free one\n")
    banner = serve_banner(REPO)
    port = banner.split("http://127.0.0.1:")[1].split(" ")[0]
    assert port != "0" and port.isdigit()
    assert normalised(banner, port=port) == (
        "cloud-backup-mock on http://127.0.0.1:{port} (13 scenarios from {repo}/scenarios; contract {repo}/spec/openapi.yaml; active: default world; state: memory); "
        "Swagger UI at http://127.0.0.1:{port}/ui/, admin API at http://127.0.0.1:{port}/__mock/ui/\n")


def test_serve_log_as_json_lines_uvicorns_included(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "cloud_backup_mock", "serve", "--port", "0", "--log-format", "json"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        banner = json.loads(process.stderr.readline())
        assert banner["logger"] == "cloud_backup_mock" and banner["message"].startswith("cloud-backup-mock on ")
        url = banner["message"].split(" on ")[1].split(" ")[0]
        import httpx
        import time

        for _ in range(100):
            try:
                httpx.get(f"{url}/v2/110011/agents/8f135b4f-7a69-4b8a-947f-5e80d772fd97",
                          headers={"X-Auth-Token": "0f6e9f63600142f0a970911583522217"})
                break
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)
    lines = process.stderr.read().splitlines()
    process.stderr.close()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r.get("logger", "").startswith("uvicorn") and "startup complete" in r.get("message", "") for r in records)
    request = next(r for r in records if r.get("operation") == "getAgent")
    assert (request["status"], request["scenario"], request["project"]) == (200, "default", "110011")
