"""Each shipped scenario, and the ways of choosing one, over real HTTP."""

import time

import httpx
import pytest

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN, MockServer
from test_default_world import CONTRACT, NOT_ENCRYPTED, docs_request, register

AGENT_URL = f"/v2/110011/agents/{DOCS_AGENT}"
SHIPPED = ["agent-never-picks-up", "backup-fails-partway", "connection-dropped", "credentials-rejected", "default",
           "encryption-disabled", "fingerprint-conflict", "password-invalid", "restore-conflict", "server-error", "slow",
           "upstream-unavailable", "verification-pending"]


def test_fingerprint_conflict(client, mock):
    mock.use("fingerprint-conflict")
    response = docs_request(client, "authenticateAgent")
    assert response.status_code == 409 and "fingerprint" in response.json()["message"]


def test_upstream_unavailable_fails_twice_then_recovers(client, mock):
    mock.use("upstream-unavailable")
    first, second, third = (docs_request(client, "authenticateAgent") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["retry-after"] == "1" and "retry after 1 seconds" in first.json()["message"]


def test_upstream_unavailable_failures_and_retry_after_are_parameters(client, mock):
    mock.use("upstream-unavailable;failures=3;retry_after=7")
    codes = [client.get(AGENT_URL) for _ in range(4)]
    assert [r.status_code for r in codes] == [503, 503, 503, 200]
    assert codes[0].headers["retry-after"] == "7"


def test_encryption_disabled_is_the_documented_403(client, mock):
    mock.use("encryption-disabled")
    response = docs_request(client, "requestVaultPasswordVerification")
    assert response.status_code == 403 and response.json() == NOT_ENCRYPTED


def test_credentials_rejected(client, mock):
    mock.use("credentials-rejected")
    response = docs_request(client, "authenticateAgent")
    assert response.status_code == 401 and response.json() == {"message": "The provided credentials were rejected."}


def test_verification_pending_stays_404_even_after_a_report(client, mock):
    mock.use("verification-pending")
    location = docs_request(client, "requestVaultPasswordVerification").headers["location"]
    assert client.post(location, json={"verified": True}).status_code == 204
    assert client.get(location).status_code == 404


def test_password_invalid(client, mock):
    mock.use("password-invalid")
    response = docs_request(client, "getVaultPasswordVerification")
    assert response.status_code == 200
    assert response.json() == {**CONTRACT.operation("getVaultPasswordVerification").response_example(200), "valid": False}


def test_server_error(client, mock):
    mock.use("server-error")
    response = client.get(AGENT_URL)
    assert response.status_code == 500 and response.json()["message"] == "Internal server error (scenario server-error)."


def test_slow_waits_then_answers_normally(client, mock):
    mock.use("slow;seconds=0.3")
    started = time.monotonic()
    response = client.get(AGENT_URL)
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.get(AGENT_URL, timeout=0.05)


def test_connection_dropped(client, mock):
    mock.use("connection-dropped")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(AGENT_URL)
    mock.use()
    assert client.get(AGENT_URL).status_code == 200  # the server is fine


def test_header_selects_scenarios_for_one_request(client):
    assert client.get(AGENT_URL, headers={"X-Mock-Scenario": "server-error"}).status_code == 500
    assert client.get(AGENT_URL).status_code == 200
    both = client.get(AGENT_URL, headers={"X-Mock-Scenario": "upstream-unavailable;failures=1, server-error"})
    assert both.status_code == 503


def test_unknown_scenario_in_header_is_400_listing_the_known(client):
    response = client.get(AGENT_URL, headers={"X-Mock-Scenario": "nope"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("Unknown scenario selection: unknown scenario 'nope'.")
    assert body["errors"][-1] == "known scenarios: " + ", ".join(SHIPPED)


def test_prefer_code_returns_the_documented_example(client):
    response = client.post(f"{AGENT_URL}/vault-password-verification-requests", headers={"Prefer": "code=403"},
                           json={"encrypted_password_hex": "ab", "agent_id": None})
    assert response.status_code == 403 and response.json() == NOT_ENCRYPTED
    unavailable = client.get(AGENT_URL, headers={"Prefer": "code=503"})
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "1"
    assert unavailable.json() == {"message": "Service Unavailable.", "errors": []}
    example = client.get(AGENT_URL, headers={"Prefer": "code=200, example=default"})
    assert example.json() == CONTRACT.operation("getAgent").response_example(200)


@pytest.mark.parametrize("prefer,message", [
    ("code=418", "Prefer: code=418 is not documented for getAgent."),
    ("code=200, example=nope", "Prefer: example=nope is not documented for getAgent 200."),
    ("code", "Malformed Prefer header 'code'."),
])
def test_bad_prefer_is_400(client, prefer, message):
    response = client.get(AGENT_URL, headers={"Prefer": prefer})
    assert response.status_code == 400 and response.json()["message"] == message


def test_admin_api_per_project(client):
    scenarios = client.get("/__mock/scenarios").json()["scenarios"]
    assert [s["name"] for s in scenarios] == SHIPPED
    assert next(s for s in scenarios if s["name"] == "upstream-unavailable")["parameters"] == {"failures": 2, "retry_after": 1}
    put = client.put("/__mock/projects/110011/scenarios", json={"active": ["server-error"]})
    assert put.status_code == 200 and put.json() == {"project_id": "110011", "active": ["server-error"]}
    assert client.get(AGENT_URL).status_code == 500
    assert client.get(f"/v2/other/agents/{DOCS_AGENT}").status_code == 200
    assert client.get("/__mock/projects/110011/scenarios").json()["active"] == ["server-error"]
    assert client.put("/__mock/projects/110011/scenarios", json={"active": []}).json()["active"] == []
    assert client.get(AGENT_URL).status_code == 200


def test_admin_api_refuses_unknown_names_and_bad_bodies(client):
    unknown = client.put("/__mock/projects/110011/scenarios", json={"active": ["server-error", "nope"]})
    assert unknown.status_code == 400 and "known scenarios: " in unknown.json()["errors"][-1]
    bad = client.put("/__mock/projects/110011/scenarios", json={"activ": []})
    assert bad.status_code == 400 and set(bad.json()) == {"message", "errors"}
    assert client.get("/__mock/projects/110011/scenarios").json()["active"] == []


def test_admin_reset(client):
    agent = register(client).json()
    other = register(client, project="other").json()
    client.put("/__mock/projects/110011/scenarios", json={"active": ["server-error"]})
    assert client.post("/__mock/reset", params={"project_id": "110011"}).json() == {"reset": "110011"}
    assert client.get(f"/v2/110011/agents/{agent['id']}").status_code == 404
    assert client.get(f"/v2/other/agents/{other['id']}").status_code == 200
    assert client.post("/__mock/reset").json() == {"reset": "all"}
    assert client.get(f"/v2/other/agents/{other['id']}").status_code == 404


def test_scenarios_activated_at_start_up_apply_to_every_project():
    with MockServer(MockConfig(active=["encryption-disabled"])) as server:
        with httpx.Client(base_url=server.url, headers={"X-Auth-Token": DOCS_TOKEN}) as c:
            for project in ("110011", "another"):
                response = c.post(f"/v2/{project}/agents/{DOCS_AGENT}/vault-password-verification-requests",
                                  json={"encrypted_password_hex": "ab", "agent_id": None})
                assert response.status_code == 403 and response.json() == NOT_ENCRYPTED


@pytest.mark.parametrize("operation_id", ["startBackup", "listActivities", "updateConfiguration", "ping"])
def test_the_generic_scenarios_and_prefer_answer_every_operation(client, operation_id):
    operation = CONTRACT.operation(operation_id)
    for scenario, status in (("server-error", 500), ("upstream-unavailable", 503)):
        answer = docs_request(client, operation_id, headers={"X-Mock-Scenario": scenario})
        assert answer.status_code == status and set(answer.json()) <= {"message", "errors"}, (scenario, answer.text)
    refused = docs_request(client, operation_id, headers={"Prefer": "code=404"})
    assert refused.status_code == 404 and "message" in refused.json()
    assert 404 in operation.statuses
