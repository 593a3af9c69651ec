"""The default world over real HTTP: the docs' examples as printed, state, tokens, isolation."""

import json
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from cloud_backup_mock.contract import Contract, schema_errors
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

CONTRACT = Contract.load()
TARGET_AGENT = "8e84d320-77a9-4eb4-a39d-25878a3b9f16"
NOT_ENCRYPTED = {"message": "Encryption is not enabled for this agent's vault."}


def docs_request(client, operation_id, **changes):
    """Send an operation's example request exactly as the docs print it (but the Host header)."""
    docs = CONTRACT.operation(operation_id).docs_request
    headers = {k: v for k, v in docs["headers"].items() if k.lower() != "host"}
    headers.update(changes.pop("headers", {}))
    content = json.dumps(changes.pop("body", docs.get("body"))) if "body" in docs else None
    return client.request(docs["method"], urlsplit(docs["url"]).path, headers=headers, content=content)


def assert_contract(operation_id, response):
    """The response is one the contract documents, with a body that fits its schema."""
    op = CONTRACT.operation(operation_id)
    assert response.status_code in op.statuses
    schema = op.response_schema(response.status_code)
    if schema is not None:
        assert response.headers["content-type"] == "application/json"
        assert schema_errors(schema, response.json()) == []
    else:
        assert response.content == b""


def register(client, project="110011", **host):
    body = json.loads(json.dumps(CONTRACT.operation("registerAgent").request_example))
    body["host"].update(host)
    response = client.post(f"/v2/{project}/agents", json=body)
    assert response.status_code == 201, response.text
    return response


def authenticate(client, agent, project="110011", fingerprint="arbitrary-string-determined-by-agent"):
    body = dict(CONTRACT.operation("authenticateAgent").request_example, id=agent["id"], password=agent["password"])
    body["host"] = dict(body["host"], fingerprint=fingerprint)
    return client.post(f"/v2/{project}/agents/tokens", json=body, headers={"X-Auth-Token": ""})


def test_docs_get_agent_answers_the_documented_example(client):
    response = docs_request(client, "getAgent")
    assert response.status_code == 200
    assert response.json() == CONTRACT.operation("getAgent").response_example(200)


@pytest.mark.parametrize("operation_id", ["getVaultPasswordVerification", "getVaultEncryption"])
def test_docs_result_reads_answer_the_documented_examples(client, operation_id):
    response = docs_request(client, operation_id)
    assert response.status_code == 200
    assert response.json() == CONTRACT.operation(operation_id).response_example(200)


@pytest.mark.parametrize("operation_id", ["reportVaultPasswordVerification", "reportVaultEncryption"])
def test_docs_reports_answer_204(client, operation_id):
    response = docs_request(client, operation_id)
    assert (response.status_code, response.content) == (204, b"")


def test_docs_token_request_as_printed(client):
    response = docs_request(client, "authenticateAgent")
    assert response.status_code == 200
    assert_contract("authenticateAgent", response)
    token = response.json()["token"]
    assert uuid.UUID(token["id"]) and token["expires"].endswith("Z")
    me = client.get(f"/v2/110011/agents/{DOCS_AGENT}", headers={"X-Auth-Token": token["id"]})
    assert me.status_code == 200


def test_docs_verification_request_as_printed_is_accepted_and_location_resolves(client, mock):
    response = docs_request(client, "requestVaultPasswordVerification")
    assert response.status_code == 202 and response.content == b""
    location = response.headers["location"]
    assert location.startswith(f"{mock.url}/v2/110011/agents/{DOCS_AGENT}/vault-password-verification-requests/")
    pending = client.get(location)
    assert pending.status_code == 404
    assert pending.json()["message"].startswith("The agent has not reported")


def test_docs_register_request_as_printed(client, mock):
    response = docs_request(client, "registerAgent")
    assert response.status_code == 201
    assert_contract("registerAgent", response)
    agent = response.json()
    assert response.headers["location"] == f"{mock.url}/v2/110011/agents/{agent['id']}"
    assert (agent["name"], agent["host"]["region"], agent["vault"]["encrypted"]) == ("Web Server", "DFW", False)
    assert "fingerprint" not in agent["host"]
    fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in agent.items() if k != "password"}


def test_docs_encryption_request_meets_the_docs_encrypted_agent(client):
    # The docs show agent 8f135b4f... with an encrypted vault, and enable encryption on it with no old
    # password: by the documented rule that is a 403.
    response = docs_request(client, "requestVaultEncryption")
    assert response.status_code == 403
    assert response.json() == {"message": "No old password was supplied, but the vault is encrypted."}


@pytest.mark.in_process
def test_tokens(client, mock):
    agent = register(client).json()
    assert authenticate(client, {**agent, "password": "wrong"}).status_code == 401
    assert authenticate(client, {**agent, "id": "00000000-0000-4000-8000-000000000000"}).json()["message"] == \
        "The provided credentials were rejected."
    token = authenticate(client, agent).json()["token"]["id"]
    url = f"/v2/110011/agents/{agent['id']}"
    assert client.get(url, headers={"X-Auth-Token": token}).status_code == 200
    assert client.get(f"/v2/other/agents/{agent['id']}", headers={"X-Auth-Token": token}).status_code == 401
    unknown = client.get(url, headers={"X-Auth-Token": "not-a-token"})
    assert unknown.status_code == 401 and unknown.json()["message"] == "Missing or invalid X-Auth-Token."
    mock.configure(token_ttl_seconds=0.001)
    short = authenticate(client, agent).json()["token"]["id"]
    time.sleep(0.01)  # ten lifetimes
    assert client.get(url, headers={"X-Auth-Token": short}).status_code == 401


def test_fingerprint_mismatch_is_409(client):
    agent = register(client).json()
    response = authenticate(client, agent, fingerprint="another-host")
    assert response.status_code == 409
    assert "fingerprint does not match" in response.json()["message"]
    assert_contract("authenticateAgent", response)


def test_verification_rules(client):
    agent = register(client).json()
    base = f"/v2/110011/agents/{agent['id']}/vault-password-verification-requests"
    body = {"encrypted_password_hex": "0bff42", "agent_id": None}
    forbidden = client.post(base, json=body)
    assert forbidden.status_code == 403 and forbidden.json() == NOT_ENCRYPTED
    # agent_id null means the agent whose token calls: an agent of an encrypted vault verifies fine.
    token = authenticate(client, {"id": TARGET_AGENT, "password": "7b8f3d21-5d0c-4a53-9e2f-3c1fd4d2b6a1"},
                         fingerprint="database-server-fingerprint").json()["token"]["id"]
    accepted = client.post(base, json=body, headers={"X-Auth-Token": token})
    assert accepted.status_code == 202
    missing = client.post(base, json={**body, "agent_id": "00000000-0000-4000-8000-000000000000"})
    assert missing.status_code == 404 and "was not found" in missing.json()["message"]
    unknown_path_agent = client.post("/v2/110011/agents/00000000-0000-4000-8000-000000000000/vault-password-verification-requests",
                                     json=body)
    assert unknown_path_agent.status_code == 404


def test_full_lifecycle(client):
    """register -> authenticate -> 403 -> enable encryption -> report -> verify -> 202 -> Location 404 -> report -> 200."""
    agent = register(client).json()
    token = authenticate(client, agent).json()["token"]["id"]
    headers = {"X-Auth-Token": token, "X-Agent-Id": agent["id"]}
    base = f"/v2/110011/agents/{agent['id']}"
    verify = {"encrypted_password_hex": "0bff42 a526", "agent_id": None}
    assert client.post(f"{base}/vault-password-verification-requests", json=verify, headers=headers).status_code == 403
    enable = client.post(f"{base}/vault-encryption-requests", headers=headers,
                         json={"old_encrypted_password_hex": None, "new_encrypted_password_hex": "0bff42"})
    assert enable.status_code == 202
    encryption_url = enable.headers["location"]
    assert client.get(encryption_url, headers=headers).status_code == 404
    assert client.post(encryption_url, json={"action": "enabled", "succeeded": True}, headers=headers).status_code == 204
    result = client.get(encryption_url, headers=headers)
    assert result.status_code == 200 and result.json()["event"] == "vault_encryption_enabled"
    assert result.json()["succeeded"] is True and result.json()["agent"] == {"id": agent["id"]}
    assert client.get(base, headers=headers).json()["vault"]["encrypted"] is True
    accepted = client.post(f"{base}/vault-password-verification-requests", json=verify, headers=headers)
    assert accepted.status_code == 202
    location = accepted.headers["location"]
    request_id = location.rsplit("/", 1)[1]
    assert client.get(location, headers=headers).status_code == 404
    assert client.post(location, json={"verified": True}, headers=headers).status_code == 204
    done = client.get(location, headers=headers)
    assert done.status_code == 200
    assert_contract("getVaultPasswordVerification", done)
    assert done.json()["valid"] is True and done.json()["request_id"] == request_id
    # Changing the password is the other 403 rule's mirror: it needs the old one now.
    change = client.post(f"{base}/vault-encryption-requests", headers=headers,
                         json={"old_encrypted_password_hex": None, "new_encrypted_password_hex": "ab"})
    assert change.status_code == 403


def test_old_password_for_unencrypted_vault_is_the_documented_403(client):
    agent = register(client).json()
    response = client.post(f"/v2/110011/agents/{agent['id']}/vault-encryption-requests",
                           json={"old_encrypted_password_hex": "aa", "new_encrypted_password_hex": "bb"})
    assert response.status_code == 403
    assert response.json() == {"message": "An old password was supplied, but the vault is unencrypted."}


@pytest.mark.in_process
def test_the_mock_reports_on_the_agents_behalf_after_the_delay(client, mock):
    mock.configure(auto_report_after_seconds=0)
    response = docs_request(client, "requestVaultPasswordVerification")
    result = client.get(response.headers["location"])
    assert result.status_code == 200 and result.json()["valid"] is True


def test_projects_are_isolated(client):
    agent = register(client, project="team-a").json()
    assert client.get(f"/v2/team-a/agents/{agent['id']}").status_code == 200
    assert client.get(f"/v2/team-b/agents/{agent['id']}").status_code == 404


def test_location_honours_forwarded_proto_and_host(client):
    response = docs_request(client, "requestVaultPasswordVerification",
                            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sandbox.example.com"})
    assert response.headers["location"].startswith(
        f"https://sandbox.example.com/v2/110011/agents/{DOCS_AGENT}/vault-password-verification-requests/")



def test_urls_built_from_unusual_project_ids_are_encoded_and_resolve(client):
    response = register(client, project="%C3%A9quipe%20a")  # "équipe a"
    location = response.headers["location"]
    assert location.endswith(f"/v2/%C3%A9quipe%20a/agents/{response.json()['id']}")
    assert response.json()["links"][0]["href"] == location
    assert client.get(location).status_code == 200


# The docs' own examples disagree here: the getAgent example shows the docs' agent with an encrypted vault,
# and the encryption example enables encryption on it without the old password, which the API refuses.
DOCS_EXAMPLE_REFUSED = {"requestVaultEncryption": 403}


@pytest.mark.parametrize("operation_id", sorted(CONTRACT.operations))
def test_every_docs_example_request_gets_its_documented_success(client, operation_id):
    """The page's example request, as printed (its path, headers and body), answered with a documented
    success whose body keeps to the contract (or the documented refusal the docs' own world gives)."""
    operation = CONTRACT.operation(operation_id)
    printed = operation.docs_request
    url = urlsplit(printed["url"])
    headers = {name: value for name, value in printed["headers"].items() if name.lower() != "host"}
    body = json.dumps(printed["body"]).encode() if "body" in printed else None
    answer = client.request(printed["method"], url.path + (f"?{url.query}" if url.query else ""),
                            headers=headers, content=body)
    expected = [DOCS_EXAMPLE_REFUSED[operation_id]] if operation_id in DOCS_EXAMPLE_REFUSED else [
        s for s in operation.statuses if 200 <= s < 300]
    assert answer.status_code in expected, answer.text[:300]
    schema = operation.response_schema(answer.status_code)
    if schema is not None and answer.content:
        assert schema_errors(schema, answer.json()) == []
