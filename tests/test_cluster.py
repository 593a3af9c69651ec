"""State on a Redis Cluster (``serve --state redis+cluster://HOST:PORT``): where the keys go, any node
as the seed, and a master going away. Every test runs real ``serve`` processes against a real cluster of
three masters the tests start (``RedisClusterServer``); the rest of the shared-state suite runs on the
cluster too (the ``[cluster]`` cases of ``test_shared_state.py`` and ``test_store.py``)."""

import subprocess
import sys
import time

import httpx

from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN
from shared_state import Served
from test_default_world import authenticate, register

AUTH = {"X-Auth-Token": DOCS_TOKEN}
PROJECTS = [f"team-{n}" for n in range(12)]


def test_each_projects_keys_share_one_slot_projects_spread_over_the_masters_and_the_journal_is_on_one(
        redis_cluster):
    redis_cluster.flush()
    served = Served("--state", redis_cluster.url(), "--auto-report-after", "never").start()
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            for project in PROJECTS:
                register(client, project=project)
            assert client.put(f"/__mock/projects/{PROJECTS[0]}/scenarios",
                              json={"active": ["server-error"]}).status_code == 200
    finally:
        served.stop()
    where = {key: port for port, keys in redis_cluster.keys().items() for key in keys}
    slot = {key: int(redis_cluster.command(port, "CLUSTER", "KEYSLOT", key)) for key, port in where.items()}
    for project in PROJECTS:
        mine = [key for key in where if key.startswith(f"cbm:{{p:{project}}}:")]
        assert sorted(key.rsplit(":", 1)[1] for key in mine) == ["log", "state"]
        assert len({slot[key] for key in mine}) == 1, mine
    masters = {where[f"cbm:{{p:{project}}}:state"] for project in PROJECTS}
    assert len(masters) == 3  # twelve projects' states on all three masters
    journal = [key for key in where if key.startswith("cbm:{journal}:")]
    assert len(journal) == len(PROJECTS) + 2 and len({slot[key] for key in journal}) == 1  # lists, usage, totals
    assert len({slot[key] for key in where if key.startswith("cbm:{meta}:")}) == 1


def test_replicas_seeded_by_different_nodes_share_every_project(redis_cluster):
    redis_cluster.flush()
    first, second = (Served("--state", redis_cluster.url(node), "--auto-report-after", "never") for node in (0, 2))
    first.start()
    second.start()
    try:
        with httpx.Client(base_url=first.url, headers=AUTH, timeout=10) as one, \
                httpx.Client(base_url=second.url, headers=AUTH, timeout=10) as two:
            for project in PROJECTS[:6]:
                agent = register(one, project=project).json()
                token = authenticate(two, agent, project=project).json()["token"]["id"]
                answer = one.get(f"/v2/{project}/agents/{agent['id']}", headers={"X-Auth-Token": token})
                assert answer.status_code == 200 and answer.json()["name"] == agent["name"]
            journal = two.get("/__mock/requests", params={"limit": 1000}).json()["requests"]
            assert [e["operation"] for e in journal] == ["registerAgent", "authenticateAgent", "getAgent"] * 6
    finally:
        first.stop()
        second.stop()


def test_a_master_going_away_is_a_503_with_retry_after_until_it_is_back(redis_cluster):
    redis_cluster.flush()
    served = Served("--state", redis_cluster.url(1), "--auto-report-after", "never").start()
    agent_url = f"/v2/110011/agents/{DOCS_AGENT}"
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=30) as client:
            assert client.get(agent_url).status_code == 200
            redis_cluster.stop_node(0)
            deadline = time.monotonic() + 30
            answer = client.get(agent_url)
            while answer.status_code == 200 and time.monotonic() < deadline:  # until the cluster sees it gone
                time.sleep(0.2)
                answer = client.get(agent_url)
            assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
            assert set(answer.json()) == {"message", "errors"}
            assert client.get("/__mock/health").status_code == 503
            redis_cluster.start_node(0)
            deadline = time.monotonic() + 30
            while client.get(agent_url).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.get(agent_url).status_code == 200
            assert client.get("/__mock/health").status_code == 200
    finally:
        served.stop()
    log = served.output()
    assert "cannot be reached" in log and "is back" in log and "Traceback" not in log, log


def test_an_unreachable_cluster_is_said_at_start_up_and_answered_503():
    served = Served("--state", "redis+cluster://127.0.0.1:1", "--auto-report-after", "never").start()
    try:
        answer = httpx.get(f"{served.url}/v2/110011/agents/{DOCS_AGENT}", headers=AUTH, timeout=30)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    finally:
        served.stop()
    assert "warning: --state redis+cluster://127.0.0.1:1: Redis cannot be reached now" in served.output()
    assert "Traceback" not in served.output()


def test_a_misspelt_cluster_url_is_one_line_naming_the_forms():
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "serve", "--state", "redis+clutser://x:1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for --state: 'redis+clutser://x:1' is neither 'memory' nor a redis:// URL "
        "(redis://HOST:PORT/DB, or redis+cluster://HOST:PORT for a Redis Cluster)")
