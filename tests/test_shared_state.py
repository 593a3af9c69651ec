"""State shared on Redis (``serve --state redis://``) by workers and replicas: each process sees what
the others did, read-modify-write steps are decided once across processes, the bounds hold in Redis,
state outlives a restart, and Redis going away is a 503 with Retry-After until it is back.

Every test runs real ``serve`` processes against a real ``redis-server`` the tests start; those that
take ``redis_url`` run twice, on a single Redis (``[redis]``) and on a Redis Cluster of three masters
(``[cluster]``, ``--state redis+cluster://``)."""

import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import count

import httpx
import pytest

from cloud_backup_mock.shipped import SCENARIOS_DIR
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN
from shared_state import Sandbox, Served, command_calls, redis_client
from test_default_world import CONTRACT, authenticate, register

AUTH = {"X-Auth-Token": DOCS_TOKEN}
AGENT_URL = f"/v2/110011/agents/{DOCS_AGENT}"
_databases = count(16)  # 1-3: the acceptance tests; 14, 15: tests that stop Redis


_seeds = count()  # the cluster's node each test names as its seed, in turn (any node will do)


def empty_redis(request, kind: str) -> str:
    """The ``--state`` URL of an empty Redis of the test's own: a database of the single Redis
    (``redis``), or the whole three-master cluster, emptied (``cluster``)."""
    if kind == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return cluster.url(next(_seeds) % len(cluster.ports))
    return request.getfixturevalue("redis_server").url(next(_databases))


@pytest.fixture(params=["redis", "cluster"])
def redis_url(request):
    """An empty Redis of the test's own: every test that takes it runs on a single Redis and on a cluster."""
    return empty_redis(request, request.param)


@pytest.fixture
def replicas(redis_url):
    sandbox = Sandbox(redis_url, replicas=2).start()
    yield sandbox
    sandbox.stop()


def test_what_one_replica_makes_the_other_sees(replicas):
    first, second = (httpx.Client(base_url=url, headers=AUTH, timeout=10) for url in replicas.urls)
    with first, second:
        agent = register(first).json()
        assert second.get(f"/v2/110011/agents/{agent['id']}").json()["name"] == agent["name"]
        token = authenticate(first, agent).json()["token"]["id"]
        assert second.get(f"/v2/110011/agents/{agent['id']}", headers={"X-Auth-Token": token}).status_code == 200
        assert second.get(f"/v2/110011/agents/{agent['id']}", headers={"X-Auth-Token": "made-up"}).status_code == 401

        verification = first.post(f"{AGENT_URL}/vault-password-verification-requests",
                                  json={"encrypted_password_hex": "ab", "agent_id": None})
        assert verification.status_code == 202
        assert second.post(verification.headers["location"], json={"verified": True}).status_code == 204
        assert first.get(verification.headers["location"]).json()["valid"] is True

        assert first.put("/__mock/projects/110011/scenarios", json={"active": ["server-error"]}).status_code == 200
        assert second.get(AGENT_URL).status_code == 500
        assert second.get("/__mock/projects/110011/scenarios").json()["active"] == ["server-error"]

        journal = first.get("/__mock/requests", params={"project_id": "110011", "limit": 1000}).json()["requests"]
        assert [e["operation"] for e in journal] == [
            "registerAgent", "getAgent", "authenticateAgent", "getAgent", "getAgent",
            "requestVaultPasswordVerification", "reportVaultPasswordVerification", "getVaultPasswordVerification",
            "getAgent"]
        assert [e["headers"]["host"] for e in journal[:2]] == [first.base_url.netloc.decode(),
                                                                second.base_url.netloc.decode()]


def test_a_scenario_added_on_one_replica_answers_on_the_other_and_reset_clears_it(replicas):
    first, second = (httpx.Client(base_url=url, headers=AUTH, timeout=10) for url in replicas.urls)
    with first, second:
        added = first.post("/__mock/projects/110011/scenarios", json={
            "name": "gone", "description": "the agent is gone",
            "rules": [{"operation": "getAgent", "response": {"status": 404, "body": {"message": "gone"}}}]})
        assert added.status_code == 201
        assert second.get(AGENT_URL).json() == {"message": "gone"}
        assert second.get("/__mock/projects/110011/scenarios").json()["added"] == ["gone"]
        assert second.post("/__mock/reset", params={"project_id": "110011"}).status_code == 200
        assert first.get(AGENT_URL).status_code == 200


def test_times_is_exact_across_four_workers_and_sixteen_clients(redis_url):
    sandbox = Sandbox(redis_url, 1, 4).start()
    try:
        with sandbox.client() as admin:
            assert admin.put("/__mock/projects/110011/scenarios",
                             json={"active": ["upstream-unavailable;failures=2"]}).status_code == 200

        def read(_):
            with httpx.Client(base_url=sandbox.urls[0], headers=AUTH, timeout=30) as client:
                return [client.get(AGENT_URL).status_code for _ in range(5)]

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for batch in pool.map(read, range(16)) for s in batch]
        assert statuses.count(503) == 2 and statuses.count(200) == 78
        with sandbox.client() as admin:
            journal = admin.get("/__mock/requests", params={"status": 503, "limit": 1000}).json()["requests"]
        assert len(journal) == 2
    finally:
        sandbox.stop()


def test_times_is_exact_across_two_replicas_under_contention(replicas):
    with replicas.client() as admin:
        assert admin.put("/__mock/projects/110011/scenarios",
                         json={"active": ["upstream-unavailable;failures=5"]}).status_code == 200

    def read(n):
        with httpx.Client(base_url=replicas.urls[n % 2], headers=AUTH, timeout=30) as client:
            return [client.get(AGENT_URL).status_code for _ in range(5)]

    with ThreadPoolExecutor(16) as pool:
        statuses = [s for batch in pool.map(read, range(16)) for s in batch]
    assert statuses.count(503) == 5 and statuses.count(200) == 75


def test_the_last_agent_place_is_decided_once_across_replicas(redis_url, tmp_path):
    scenarios = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, scenarios, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    world = scenarios / "world.yaml"
    seeded = world.read_text().split("\nrecords:")[0].count("- example: getAgent")
    world.write_text(world.read_text().replace("max_agents: 1000", f"max_agents: {seeded + 1}"))
    sandbox = Sandbox(redis_url, 2, 1, "--scenarios", str(scenarios)).start()
    body = CONTRACT.operation("registerAgent").request_example
    try:
        def add(n):
            with httpx.Client(base_url=sandbox.urls[n % 2], headers=AUTH, timeout=30) as client:
                return client.post("/v2/110011/agents", json=body).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(add, range(16)))
        assert sorted(statuses) == [201] + [403] * 15  # the seed's agents, and one more
    finally:
        sandbox.stop()


def test_state_outlives_a_restart(redis_url):
    served = Served("--state", redis_url).start()
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            agent = register(client, project="kept").json()
            token = authenticate(client, agent, project="kept").json()["token"]["id"]
            assert client.put("/__mock/projects/kept/scenarios", json={"active": ["encryption-disabled"]}).status_code == 200
        served.stop()
        served.start()
        with httpx.Client(base_url=served.url, timeout=10) as client:
            again = client.get(f"/v2/kept/agents/{agent['id']}", headers={"X-Auth-Token": token})
            assert again.status_code == 200 and again.json()["id"] == agent["id"]
            assert client.get("/__mock/projects/kept/scenarios").json()["active"] == ["encryption-disabled"]
            journal = client.get("/__mock/requests", params={"project_id": "kept"}).json()["requests"]
            assert [e["operation"] for e in journal] == ["registerAgent", "authenticateAgent", "getAgent"]
    finally:
        served.stop()


def test_redis_going_away_is_a_503_with_retry_after_until_it_is_back(redis_server):
    served = Served("--state", redis_server.url(15), "--limit", "store_timeout=0.5").start()
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            assert client.get(AGENT_URL).status_code == 200
            assert client.get("/__mock/health").json()["store"]["status"] == "ok"

            redis_server.stop()
            for request in (lambda: client.get(AGENT_URL),
                            lambda: client.get(AGENT_URL, headers={"X-Auth-Token": "someone-elses"}),
                            lambda: client.post("/v2/110011/agents", json=CONTRACT.operation("registerAgent").request_example),
                            lambda: client.get("/__mock/requests")):
                answer = request()
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "1"
                assert answer.json()["message"] == "The mock's shared state store cannot be reached; try again shortly."
                assert answer.json()["errors"][0].startswith(f"Redis at {redis_server.url(15)}: ")
            health = client.get("/__mock/health")
            assert health.status_code == 503 and health.json()["store"]["status"] == "unavailable"

            redis_server.start()
            assert client.get(AGENT_URL).status_code == 200
            assert client.get("/__mock/health").json()["status"] == "ok"

            redis_server.process.send_signal(signal.SIGSTOP)  # Redis answers nothing: a timeout, not a hang
            try:
                started = time.monotonic()
                answer = client.get(AGENT_URL)
                waited = time.monotonic() - started
            finally:
                redis_server.process.send_signal(signal.SIGCONT)
            assert answer.status_code == 503 and waited < 5
            assert client.get(AGENT_URL).status_code == 200
    finally:
        served.stop()
    log = served.output()
    assert log.count("cannot be reached") == 2 and log.count("is back\n") == 2, log
    assert all(" INFO " in line for line in log.splitlines() if line.endswith("is back")), log  # news, not a problem
    assert "Traceback" not in log


def test_the_journal_is_bounded_in_redis_and_the_heaviest_project_drops_first(redis_url):
    served = Served("--state", redis_url, "--limit", "journal_entries=6").start()
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            client.get(f"/v2/quiet/agents/{DOCS_AGENT}")
            for _ in range(10):
                client.get(f"/v2/noisy/agents/{DOCS_AGENT}")
            journal = client.get("/__mock/requests", params={"limit": 1000}).json()
            assert [e["project_id"] for e in journal["requests"]] == ["quiet"] + ["noisy"] * 5
            assert journal["requests"][-1]["id"] == 11
            stats = client.get("/__mock/health").json()["journal"]
            assert stats["entries"] == 6 and stats["bytes"] > 0
            assert client.delete("/__mock/requests", params={"project_id": "noisy"}).json() == {"deleted": 5}
            assert client.get("/__mock/health").json()["journal"]["entries"] == 1
    finally:
        served.stop()


def test_projects_are_bounded_in_redis_least_recently_changed_first(redis_url):
    served = Served("--state", redis_url, "--limit", "max_projects=3").start()
    try:
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            agents = {project: register(client, project=project).json()["id"] for project in ("p0", "p1", "p2", "p3")}
            assert client.get(f"/v2/p0/agents/{agents['p0']}").status_code == 404  # forgotten: back to the seed
            for project in ("p1", "p2", "p3"):
                assert client.get(f"/v2/{project}/agents/{agents[project]}").status_code == 200
            assert client.get("/__mock/health").json()["store"]["projects"] == 3
    finally:
        served.stop()


def test_added_scenarios_are_bounded_across_processes(redis_url):
    sandbox = Sandbox(redis_url, 2, 1, "--limit", "max_added_scenarios_total=3").start()
    document = {"description": "d", "rules": [{"operation": "getAgent", "response": {"status": 404, "body": {"message": "x"}}}]}
    try:
        with sandbox.client() as client:
            statuses = [client.post(f"/__mock/projects/p{n}/scenarios", json={**document, "name": "n"}).status_code
                        for n in range(5)]
            assert statuses == [201, 201, 201, 400, 400]
            assert client.post("/__mock/reset", params={"project_id": "p0"}).status_code == 200
            assert client.post("/__mock/projects/p4/scenarios", json={**document, "name": "n"}).status_code == 201
    finally:
        sandbox.stop()


def test_workers_without_redis_warn_and_a_bad_state_is_one_line():
    served = Served("--workers", "2").start()
    served.stop()
    assert ("warning: --workers 2 without --state redis://: each worker keeps its own world, scenario selections "
            "and journal") in served.output()
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "serve", "--state", "postgres://x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for --state: 'postgres://x' is neither 'memory' nor a redis:// URL "
        "(redis://HOST:PORT/DB, or redis+cluster://HOST:PORT for a Redis Cluster)")


def test_the_state_comes_from_the_environment_too(redis_url):
    served = Served(env={"CLOUD_BACKUP_MOCK_STATE": redis_url}).start()
    try:
        health = httpx.get(f"{served.url}/__mock/health", timeout=10).json()
        assert health["state"] == "redis" and health["store"]["url"] == redis_url
    finally:
        served.stop()


def test_health_answers_fit_the_admin_contract_up_and_down(redis_server):
    from cloud_backup_mock.contract import Contract, schema_errors
    from cloud_backup_mock.shipped import package_file
    from cloud_backup_mock.yaml_files import load_yaml

    admin = Contract(load_yaml(package_file("http", "admin_openapi.yaml").read_text()), "admin_openapi.yaml")
    health = admin.operation("health")
    served = Served("--state", redis_server.url(14)).start()
    try:
        up = httpx.get(f"{served.url}/__mock/health", timeout=10)
        redis_server.stop()
        try:
            down = httpx.get(f"{served.url}/__mock/health", timeout=10)
        finally:
            redis_server.start()
    finally:
        served.stop()
    assert (up.status_code, up.json()["store"]["status"]) == (200, "ok")
    assert (down.status_code, down.json()["status"]) == (503, "unavailable")
    for answer in (up, down):
        assert schema_errors(health.response_schema(answer.status_code), answer.json()) == []


@pytest.mark.parametrize("missing", ["redis", "hiredis"])
def test_state_redis_without_the_redis_client_says_what_to_install(missing):
    program = (f"import sys; sys.modules[{missing!r}] = None; from cloud_backup_mock.cli import main; "
               "main(['serve', '--state', 'redis://127.0.0.1:1/0'])")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        2, "error: --state redis:// needs the Redis client: pip install 'cloud-backup-mock[redis]'\n")


def test_two_processes_copies_stay_exact_reading_only_what_changed(redis_url):
    """Two stores on one Redis, as two processes: a change made by one is read by the other as the fields
    it touched; a change written first by the other is redone on what it wrote; a copy too far behind,
    or a project reset elsewhere, is read whole."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine
    from cloud_backup_mock.engine.redis_store import CHANGE_LOG

    async def scenario():
        first, second = (build_engine(MockConfig(state=redis_url)).store for _ in range(2))
        try:
            a = await first.project("shared")
            b = await second.project("shared")
            whole = command_calls(redis_url, "hgetall")
            _, token = await first.transaction(a, lambda world: world.apply("issue_token", {"agent_id": "x"}))
            b = await second.project("shared")
            assert token["id"] in b.tokens and second.version("shared") == first.version("shared")
            assert command_calls(redis_url, "hgetall") == whole  # the other copy read only the changed fields

            # Both copies at one version; the first writes, then the second's change meets it and is redone.
            b_before = second.version("shared")
            await first.transaction(a, lambda world: world.apply("issue_token", {"agent_id": "from-first"}))
            turns = []

            def configure(world):
                turns.append(second.version("shared"))
                return world.apply("configure", {"auto_report_verified": False})

            b, _ = await second.transaction(b, configure)
            assert turns[0] == b_before and len(turns) == 2  # redone once, on the first's version
            assert {t["agent_id"] for t in b.tokens.values()} == {"x", "from-first"}
            a = await first.project("shared")
            assert a.settings.auto_report_verified is False and second.version("shared") == first.version("shared")

            # A token made by each at once: the second's is written over the first's, not made again, and
            # its answer brings the first's token (no read).
            await first.transaction(a, lambda world: world.apply("issue_token", {"agent_id": "from-first-2"}))
            turns.clear()

            def issue(world):
                turns.append(second.version("shared"))
                return world.apply("issue_token", {"agent_id": "from-second"})

            loads = command_calls(redis_url, "evalsha")
            b, mine = await second.transaction(b, issue)
            assert len(turns) == 1 and command_calls(redis_url, "evalsha") - loads == 1  # one script, no redo
            assert {t["agent_id"] for t in b.tokens.values()} == {"x", "from-first", "from-first-2", "from-second"}
            a = await first.project("shared")
            assert list(a.tokens) == list(b.tokens) and mine["id"] in a.tokens
            assert second.version("shared") == first.version("shared")

            # Behind by more changes than a read walks at first (eight), fewer than the log keeps: still
            # only the changed fields.
            for n in range(20):
                await first.transaction(a, lambda world: world.apply("issue_token", {"agent_id": f"m{n}"}))
            whole = command_calls(redis_url, "hgetall")
            b = await second.project("shared")
            assert command_calls(redis_url, "hgetall") == whole
            assert list(b.tokens) == list(a.tokens) and second.version("shared") == first.version("shared")

            # Far behind: more changes than the change log keeps, then a read of the whole project.
            for n in range(CHANGE_LOG + 5):
                await first.transaction(a, lambda world: world.apply("issue_token", {"agent_id": f"n{n}"}))
            whole = command_calls(redis_url, "hgetall")
            b = await second.project("shared")
            assert command_calls(redis_url, "hgetall") == whole + 1
            assert b.tokens.keys() == a.tokens.keys() and second.version("shared") == first.version("shared")

            await first.reset("shared")
            b = await second.project("shared")
            assert second.version("shared") == "" and not b.tokens  # the seed's again
            assert await second.peek("shared") is None  # and no state: peek makes none
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_tokens_made_at_once_pass_their_bound_by_one_per_other_writer_and_a_record_both_touched_is_redone(redis_url):
    """Two processes each making a token at the bound, from the same state: both forget the same oldest
    token, neither is made again, and the project holds one over the bound until the next change forgets
    it. A change that deletes a token the other forgot meanwhile is made again, on what it wrote."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        first, second = (build_engine(MockConfig(state=redis_url)).store for _ in range(2))
        try:
            a = await first.project("bounded")
            await first.transaction(a, lambda w: w.apply("configure", {"max_tokens": 2}))
            t1, t2 = [(await first.transaction(a, lambda w, n=n: w.apply("issue_token", {"agent_id": n})))[1]["id"]
                      for n in ("t1", "t2")]
            b = await second.project("bounded")
            turns = []

            def issue(world, name):
                turns.append(name)
                return world.apply("issue_token", {"agent_id": name})

            a, t3 = await first.transaction(a, lambda w: issue(w, "t3"))
            b, t4 = await second.transaction(b, lambda w: issue(w, "t4"))
            assert turns == ["t3", "t4"]  # neither made again
            assert list(b.tokens) == [t2, t3["id"], t4["id"]]  # t1 forgotten by both: one over the bound
            assert list((await first.project("bounded")).tokens) == list(b.tokens)
            a, t5 = await first.transaction(a, lambda w: issue(w, "t5"))
            assert list(a.tokens) == [t4["id"], t5["id"]] == list((await second.project("bounded")).tokens)

            turns.clear()
            await first.transaction(a, lambda w: issue(w, "t6"))  # forgets t4
            def expire(world):
                turns.append("expire")
                return world.apply("expire_tokens", {})

            b, expired = await second.transaction(b, expire)  # deletes t4 and t5: met the first's change
            assert turns == ["t6", "expire", "expire"] and expired == 2  # made again: t5 and t6
            assert not b.tokens and not (await first.project("bounded")).tokens
            assert t1 not in b.tokens
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_what_a_change_brings_back_waits_for_the_next_read_when_a_read_moved_the_copy_meanwhile(redis_url):
    """A change written over another process's token brings that token back; when a read of the same
    process moved the copy on while the change was on its way, the copy does not take those (maybe
    older) values, and its next read does."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        first, second = (build_engine(MockConfig(state=redis_url)).store for _ in range(2))
        try:
            a, _ = await first.transaction(await first.project("moved"), lambda w: w.apply(
                "issue_token", {"agent_id": "base"}))
            b = await second.project("moved")
            _, other = await first.transaction(a, lambda w: w.apply("issue_token", {"agent_id": "other"}))
            sent = second.redis.scripts_at_once

            async def then_a_read_moves_the_copy(calls):
                answers = await sent(calls)
                second._versions["moved"] = "moved-by-a-read"
                return answers

            second.redis.scripts_at_once = then_a_read_moves_the_copy
            b, mine = await second.transaction(b, lambda w: w.apply("issue_token", {"agent_id": "mine"}))
            second.redis.scripts_at_once = sent
            assert other["id"] not in b.tokens and mine["id"] in b.tokens  # not taken from the change's answer
            second._versions["moved"] = first.version("moved")
            scripts = command_calls(redis_url, "evalsha")
            copies = await asyncio.gather(*(second.project("moved") for _ in range(16)))
            assert command_calls(redis_url, "evalsha") - scripts == 1  # one read takes them for all sixteen
            b = copies[0]
            assert list(b.tokens) == list((await first.project("moved")).tokens) and other["id"] in b.tokens
            assert not second._reread  # read, and forgotten
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_a_change_logged_by_an_earlier_release_is_read_and_never_written_over(redis_url):
    """The change log of a Redis an earlier release wrote (``[from, to, fields...]``): a copy behind
    reads the fields it names, and a change meeting it is made again rather than written over it."""
    import asyncio
    import json as json_

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        first, second = (build_engine(MockConfig(state=redis_url)).store for _ in range(2))
        raw = redis_client(redis_url)
        try:
            a, _ = await first.transaction(await first.project("older"), lambda w: w.apply(
                "issue_token", {"agent_id": "new"}))
            b = await second.project("older")
            state, log = first.keys("older")[:2]
            before = first.version("older")
            token = {"id": "from-before", "agent_id": "old", "expires": "", "expires_at": time.time() + 3600}
            raw.hset(state, mapping={"t:from-before": json_.dumps(token), "v": "earlier"})
            raw.lpush(log, json_.dumps([before, "earlier", "t:from-before"]))
            turns = []

            def issue(world):
                turns.append(1)
                return world.apply("issue_token", {"agent_id": "after"})

            a, _ = await first.transaction(a, issue)
            assert len(turns) == 2 and "from-before" in a.tokens  # made again, on the earlier release's change
            b = await second.project("older")
            assert list(b.tokens) == list(a.tokens)
        finally:
            raw.close()
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_a_change_waits_while_another_process_holds_the_projects_lock(redis_url):
    """The lock a process takes when its changes keep meeting others': while another holds it, a change
    is not written; once it is released (or lapses), the change is."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        store = build_engine(MockConfig(state=redis_url)).store
        other = redis_client(redis_url)
        try:
            world = await store.project("locked")
            lock_key = store.keys("locked")[2]
            other.set(lock_key, "another-process", px=5000)
            change = asyncio.ensure_future(store.transaction(
                world, lambda w: w.apply("issue_token", {"agent_id": "waiting"})))
            await asyncio.sleep(0.3)
            assert not change.done() and other.hget(store.keys("locked")[0], "v") is None  # nothing written
            other.delete(lock_key)
            _, token = await asyncio.wait_for(change, 5)
            assert other.hexists(store.keys("locked")[0], f"t:{token['id']}")
            assert other.get(lock_key) is None  # released by its holder
        finally:
            other.close()
            await store.close()

    asyncio.run(scenario())


def test_the_test_double_keeps_its_state_in_the_tests_process():
    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.testing import MockServer

    with pytest.raises(ValueError, match=r"MockServer keeps its state in the test's own process, not in "
                                         r"'redis://127.0.0.1:1/0'"):
        MockServer(MockConfig(state="redis://127.0.0.1:1/0"))


def test_a_redo_reads_again_what_its_failed_try_changed_even_when_another_read_came_first(redis_url):
    """After a change fails (another process wrote first), the fields it touched are read again, even
    if another request of the same process brought the copy up to date meanwhile; a vault request that
    the failed try had reported waits for its report again."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        first, second = (build_engine(MockConfig(state=redis_url)).store for _ in range(2))
        try:
            a = await first.project("redo")
            a, request = await first.transaction(a, lambda w: w.apply(
                "create_request", {"kind": "verification", "agent_id": "agent"}))
            b = await second.project("redo")
            # What a failed try leaves in the first copy: a count, and the request reported by tick.
            a.counters[("scenario", 0, ())] = 5
            a.pending.popleft()
            a._report_verification(a.requests[("verification", request.id)], True)
            touched = {"c", "e", f"r:verification:{request.id}"}
            await second.transaction(b, lambda w: w.apply("issue_token", {"agent_id": "other"}))
            await asyncio.gather(first.project("redo"), first.project("redo", also=touched))
            assert not a.counters and a.event_counter == b.event_counter
            assert a.requests[("verification", request.id)].result is None
            assert [r.id for r in a.pending] == [request.id]  # it will be reported, once
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_serve_in_memory_needs_no_redis_client():
    """The default install has no redis-py: `serve` starts, prints its banner and answers without it."""
    program = ("import sys; sys.modules['redis'] = None; from cloud_backup_mock.cli import main; "
               "main(['serve', '--port', '0'])")
    process = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
    try:
        banner = process.stderr.readline()
        assert "state: memory)" in banner, banner + process.stderr.read() if process.poll() is not None else banner
        port = banner.split("http://127.0.0.1:")[1].split(" ")[0]
        answer = httpx.get(f"http://127.0.0.1:{port}{AGENT_URL}", headers=AUTH, timeout=10)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


def test_coverage_in_redis_is_what_every_replica_answered_per_project(redis_url):
    first, second = Served("--state", redis_url).start(), Served("--state", redis_url).start()
    try:
        with httpx.Client(headers=AUTH, timeout=10) as client:
            client.get(f"{first.url}/v2/team-a/agents/{DOCS_AGENT}")
            client.get(f"{second.url}/v2/team-a/agents/{DOCS_AGENT}", headers={"Prefer": "code=404"})
            client.get(f"{second.url}/v2/team-b/agents/{DOCS_AGENT}", headers={"X-Mock-Scenario": "server-error"})
            team_a = client.get(f"{first.url}/__mock/coverage", params={"project_id": "team-a"}).json()
            assert team_a["operations"]["getAgent"]["seen"] == {"200": 1, "404": 1}
            assert team_a["responses_seen"] == 2
            everyone = client.get(f"{second.url}/__mock/coverage").json()
            assert everyone["operations"]["getAgent"]["seen"] == {"200": 1, "404": 1, "500": 1}
            assert "server-error" in everyone["operations"]["getAgent"]["scenarios"]
    finally:
        first.stop()
        second.stop()


def test_one_processs_changes_asked_for_at_once_are_one_write_and_its_reads_one_read(redis_url):
    """Sixteen requests of one process changing one project at once: their changes are applied in turn
    and written by one script (one compare and set); sixteen reads of it at once are one script."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        store = build_engine(MockConfig(state=redis_url)).store
        try:
            world, _ = await store.transaction(await store.project("busy"), lambda w: w.apply("issue_token", {
                "agent_id": "first"}))  # its first change also puts the project in the index
            scripts = command_calls(redis_url, "evalsha")
            done = await asyncio.gather(*(store.transaction(world, lambda w, n=n: w.apply("issue_token", {
                "agent_id": f"a{n}"})) for n in range(16)))
            assert command_calls(redis_url, "evalsha") - scripts == 1  # one compare and set for all sixteen
            tokens = {token["id"] for _, token in done}
            assert len(tokens) == 16 and tokens < set((await store.project("busy")).tokens)

            reader = build_engine(MockConfig(state=redis_url)).store  # another process, its copy behind
            try:
                await reader.project("busy")
                await store.transaction(world, lambda w: w.apply("issue_token", {"agent_id": "later"}))
                scripts = command_calls(redis_url, "evalsha")
                copies = await asyncio.gather(*(reader.project("busy") for _ in range(16)))
                assert command_calls(redis_url, "evalsha") - scripts == 1
                assert all(copy is copies[0] and len(copy.tokens) == len(tokens) + 2 for copy in copies)

                # Requests a turn or two of the event loop behind the first still go in its round trip.
                async def read_after(turns: int):
                    for _ in range(turns):
                        await asyncio.sleep(0)
                    return await reader.project("busy")

                await store.transaction(world, lambda w: w.apply("issue_token", {"agent_id": "later still"}))
                scripts = command_calls(redis_url, "evalsha")
                copies = await asyncio.gather(*(read_after(turns) for turns in (0, 1, 2, 0, 1, 2)))
                assert command_calls(redis_url, "evalsha") - scripts == 1
                assert all(copy is copies[0] and len(copy.tokens) == len(tokens) + 3 for copy in copies)
            finally:
                await reader.close()
        finally:
            await store.close()

    asyncio.run(scenario())


def test_times_stays_exact_when_two_processes_write_groups_of_changes_at_once(redis_url):
    """Two processes, each taking turns of one ``times: 7`` rule for twenty requests at once: their groups
    meet, are made again on each other's writes, and exactly seven turns are given."""
    import asyncio

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine

    async def scenario():
        stores = [build_engine(MockConfig(state=redis_url)).store for _ in range(2)]
        try:
            worlds = [await store.project("contended") for store in stores]

            async def turns(store, world):
                return [taken for _, taken in await asyncio.gather(*(
                    store.transaction(world, lambda w: w.take_turn(("s", 0, ()), 7, 100)) for _ in range(20)))]

            given = await asyncio.gather(*(turns(store, world) for store, world in zip(stores, worlds)))
            assert sum(map(sum, given)) == 7
            for store in stores:
                assert (await store.project("contended")).counters[("s", 0, ())] == 7
        finally:
            for store in stores:
                await store.close()

    asyncio.run(scenario())
