"""The request journal: what is recorded, the admin API over it, and its bound."""

import httpx

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.engine import complete
from cloud_backup_mock.engine.journal import MemoryJournal
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN, MockServer

AGENT_URL = f"/v2/110011/agents/{DOCS_AGENT}"


def test_every_answered_request_is_recorded_with_the_token_masked(client, mock):
    client.get(AGENT_URL, params={"x": "1"}, headers={"X-Mock-Scenario": "server-error"})
    client.post(f"{AGENT_URL}/vault-password-verification-requests", json={"agent_id": None})  # 400
    client.get("/v2/110011/nothing")  # outside the contract
    first, invalid, unknown = mock.requests()
    assert first["operation"] == "getAgent" and first["project_id"] == "110011" and first["method"] == "GET"
    assert first["query"] == {"x": ["1"]} and first["status"] == 500 and first["scenario"] == "server-error"
    assert first["headers"]["x-auth-token"] == "***" and first["time"].endswith("Z")
    assert (invalid["operation"], invalid["status"], invalid["body"]) == (
        "requestVaultPasswordVerification", 400, {"agent_id": None})
    assert (unknown["operation"], unknown["status"], unknown["path"]) == (None, 404, "/v2/110011/nothing")


def test_admin_api_filters_and_clears(client, mock):
    client.get(AGENT_URL)
    client.get(f"/v2/other/agents/{DOCS_AGENT}")
    client.get(f"{AGENT_URL}/vault-encryption-requests/9072bb51-d5fd-4fc5-ad80-d62e573236b6")
    listed = client.get("/__mock/requests", params={"project_id": "110011"}).json()
    assert [r["operation"] for r in listed["requests"]] == ["getAgent", "getVaultEncryption"]
    assert listed["size"] == 1000
    assert len(client.get("/__mock/requests", params={"operation": "getAgent"}).json()["requests"]) == 2
    assert client.get("/__mock/requests", params={"status": 404}).json()["requests"] == []
    since = listed["requests"][1]["time"]
    assert [r["operation"] for r in client.get("/__mock/requests", params={"since": since}).json()["requests"]] == ["getVaultEncryption"]
    assert client.get("/__mock/requests", params={"status": "abc"}).status_code == 400
    assert client.delete("/__mock/requests", params={"project_id": "other"}).json() == {"deleted": 1}
    assert client.delete("/__mock/requests").json() == {"deleted": 2}
    assert client.get("/__mock/requests").json()["requests"] == []  # admin calls are not journaled


def test_last_body_explains_what_it_saw(client, mock):
    client.get(AGENT_URL)
    try:
        mock.last_body("authenticateAgent")
    except AssertionError as exc:
        assert str(exc) == "no request to authenticateAgent was recorded; seen: getAgent"
    else:
        raise AssertionError("last_body should have failed")


def test_journal_stays_bounded():
    with MockServer(MockConfig(journal_size=5)) as server, \
            httpx.Client(base_url=server.url, headers={"X-Auth-Token": DOCS_TOKEN}) as c:
        for _ in range(12):
            c.get(AGENT_URL)
        entries = server.requests()
        assert len(entries) == 5 and [e["id"] for e in entries] == [8, 9, 10, 11, 12]


def journal_remove(journal, project_id):
    return complete(journal.remove(project_id))


def test_journal_clear_by_project():
    journal = MemoryJournal(3)
    for project in ("a", "b", "a"):
        journal.record({"project_id": project, "operation": "getAgent", "status": 200, "time": "2026-01-01T00:00:00Z"})
    assert journal_remove(journal, "a") == 2 and [e["project_id"] for e in complete(journal.read())] == ["b"]


def test_fair_eviction_through_project_changes():
    """Entries of one project, then two, then one again, then two: the heaviest loses, never the quiet one."""
    journal = MemoryJournal(max_entries=10)

    def add(project, n):
        for _ in range(n):
            journal.record({"project_id": project, "operation": "getAgent", "status": 200,
                            "time": "2026-01-01T00:00:00Z", "body": "x" * 10})

    add("noisy", 30)
    add("quiet", 2)
    assert [len(complete(journal.read(project_id=p))) for p in ("noisy", "quiet")] == [8, 2]
    journal_remove(journal, "quiet")
    add("noisy", 30)
    add("other", 3)
    add("noisy", 5)
    assert [len(complete(journal.read(project_id=p))) for p in ("noisy", "other")] == [7, 3] and complete(journal.stats())["entries"] == 10
