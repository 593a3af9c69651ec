"""Hostile and broken requests: each gets its exact status in the API's error shape, and the mock
answers normally afterwards. Nothing here is a 500."""

import json

import httpx
import pytest

from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

AUTH = (b"X-Auth-Token", DOCS_TOKEN.encode())
JSON = (b"Content-Type", b"application/json")
AGENT = f"/v2/110011/agents/{DOCS_AGENT}"
VERIFY = f"{AGENT}/vault-password-verification-requests"
TOKENS = "/v2/110011/agents/tokens"
GOOD_VERIFY = b'{"encrypted_password_hex": "ab", "agent_id": null}'

# (id, method, path, headers, body, status, start of the message)
CASES = [
    ("malformed JSON", "POST", VERIFY, [AUTH, JSON], b'{"agent_id": ', 400, "Invalid request: body: not valid JSON"),
    ("trailing garbage", "POST", VERIFY, [AUTH, JSON], GOOD_VERIFY + b"x", 400, "Invalid request: body: not valid JSON"),
    ("JSON array", "POST", VERIFY, [AUTH, JSON], b"[]", 400, "Invalid request: body: [] is not of type 'object'"),
    ("JSON string", "POST", VERIFY, [AUTH, JSON], b'"hello"', 400, "Invalid request: body: 'hello' is not of type 'object'"),
    ("JSON number", "POST", VERIFY, [AUTH, JSON], b"42", 400, "Invalid request: body: 42 is not of type 'object'"),
    ("JSON null", "POST", VERIFY, [AUTH, JSON], b"null", 400, "Invalid request: body: a JSON request body is required"),
    ("empty body", "POST", VERIFY, [AUTH, JSON], b"", 400, "Invalid request: RequestBody is required"),
    ("missing Content-Type", "POST", VERIFY, [AUTH], GOOD_VERIFY, 415, "Unsupported Content-Type: no Content-Type header"),
    ("text/plain", "POST", VERIFY, [AUTH, (b"Content-Type", b"text/plain")], GOOD_VERIFY, 415, "Unsupported Content-Type: Invalid Content-type (text/plain)"),
    ("XML", "POST", VERIFY, [AUTH, (b"Content-Type", b"application/xml")], b"<a/>", 415, "Unsupported Content-Type: Invalid Content-type (application/xml)"),
    ("form", "POST", VERIFY, [AUTH, (b"Content-Type", b"application/x-www-form-urlencoded")], b"a=b", 415, "Unsupported Content-Type"),
    ("latin-1 charset", "POST", VERIFY, [AUTH, (b"Content-Type", b"application/json; charset=latin-1")], GOOD_VERIFY, 415, "Unsupported Content-Type: charset=latin-1"),
    ("UTF-16 charset", "POST", VERIFY, [AUTH, (b"Content-Type", b"application/json; charset=utf-16")], GOOD_VERIFY.decode().encode("utf-16"), 415, "Unsupported Content-Type: charset=utf-16"),
    ("invalid UTF-8", "POST", VERIFY, [AUTH, JSON], b'{"encrypted_password_hex": "\xff\xfe", "agent_id": null}', 400, "Invalid request: body: not valid UTF-8"),
    ("body over the limit", "POST", VERIFY, [AUTH, JSON], b'{"a": "' + b"x" * (1024 * 1024) + b'"}', 413, "The request body is larger than the mock's limit"),
    ("deeply nested JSON", "POST", VERIFY, [AUTH, JSON], b"[" * 100000 + b"]" * 100000, 400, "Invalid request: body: JSON nested too deeply"),
    ("huge integer", "POST", VERIFY, [AUTH, JSON], b'{"agent_id": ' + b"9" * 5000 + b"}", 400, "Invalid request: body: not valid JSON (Exceeds the limit"),
    ("huge float", "POST", VERIFY, [AUTH, JSON], b'{"encrypted_password_hex": "ab", "agent_id": 1e400}', 400, "Invalid request: body: not valid JSON (1e400 is too large for a JSON number)"),
    ("very long string", "POST", VERIFY, [AUTH, JSON], json.dumps({"encrypted_password_hex": "g" * 500000, "agent_id": None}).encode(), 400, "Invalid request: encrypted_password_hex: 500000 bytes is longer than the mock keeps (8192; setting max_field_bytes)"),
    ("NUL inside a JSON string", "POST", VERIFY, [AUTH, JSON], b'{"encrypted_password_hex": "a\\u0000b", "agent_id": null}', 400, "Invalid request: encrypted_password_hex:"),
    ("wrong type", "POST", VERIFY, [AUTH, JSON], b'{"encrypted_password_hex": 12, "agent_id": null}', 400, "Invalid request: encrypted_password_hex: 12 is not of type 'string'"),
    ("agent_id not a UUID", "POST", VERIFY, [AUTH, JSON], b'{"encrypted_password_hex": "ab", "agent_id": "x"}', 400, "Invalid request: agent_id: 'x' is not a 'uuid'"),
    ("nested field missing", "POST", TOKENS, [JSON], json.dumps({"project_id": "1", "id": DOCS_AGENT, "password": "p", "name": "n", "version": "v", "host": {"os": {}, "fingerprint": "f", "addresses": []}}).encode(), 400, "Invalid request: host.os: 'name' is a required property"),
    ("NUL in a path parameter", "GET", "/v2/110011/agents/%00", [AUTH], b"", 400, "Invalid request: path parameter agent_id: '\\x00' is not a 'uuid'"),
    ("../ in a path parameter", "GET", "/v2/110011/agents/..%2f..%2fetc%2fpasswd", [AUTH], b"", 404, "No operation at /v2/110011/agents/../../etc/passwd."),
    ("encoded slash in the project", "GET", f"/v2/a%2fb/agents/{DOCS_AGENT}", [AUTH], b"", 404, "No operation at /v2/a/b/agents/"),
    ("empty project id", "GET", f"/v2//agents/{DOCS_AGENT}", [AUTH], b"", 404, "No operation at /v2//agents/"),
    ("unknown path", "GET", "/v2/110011/snapshots", [AUTH], b"", 404, "No operation at /v2/110011/snapshots."),
    ("root with POST", "POST", "/", [], b"", 404, "No operation at /."),
    ("trailing slash", "GET", AGENT + "/", [AUTH], b"", 404, "No operation at"),
    ("wrong method POST", "POST", AGENT, [AUTH, JSON], b"{}", 405, f"Method POST is not allowed on {AGENT}."),
    ("wrong method PUT", "PUT", TOKENS, [AUTH, JSON], b"{}", 405, f"Method PUT is not allowed on {TOKENS}."),
    ("OPTIONS", "OPTIONS", VERIFY, [AUTH], b"", 405, f"Method OPTIONS is not allowed on {VERIFY}."),
    ("missing token", "GET", AGENT, [], b"", 401, "Missing or invalid X-Auth-Token."),
    ("unknown token", "GET", AGENT, [(b"X-Auth-Token", b"nope")], b"", 401, "Missing or invalid X-Auth-Token."),
    ("token in Authorization instead", "GET", AGENT, [(b"Authorization", b"Bearer " + DOCS_TOKEN.encode())], b"", 401, "Missing or invalid X-Auth-Token."),
    ("non-ASCII token", "GET", AGENT, [(b"X-Auth-Token", b"caf\xe9")], b"", 401, "Missing or invalid X-Auth-Token."),
    ("very long token", "GET", AGENT, [(b"X-Auth-Token", b"t" * 8000)], b"", 401, "Missing or invalid X-Auth-Token."),
    ("duplicate tokens, first wrong", "GET", AGENT, [(b"X-Auth-Token", b"nope"), AUTH], b"", 401, "Missing or invalid X-Auth-Token."),
    ("conflicting Content-Types", "POST", VERIFY, [AUTH, (b"Content-Type", b"text/plain"), JSON], GOOD_VERIFY, 415, "Unsupported Content-Type: Invalid Content-type (text/plain)"),
    ("malformed Prefer", "GET", AGENT, [AUTH, (b"Prefer", b"code")], b"", 400, "Malformed Prefer header 'code'."),
    ("Prefer code not a number", "GET", AGENT, [AUTH, (b"Prefer", b"code=abc")], b"", 400, "Prefer: code=abc is not documented for getAgent."),
    ("Prefer undocumented code", "GET", AGENT, [AUTH, (b"Prefer", b"code=418")], b"", 400, "Prefer: code=418 is not documented for getAgent."),
    ("Prefer unknown example", "GET", AGENT, [AUTH, (b"Prefer", b"code=404, example=x")], b"", 400, "Prefer: example=x is not documented for getAgent 404."),
    ("unknown scenario", "GET", AGENT, [AUTH, (b"X-Mock-Scenario", b"nope")], b"", 400, "Unknown scenario selection: unknown scenario 'nope'."),
    ("malformed scenario list", "GET", AGENT, [AUTH, (b"X-Mock-Scenario", b";;;")], b"", 400, "Unknown scenario selection: unknown scenario ''."),
    ("unknown scenario parameter", "GET", AGENT, [AUTH, (b"X-Mock-Scenario", b"slow;minutes=3")], b"", 400, "Unknown scenario selection: scenario 'slow' has no parameter 'minutes'"),
    ("scenario parameter without value", "GET", AGENT, [AUTH, (b"X-Mock-Scenario", b"slow;seconds")], b"", 400, "Unknown scenario selection: scenario 'slow': parameter 'seconds' is not key=value"),
    ("admin: bad JSON", "PUT", "/__mock/projects/110011/scenarios", [JSON], b"{", 400, "Invalid request: body: not valid JSON"),
    ("admin: not a list", "PUT", "/__mock/projects/110011/scenarios", [JSON], b'{"active": "slow"}', 400, "Invalid request: active: 'slow' is not of type 'array'"),
    ("admin: extra field", "PUT", "/__mock/projects/110011/scenarios", [JSON], b'{"active": [], "x": 1}', 400, "Invalid request: body: Additional properties are not allowed"),
    ("admin: unknown scenario", "PUT", "/__mock/projects/110011/scenarios", [JSON], b'{"active": ["nope"]}', 400, "Unknown scenario selection: unknown scenario 'nope'."),
    ("admin: bad status filter", "GET", "/__mock/requests?status=999", [], b"", 400, "Invalid request: query parameter status: 999 is greater than the maximum of 599"),
    ("admin: bad since", "GET", "/__mock/requests?since=yesterday", [], b"", 400, "Invalid request: query parameter since: 'yesterday' is not a 'date-time'"),
    ("admin: unknown route", "GET", "/__mock/nothing", [], b"", 404, "No operation at /__mock/nothing."),
    ("admin: wrong method", "DELETE", "/__mock/reset", [], b"", 405, "Method DELETE is not allowed on /__mock/reset."),
]


@pytest.mark.parametrize("name,method,path,headers,body,status,message", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(mock, name, method, path, headers, body, status, message):
    with httpx.Client(base_url=mock.url, timeout=20) as raw:
        response = raw.request(method, path, headers=headers, content=body or None)
        assert response.status_code == status, response.text[:300]
        assert response.headers["content-type"] == "application/json"
        error = response.json()
        assert set(error) <= {"message", "errors"} and error["message"].startswith(message), error
        assert all(isinstance(e, str) for e in error.get("errors", []))
        after = raw.get(AGENT, headers={"X-Auth-Token": DOCS_TOKEN})
        assert after.status_code == 200 and after.json()["id"] == DOCS_AGENT


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def test_unknown_project_in_the_admin_api_is_just_an_empty_one(client):
    assert client.get("/__mock/projects/nobody/scenarios").json() == {"project_id": "nobody", "active": []}
    assert client.post("/__mock/reset", params={"project_id": "nobody"}).json() == {"reset": "nobody"}
