"""The world keeps its state bounded and reports on the agent's behalf in time."""

from datetime import datetime, timedelta, timezone

import pytest

from cloud_backup_mock.engine.world import EffectError, ProjectWorld, Seed, Settings


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


def world(clock, **settings):
    agent = {"id": "a1", "vault": {"encrypted": False}}
    return ProjectWorld("p", Seed(Settings(**settings), [agent]), clock)


def test_expired_and_surplus_tokens_are_forgotten(clock):
    w = world(clock, token_ttl_seconds=10, max_tokens=3)
    first = w.apply("issue_token", {"agent_id": "a1"})
    assert w.token(first["id"]) is not None
    clock.advance(11)
    assert w.token(first["id"]) is None
    w.tick()
    assert first["id"] not in w.tokens
    ids = [w.apply("issue_token", {})["id"] for _ in range(5)]
    assert list(w.tokens) == ids[-3:]


def test_vault_requests_are_capped_oldest_first(clock):
    w = world(clock, max_vault_requests=2, auto_report_after_seconds=None)
    made = [w.apply("create_request", {"kind": "verification", "agent_id": "a1"}) for _ in range(3)]
    assert w.request("verification", "a1", made[0].id) is None
    assert [w.request("verification", "a1", r.id) for r in made[1:]] == made[1:]


def test_auto_report_after_the_delay_but_not_over_a_manual_report(clock):
    w = world(clock, auto_report_after_seconds=5, auto_report_verified=False)
    auto = w.apply("create_request", {"kind": "verification", "agent_id": "a1"})
    manual = w.apply("create_request", {"kind": "verification", "agent_id": "a1"})
    w.apply("report_verification", {"request_id": manual.id, "verified": True})
    clock.advance(4)
    assert w.request("verification", "a1", auto.id).result is None
    clock.advance(1)
    assert w.request("verification", "a1", auto.id).result["valid"] is False
    assert w.request("verification", "a1", manual.id).result["valid"] is True


def test_successful_enable_report_encrypts_the_vault(clock):
    w = world(clock, auto_report_after_seconds=None)
    request = w.apply("create_request", {"kind": "encryption", "agent_id": "a1"})
    assert request.action == "enabled"
    w.apply("report_encryption", {"request_id": request.id, "action": "enabled", "succeeded": True})
    assert w.agent("a1")["vault"]["encrypted"] is True


def test_effect_errors_name_the_problem(clock):
    w = world(clock)
    with pytest.raises(EffectError, match="unknown effect 'explode'; known: advance_clock, configure, create_request"):
        w.apply("explode", {})
    with pytest.raises(EffectError, match="effect 'configure': unknown setting 'colour'"):
        w.apply("configure", {"max_agents": 5, "colour": "red"})
    assert w.settings.max_agents == 1000 and not w.touched  # nothing changed by a refused configure
    with pytest.raises(EffectError, match="no agent 'zz' in project 'p'"):
        w.apply("set_vault_encrypted", {"agent_id": "zz"})


def test_vault_requests_never_reported_stay_bounded():
    seed = Seed(Settings(auto_report_after_seconds=None, max_vault_requests=10), [{"id": "a", "vault": {"encrypted": True}}])
    world = ProjectWorld("p", seed)
    for _ in range(50):
        world.apply("create_request", {"kind": "verification", "agent_id": "a"})
    world.tick()
    assert len(world.requests) == 10 and len(world.pending) == 10


def test_settings_hold_only_immutable_values():
    """Worlds copy the seed's settings shallowly: a list kept in them would be shared between projects."""
    import dataclasses

    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.engine import build_engine, complete
    from cloud_backup_mock.engine.world import Settings

    engine = build_engine(MockConfig(settings={"always_valid_tokens": ["a-token"]}))
    assert engine.seed.settings.always_valid_tokens == ("a-token",)
    world = complete(engine.store.project("p1"))
    world.apply("configure", {"always_valid_tokens": ["b-token"]})
    for settings in (engine.seed.settings, world.settings, Settings()):
        for field in dataclasses.fields(Settings):
            hash(getattr(settings, field.name))  # raises for a list or a dict
    assert world.settings.always_valid_tokens == ("b-token",) and engine.seed.settings.always_valid_tokens == ("a-token",)
