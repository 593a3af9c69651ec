"""The Store protocol (``engine/store.py``), one suite run over each implementation: ``MemoryStore``
(``[memory]``) and ``RedisStore`` on a real redis-server (``[redis]``) and on a real Redis Cluster of
three masters (``[cluster]``).

Checks every method: ``project``, ``peek``, ``transaction``, ``reserve_added``, ``reset``, ``health``,
``journal`` (``add``, ``read`` with its filters and masks, ``remove``, ``stats``) and ``close``; and the
bounds each store keeps: ``max_projects``, ``max_added_scenarios_total``, the journal's
``journal_entries`` with its fair eviction, and the world setting ``max_tokens``.

Stores are built as the app builds them (``build_engine(MockConfig(state=...)).store``); each Redis test
has a database of its own, empty, and each cluster test the cluster emptied (``empty_redis`` of the
shared-state tests)."""

import asyncio

import pytest

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.engine import build_engine
from cloud_backup_mock.engine.world import EffectError
from cloud_backup_mock.testing import DOCS_AGENT
from test_shared_state import empty_redis

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.fixture(params=["memory", "redis", "cluster"])
def state(request) -> str:
    """``MockConfig.state`` for the store under test (an empty Redis database, or an emptied Redis Cluster);
    Redis absent: skip, or fail under CI/REQUIRE_REDIS."""
    return "memory" if request.param == "memory" else empty_redis(request, request.param)


def run(state: str, check, settings=None, **limits) -> None:
    """``check(store)`` in an event loop of its own, on a store built with these limits and world settings."""
    async def main():
        store = build_engine(MockConfig(state=state, limits=limits, settings=settings or {})).store
        try:
            await check(store)
        finally:
            await store.close()

    asyncio.run(main())


async def change(store, project_id: str, **settings):
    """One transaction on the project: ``configure`` with these settings; its result."""
    world = await store.project(project_id)
    return (await store.transaction(world, lambda w: w.apply("configure", settings)))[1]


def entry(project_id, n=0, operation="getAgent", status=200, body=b"", headers=()):
    """A raw journal entry as the HTTP layer records it (``exchange._record``)."""
    return {"time": T0 + n, "project_id": project_id, "operation": operation, "method": "GET",
            "path": f"/v2/{project_id}/agents/{DOCS_AGENT}", "query": b"limit=5",
            "headers": [(b"X-Auth-Token", b"secret-token"), (b"accept", b"application/json"), *headers],
            "body": body, "scenario": None, "rule": None, "status": status,
            "response": {"headers": [(b"content-type", b"application/json")], "body": b'{"ok": true}'}}


def test_project_starts_from_the_seed_and_peek_makes_no_state(state):
    async def check(store):
        assert await store.peek("p-new") is None
        world = await store.project("p-new")
        assert world.project_id == "p-new" and DOCS_AGENT in world.agents and not world.tokens
        assert world.settings.token_ttl_seconds == 86400
        # Reading is not changing: a project only read has no state (protocol: "peek makes no state").
        assert await store.peek("p-new") is None
        assert (await store.health())["projects"] == 0

    run(state, check)


def test_a_transaction_returns_the_steps_result_and_its_change_is_seen_later(state):
    async def check(store):
        world = await store.project("p-tx")
        changed, token = await store.transaction(world, lambda w: w.apply("issue_token", {"agent_id": "a"}))
        assert changed.project_id == "p-tx" and token["agent_id"] == "a" and token["id"] in changed.tokens
        assert token["id"] in (await store.project("p-tx")).tokens
        peeked = await store.peek("p-tx")
        assert peeked is not None and token["id"] in peeked.tokens
        assert await change(store, "p-tx", token_ttl_seconds=60) == {"token_ttl_seconds": 60}
        assert (await store.project("p-tx")).settings.token_ttl_seconds == 60
        assert (await store.project("p-other")).settings.token_ttl_seconds == 86400  # projects kept apart

    run(state, check)


def test_a_step_that_raises_changes_nothing(state):
    async def check(store):
        await change(store, "p-raise", token_ttl_seconds=60)
        with pytest.raises(EffectError, match="unknown setting 'nonsense'"):
            await change(store, "p-raise", token_ttl_seconds=5, nonsense=1)
        assert (await store.project("p-raise")).settings.token_ttl_seconds == 60
        assert await change(store, "p-raise", max_agents=3) == {"max_agents": 3}  # the next change is kept
        world = await store.project("p-raise")
        assert (world.settings.token_ttl_seconds, world.settings.max_agents) == (60, 3)

    run(state, check)


def test_reset_forgets_one_project_then_all(state):
    async def check(store):
        for project_id in ("p-a", "p-b", "p-c"):
            await change(store, project_id, token_ttl_seconds=60)
        await store.reset("p-a")
        assert await store.peek("p-a") is None
        assert (await store.project("p-a")).settings.token_ttl_seconds == 86400  # the seed's again
        assert (await store.peek("p-b")).settings.token_ttl_seconds == 60  # the others are kept
        await store.reset()
        assert await store.peek("p-b") is None and await store.peek("p-c") is None
        assert (await store.health())["projects"] == 0

    run(state, check)


def test_health_names_the_store_and_counts_projects_with_state(state):
    async def check(store):
        health = await store.health()
        kind = "memory" if state == "memory" else "redis"  # a cluster too: its URL says which
        assert (health["status"], health["kind"], health["projects"]) == ("ok", kind, 0)
        assert health.get("url", state) == state
        await change(store, "p-h1", max_agents=5)
        await change(store, "p-h2", max_agents=5)
        await change(store, "p-h1", max_agents=6)
        assert (await store.health())["projects"] == 2
        await store.reset("p-h2")
        assert (await store.health())["projects"] == 1

    run(state, check)


def test_added_scenarios_are_bounded_all_projects_together(state):
    async def check(store):
        assert await store.reserve_added("p-r1", 2) and await store.reserve_added("p-r2", 1)
        assert not await store.reserve_added("p-r1", 1)  # 4 > max_added_scenarios_total
        assert await store.reserve_added("p-r2", -1)  # a negative count gives room back
        assert await store.reserve_added("p-r1", 1)
        assert not await store.reserve_added("p-r3", 1)
        await store.reset()  # every count forgotten with the projects
        assert await store.reserve_added("p-r3", 3)

    run(state, check, max_added_scenarios_total=3)


def test_projects_beyond_max_projects_forget_the_least_recently_used(state):
    async def check(store):
        for project_id in ("p-0", "p-1", "p-2"):
            await change(store, project_id, token_ttl_seconds=60)
        assert await store.peek("p-0") is None  # forgotten, all of it
        for project_id in ("p-1", "p-2"):
            assert (await store.peek(project_id)).settings.token_ttl_seconds == 60
        assert (await store.health())["projects"] == 2
        assert (await store.project("p-0")).settings.token_ttl_seconds == 86400  # back to the seed

    run(state, check, max_projects=2)


def test_tokens_beyond_max_tokens_forget_the_oldest(state):
    async def check(store):
        world = await store.project("p-tok")
        ids = [(await store.transaction(world, lambda w: w.apply("issue_token", {})))[1]["id"] for _ in range(3)]
        assert list((await store.project("p-tok")).tokens) == ids[1:]

    run(state, check, settings={"max_tokens": 2})


def test_the_journal_keeps_filters_and_masks_entries(state):
    async def check(store):
        journal = store.journal(["X-Api-Key", "api_key"])
        body = b'{"password": "hunter2", "api_key": "k", "name": "n"}'
        await journal.add(entry("p-j1", 0, body=body, headers=[(b"X-Api-Key", b"k")]))
        await journal.add(entry("p-j2", 1, operation="listAgents", status=404))
        await journal.add(entry("p-j1", 2, operation="listAgents"))
        everything = await journal.read()
        assert [(e["project_id"], e["operation"], e["status"]) for e in everything] == [
            ("p-j1", "getAgent", 200), ("p-j2", "listAgents", 404), ("p-j1", "listAgents", 200)]
        ids = [e["id"] for e in everything]
        assert ids == sorted(ids) and len(set(ids)) == 3
        first = everything[0]
        assert first["time"] == "2023-11-14T22:13:20.000Z" and first["query"] == {"limit": ["5"]}
        # Secret headers and body fields (the built-in ones and those given) are masked when read.
        assert first["headers"] == {"x-auth-token": "***", "accept": "application/json", "x-api-key": "***"}
        assert first["body"] == {"password": "***", "api_key": "***", "name": "n"}
        assert first["response"]["status"] == 200 and first["response"]["body"] == {"ok": True}
        unmasked = (await journal.read(unmasked_bodies=True))[0]
        assert unmasked["body"]["password"] == "hunter2" and unmasked["headers"]["x-auth-token"] == "***"

        def shown(found):
            return [e["id"] for e in found]
        assert shown(await journal.read(project_id="p-j1")) == [ids[0], ids[2]]
        assert shown(await journal.read(operation="listAgents")) == ids[1:]
        assert shown(await journal.read(status=404)) == [ids[1]]
        assert shown(await journal.read(project_id="p-j1", operation="listAgents")) == [ids[2]]
        assert shown(await journal.read(limit=2)) == ids[:2]
        assert shown(await journal.read(after=ids[0])) == ids[1:]
        assert shown(await journal.read(project_id="nobody")) == []

        stats = await journal.stats()
        assert stats["entries"] == 3 and stats["bytes"] > 0
        assert await journal.remove("p-j1") == 2
        assert shown(await journal.read()) == [ids[1]] and (await journal.stats())["entries"] == 1
        await journal.add(entry("p-j3", 3))
        assert await journal.remove() == 2
        assert await journal.read() == [] and await journal.stats() == {"entries": 0, "bytes": 0}

    run(state, check)


def test_the_journal_is_bounded_and_a_noisy_project_loses_its_own_entries_first(state):
    async def check(store):
        journal = store.journal([])
        await journal.add(entry("quiet", 0))
        for n in range(1, 6):
            await journal.add(entry("noisy", n))
        # Over journal_entries, the oldest entry of the project holding the most goes: never the quiet one's.
        kept = await journal.read()
        assert [(e["project_id"], e["time"][17:19]) for e in kept] == [
            ("quiet", "20"), ("noisy", "23"), ("noisy", "24"), ("noisy", "25")]
        assert [e["id"] for e in kept] == [1, 4, 5, 6] and (await journal.stats())["entries"] == 4

    run(state, check, journal_entries=4)


def test_entries_recorded_at_once_are_kept_and_dropped_as_when_recorded_one_at_a_time(state):
    """Entries recorded at once (in Redis: one round trip, one script call for them all) keep the bounds as
    the same entries recorded one at a time do: past them, the oldest of the heaviest project go first,
    for as long as it stays the heaviest."""
    from cloud_backup_mock.engine.journal import MemoryJournal
    from shared_state import command_calls

    sizes = [("a", 300), ("b", 50), ("a", 10), ("c", 700), ("b", 20), ("a", 5), ("c", 1), ("b", 900), ("a", 40),
             ("c", 2), ("a", 3000), ("b", 7)]

    def entries():
        return [entry(project, n, body=b"x" * size) for n, (project, size) in enumerate(sizes)]

    one_at_a_time = MemoryJournal(5)

    async def check(store):
        journal = store.journal([])
        for first in (entries()[:6], entries()[6:]):  # the first time, the scripts are loaded too
            for one in first:
                await one_at_a_time.add(dict(one))
            calls = command_calls(state, "evalsha") if state != "memory" else 0
            await asyncio.gather(*(journal.add(one) for one in first))
            if state != "memory" and first[0]["time"] != T0:
                assert command_calls(state, "evalsha") - calls == 1
            kept, expected = await journal.read(), await one_at_a_time.read()
            assert [(e["project_id"], e["time"], e["id"]) for e in kept] == [
                (e["project_id"], e["time"], e["id"]) for e in expected]
            assert (await journal.stats())["entries"] == (await one_at_a_time.stats())["entries"] == len(kept)

    run(state, check, journal_entries=5)


def test_an_entry_past_the_byte_bound_drops_as_many_as_it_takes_at_once_or_one_at_a_time(state):
    """A heavy entry past ``journal_bytes`` drops several of the heaviest project's oldest, then the next
    heaviest's: the same ones whether its entries were recorded one at a time or at once."""
    sizes = [("a", 400), ("b", 300), ("a", 350), ("c", 200), ("b", 250), ("a", 100), ("c", 2500), ("b", 50),
             ("a", 3000), ("c", 10), ("b", 2900)]

    def entries():
        return [entry(project, n, body=b"x" * size) for n, (project, size) in enumerate(sizes)]

    async def check(store):
        journal = store.journal([])
        for one in entries():
            await journal.add(one)
        one_at_a_time = [(e["project_id"], e["time"]) for e in await journal.read()]
        assert 2 < len(one_at_a_time) < len(sizes) - 2  # the bytes dropped several
        await journal.remove()
        await asyncio.gather(*(journal.add(one) for one in entries()))
        assert [(e["project_id"], e["time"]) for e in await journal.read()] == one_at_a_time
        assert (await journal.stats())["entries"] == len(one_at_a_time)

    run(state, check, journal_bytes=6000)


def test_removing_an_added_scenario_keeps_the_other_counts_and_gives_its_room_back(state):
    async def check(_):
        engine = build_engine(MockConfig(state=state, limits={"max_added_scenarios_total": 1}))
        try:
            def refusal(name):
                return {"name": name, "description": "d", "rules": [
                    {"operation": "authenticateAgent", "times": 3, "response": {"status": 401, "body": {"message": "no"}}}]}

            await engine.add_scenario("p-rm", refusal("a"))
            world = await engine.store.project("p-rm")
            keys = [("a", 0, ()), ("upstream-unavailable", 0, (("failures", 2),))]
            world, _ = await engine.store.transaction(world, lambda w: [w.take_turn(k, 3, 10) for k in keys])
            await engine.add_scenario("p-rm", refusal("a"))  # added again: its own count starts again
            assert dict((await engine.store.project("p-rm")).counters) == {keys[1]: 1}
            world, _ = await engine.store.transaction(await engine.store.project("p-rm"),
                                                      lambda w: w.take_turn(keys[0], 3, 10))
            assert await engine.remove_scenario("p-rm", "a") and not await engine.remove_scenario("p-rm", "a")
            world = await engine.store.project("p-rm")
            assert world.added == {} and dict(world.counters) == {keys[1]: 1}
            await engine.add_scenario("p-other", refusal("b"))  # the removed one's room is free again
        finally:
            await engine.store.close()

    run(state, check)


def test_records_moves_and_the_clock_are_kept(state):
    """The resource model's records (made, moved by the clock, moved by a patch) read back as they were left,
    from another copy of the store too (Redis: what another process sees)."""
    async def check(store):
        model = store.seed.model
        world = await store.project("p-res")
        request = model.creation("backup", "p-res", {"configuration_id": "7c8ee069-568f-4d5a-932f-fb2af86b5fd5",
                                                     "state": "start_requested"}, "http://mock.test")
        world, outcome = await store.transaction(world, lambda w: model.answer(request, w))
        assert outcome.status == 201
        backup_id = outcome.body["id"]
        world, _ = await store.transaction(world, lambda w: w.apply("advance_clock", {"seconds": 10}))
        assert world.record("backup", backup_id)["state"] == "preparing" and world.clock_offset == 10
        again = build_engine(MockConfig(state=state)).store if state != "memory" else store
        try:
            read = await again.project("p-res")
            assert read.clock_offset == 10 and read.record("backup", backup_id)["state"] == "preparing"
            assert ("backup", backup_id) in read.moving  # it goes on moving there too
            assert [e["event"] for e in read.records["event"].values()][-3:] == [
                "backup_start_request", "backup_queued", "backup_preparing"]
            read, _ = await again.transaction(read, lambda w: model.force(w, "backup", backup_id, "failed"))
            assert read.record("backup", backup_id)["state"] == "failed" and not read.moving
        finally:
            if again is not store:
                await again.close()
        assert (await store.project("p-res")).record("backup", backup_id)["state"] == "failed"

    run(state, check)


def test_each_kind_is_bounded_per_project(state):
    async def check(store):
        model = store.seed.model
        world = await store.project("p-bound")

        def make(kind, **body):
            request = model.creation(kind, "p-bound", body, "http://mock.test")
            return lambda w: model.answer(request, w)

        body = {"agent_id": DOCS_AGENT, "name": "c", "enabled": True, "schedule": {}, "retention": {},
                "inclusions": [], "exclusions": [], "notifications": []}
        world, made = await store.transaction(world, make("configuration", **body))
        assert made.status == 201
        world, refused = await store.transaction(world, make("configuration", **body))
        assert refused.status == 403 and "setting max_configurations" in refused.body["errors"][0]
        backup = {"configuration_id": made.body["id"], "state": "start_requested"}
        world, first = await store.transaction(world, make("backup", **backup))
        world, _ = await store.transaction(world, lambda w: model.force(w, "backup", first.body["id"], "completed"))
        world, second = await store.transaction(world, make("backup", **backup))
        world, third = await store.transaction(world, make("backup", **backup))  # the ended first one goes
        assert (second.status, third.status) == (201, 201)
        assert set((await store.project("p-bound")).records["backup"]) == {second.body["id"], third.body["id"]}
        world, full = await store.transaction(world, make("backup", **backup))  # none has ended: refused
        assert full.status == 403 and "setting max_backups" in full.body["errors"][0]
        events = (await store.project("p-bound")).records["event"]
        assert len(events) == 3  # max_events: the newest three

    run(state, check, settings={"max_configurations": 2, "max_backups": 2, "max_events": 3})
