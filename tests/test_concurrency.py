"""Many clients at once: every request answered once, recorded once, and state transitions consistent."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

WORKERS = 16
ROUNDS = 10


def lifecycle(base_url: str, project: str, agent: dict) -> list[int]:
    """encrypt -> report -> verify -> report -> read, on one agent; returns the statuses seen."""
    statuses = []
    with httpx.Client(base_url=base_url, headers={"X-Auth-Token": DOCS_TOKEN}, timeout=30) as c:
        base = f"/v2/{project}/agents/{agent['id']}"
        enable = c.post(f"{base}/vault-encryption-requests",
                        json={"old_encrypted_password_hex": None, "new_encrypted_password_hex": "ab"})
        statuses.append(enable.status_code)
        statuses.append(c.post(enable.headers["location"], json={"action": "enabled", "succeeded": True}).status_code)
        verify = c.post(f"{base}/vault-password-verification-requests", json={"encrypted_password_hex": "ab", "agent_id": None})
        statuses.append(verify.status_code)
        statuses.append(c.get(verify.headers["location"]).status_code)
        statuses.append(c.post(verify.headers["location"], json={"verified": True}).status_code)
        result = c.get(verify.headers["location"])
        statuses.append(result.status_code)
        assert result.json()["request_id"] == verify.headers["location"].rsplit("/", 1)[1]
    return statuses


def test_parallel_lifecycles_on_shared_and_separate_projects(mock):
    projects = ["shared"] * (WORKERS // 2) + [f"team-{i}" for i in range(WORKERS // 2)]
    agents = [mock.register_agent(project) for project in projects]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda pa: lifecycle(mock.url, *pa), zip(projects, agents)))
    assert results == [[202, 204, 202, 404, 204, 200]] * WORKERS
    for project, agent in zip(projects, agents):
        assert mock.world(project).agent(agent["id"])["vault"]["encrypted"] is True
    entries = mock.requests()
    assert len(entries) == 6 * WORKERS
    assert len({e["id"] for e in entries}) == len(entries)  # each request recorded exactly once
    assert len(mock.requests(project_id="shared")) == 6 * (WORKERS // 2)


def test_parallel_reads_of_one_agent(mock):
    def read(_):
        with httpx.Client(base_url=mock.url, headers={"X-Auth-Token": DOCS_TOKEN}, timeout=30) as c:
            return [c.get(f"/v2/110011/agents/{DOCS_AGENT}").status_code for _ in range(ROUNDS)]

    with ThreadPoolExecutor(WORKERS) as pool:
        assert list(pool.map(read, range(WORKERS))) == [[200] * ROUNDS] * WORKERS
    assert len(mock.calls("getAgent")) == WORKERS * ROUNDS


def test_times_counts_each_request_once_under_contention(mock):
    mock.use("upstream-unavailable;failures=5")

    def read(_):
        with httpx.Client(base_url=mock.url, headers={"X-Auth-Token": DOCS_TOKEN}, timeout=30) as c:
            return c.get(f"/v2/110011/agents/{DOCS_AGENT}").status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        statuses = list(pool.map(read, range(40)))
    assert statuses.count(503) == 5 and statuses.count(200) == 35
