"""The request journal: what is recorded, the admin API over it, and its bound."""

import json

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


def test_a_page_is_read_in_slices_that_give_the_event_loop_turns():
    """Read as a page, the journal gives the loop a turn after each SLICE_ENTRIES entries or SLICE_BYTES of
    them (as kept, whichever comes first); read at once (the test double's own reads) it never waits."""
    import time

    from cloud_backup_mock.engine.journal import SLICE_BYTES, SLICE_ENTRIES

    def turns_to_read(journal):
        reading, turns = journal.page(limit=1000), 0
        try:
            while True:
                reading.send(None)
                turns += 1
        except StopIteration as done:
            assert len(done.value.entries) == 100 and done.value.next_after is None
            return turns

    large, small = MemoryJournal(max_entries=100, max_bytes=64 * 1024 * 1024), MemoryJournal(max_entries=100)
    for n in range(100):
        for journal, path in ((large, f"/{n}/" + "x" * 20_000), (small, f"/{n}")):
            journal.record({"time": time.time(), "project_id": "p", "operation": None, "method": "GET",
                            "path": path, "query": b"", "headers": [], "body": None, "status": 404}, raw=True)
    weight = complete(large.stats())["bytes"]  # each slice looks at SLICE_BYTES and at most one entry more
    assert turns_to_read(large) >= weight // (SLICE_BYTES + weight // 100) - 1
    assert turns_to_read(small) >= 100 // SLICE_ENTRIES - 1
    assert [e["id"] for e in complete(large.read(limit=3, after=97))] == [98, 99, 100]


def test_a_page_stops_at_its_bytes_and_names_where_the_next_begins():
    journal = MemoryJournal(max_entries=100)
    for n in range(10):
        journal.record({"project_id": "p", "operation": "getAgent", "status": 200, "time": "2026-01-01T00:00:00Z",
                        "body": "x" * 1000})
    first = complete(journal.page(limit=100, max_bytes=3000))
    assert len(first.entries) == 2 and first.next_after == 2
    assert len(json.dumps(first.entries)) <= 3000
    rest = complete(journal.page(limit=100, after=first.next_after))
    assert [e["id"] for e in rest.entries] == list(range(3, 11)) and rest.next_after is None
