"""Errors the mock raises itself are in the API's shape, with the right status."""

import pytest

from cloud_backup_mock.testing import DOCS_AGENT

VERIFY = f"/v2/110011/agents/{DOCS_AGENT}/vault-password-verification-requests"


def assert_api_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) <= {"message", "errors"} and isinstance(body["message"], str) and body["message"]
    assert all(isinstance(e, str) for e in body.get("errors", []))
    return body


def test_validation_error_names_the_field_and_why(client):
    body = assert_api_error(client.post(VERIFY, json={"encrypted_password_hex": "zz"}), 400)
    assert body["message"] == "Invalid request: body: 'agent_id' is a required property"
    assert body["errors"] == ["body: 'agent_id' is a required property",
                              "encrypted_password_hex: 'zz' does not match '^[0-9A-Fa-f]+( [0-9A-Fa-f]+)*$'"]


def test_nested_field_is_named(client):
    body = {"project_id": "1", "id": DOCS_AGENT, "password": "p", "name": "n", "version": "v",
            "host": {"os": {"name": "x", "version": "y"}, "fingerprint": "f", "addresses": [{"version": "4", "addr": "a"}]}}
    errors = assert_api_error(client.post("/v2/110011/agents/tokens", json=body), 400)["errors"]
    assert "host.os: 'architecture' is a required property" in errors
    assert "host.addresses[0].version: '4' is not of type 'integer'" in errors


def test_path_parameter_format_is_checked(client):
    body = assert_api_error(client.get("/v2/110011/agents/not-a-uuid"), 400)
    assert body["errors"] == ["path parameter agent_id: 'not-a-uuid' is not a 'uuid'"]


def test_malformed_json(client):
    body = assert_api_error(client.post(VERIFY, content=b'{"agent_id": ', headers={"Content-Type": "application/json"}), 400)
    assert body["message"].startswith("Invalid request: body: not valid JSON (Expecting value")


def test_wrong_content_type(client):
    body = assert_api_error(client.post(VERIFY, content=b"agent_id=x", headers={"Content-Type": "text/plain"}), 415)
    assert "text/plain" in body["message"]


def test_unknown_path_is_404(client):
    body = assert_api_error(client.get("/v2/110011/nothing"), 404)
    assert body == {"message": "No operation at /v2/110011/nothing.", "errors": ["GET /v2/110011/nothing is not in the contract"]}
    assert_api_error(client.get(f"/v2/110011/agents/{DOCS_AGENT}/"), 404)  # no redirect to the slash-less path


@pytest.mark.parametrize("method,path,allow", [
    ("POST", f"/v2/110011/agents/{DOCS_AGENT}", "DELETE, GET, HEAD, PATCH"),
    ("DELETE", "/v2/110011/agents", "GET, HEAD, POST"),
    ("PUT", f"{VERIFY}/f353f472-4931-463a-9920-1dcad25f88e7", "GET, HEAD, POST"),
    ("DELETE", "/__mock/scenarios", "GET, HEAD"),
    ("GET", "/v2/110011/agents/tokens", "POST"),  # the literal template wins over .../agents/{agent_id}
    ("OPTIONS", "/v2/110011/agents/tokens", "POST"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allow):
    response = client.request(method, path)
    body = assert_api_error(response, 405)
    assert response.headers["allow"] == allow
    assert body["message"] == f"Method {method} is not allowed on {path}."


def test_missing_token_is_401(client):
    body = assert_api_error(client.get(f"/v2/110011/agents/{DOCS_AGENT}", headers={"X-Auth-Token": ""}), 401)
    assert body["message"] == "Missing or invalid X-Auth-Token."


def test_no_problem_json_anywhere(client):
    for response in (client.get("/nope"), client.post(VERIFY, json={}), client.get("/v2/1/agents/x", headers={"X-Auth-Token": ""})):
        assert "problem" not in response.headers["content-type"]
