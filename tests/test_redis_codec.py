"""How a project's state is written to Redis fields and read back (no Redis needed: the codec alone)."""

from cloud_backup_mock.engine.redis_codec import apply, decode, encode, field_names, forgotten_names
from cloud_backup_mock.engine.world import Seed, Settings
from test_world import clock, world  # noqa: F401 - the world tests' clock fixture and world maker


def test_a_copy_brought_up_to_date_keeps_tokens_and_requests_oldest_first(clock):
    """What another process made arrives a little out of order; the copy still forgets the oldest first."""
    maker, copy = (world(clock, max_tokens=100, auto_report_after_seconds=None) for _ in range(2))
    made = []
    for n in range(6):
        made.append(maker.apply("issue_token", {"agent_id": "a1"})["id"])
        maker.apply("create_request", {"kind": "verification", "agent_id": "a1"})
        clock.advance(1)
    requests = list(maker.requests)
    shuffled = [made[0], made[3], made[1], made[5], made[2], made[4]]
    fields = {f"t:{token}": encode(maker, {f"t:{token}"})[f"t:{token}"] for token in shuffled}
    fields.update({f"r:{kind}:{request}": encode(maker, {f"r:{kind}:{request}"})[f"r:{kind}:{request}"]
                   for kind, request in [requests[4], requests[0], requests[2], requests[1], requests[5], requests[3]]})
    apply(copy, fields, lambda document: None)
    assert list(copy.tokens) == made
    assert list(copy.requests) == requests
    assert [request.id for request in copy.pending] == [request_id for _, request_id in requests]
    apply(copy, encode(maker, {f"t:{made[2]}"}), lambda document: None)  # known: stays
    assert list(copy.tokens) == made


def test_a_whole_project_read_in_hash_order_is_put_in_order_without_moving_any_record(clock):
    """A copy read whole gets its fields in Redis's hash order: each token and vault request still goes
    straight to its place (moving the newer ones aside for each would be quadratic: 13 s for 10,000)."""
    import random

    from cloud_backup_mock.engine.world import ProjectWorld

    class Counted(dict):
        moved = 0

        def popitem(self):
            Counted.moved += 1
            return super().popitem()

    maker = world(clock, auto_report_after_seconds=None)
    for n in range(300):
        maker.apply("issue_token", {"agent_id": "a1"})
        maker.apply("create_request", {"kind": "verification", "agent_id": "a1"})
        clock.advance(1)
    fields = list(encode(maker, field_names(maker)).items())
    random.Random(7).shuffle(fields)
    copy = ProjectWorld("p", _seed(), clock, empty=True)
    copy.tokens, copy.requests = Counted(), Counted()
    apply(copy, dict(fields), lambda document: None)
    assert Counted.moved == 0
    assert list(copy.tokens) == list(maker.tokens) and list(copy.requests) == list(maker.requests)
    assert [request.id for request in copy.pending] == [request_id for _, request_id in maker.requests]


def _seed():
    return Seed(Settings(auto_report_after_seconds=None), [{"id": "a1", "vault": {"encrypted": False}}])


def test_a_copy_holding_more_requests_than_the_bound_keeps_every_waiting_one_in_line(clock):
    """Two processes each made a vault request at the bound: the project holds one more for a moment, and
    no request still waiting for its report leaves the line (it would never be reported)."""
    maker = world(clock, max_vault_requests=5, auto_report_after_seconds=None)
    for _ in range(3):
        maker.apply("create_request", {"kind": "verification", "agent_id": "a1"})
        clock.advance(1)
    copy = world(clock, max_vault_requests=2, auto_report_after_seconds=None)
    copy.requests.clear()
    copy.pending.clear()
    apply(copy, encode(maker, field_names(maker)), lambda document: None)
    assert [request.id for request in copy.pending] == [request_id for _, request_id in maker.requests]
    reported = next(iter(maker.requests))
    maker.apply("report_verification", {"request_id": reported[1], "verified": True})
    apply(copy, encode(maker, {f"r:{reported[0]}:{reported[1]}"}), lambda document: None)
    waiting = [request.id for request in copy.pending if copy.requests[("verification", request.id)].result is None]
    assert waiting == [request_id for _, request_id in list(maker.requests)[1:]]
    assert len(copy.pending) <= max(2, len(copy.requests))  # still bounded


def test_a_line_kept_at_the_bound_is_not_walked_whole_at_each_change(clock):
    """Another process makes a vault request at the bound, forgetting the oldest, at every change: the copy's
    line drops the forgotten one from its head and is never walked whole (walking it at each change made the
    line's length a cost of every request on a busy project)."""
    from collections import deque

    class Walked(deque):
        items = 0

        def __iter__(self):
            for request in super().__iter__():
                Walked.items += 1
                yield request

    maker = world(clock, max_vault_requests=20, auto_report_after_seconds=None)
    copy = world(clock, max_vault_requests=20, auto_report_after_seconds=None)
    copy.requests.clear()
    copy.pending = Walked()
    for _ in range(200):
        maker.touched.clear()
        maker.apply("create_request", {"kind": "verification", "agent_id": "a1"})
        clock.advance(1)
        apply(copy, encode(maker, field_names(maker, maker.touched)), lambda document: None)
    assert Walked.items == 0
    assert [request.id for request in copy.pending] == [request_id for _, request_id in maker.requests]


def test_the_mark_of_an_independent_change_in_the_change_log_is_a_field_every_reader_passes_over(clock):
    """The change log marks an independent change with ``~<n>`` where a field name goes: a process of an
    earlier release, reading it as a field, finds no value and applies nothing."""
    w = world(clock, auto_report_after_seconds=None)
    w.apply("issue_token", {"agent_id": "a1"})
    before = encode(w, field_names(w))
    apply(w, {"~0": None, "~3": None}, lambda document: None)
    assert encode(w, field_names(w)) == before


def test_a_change_writes_the_fields_of_what_it_touched(clock):
    w = world(clock, auto_report_after_seconds=None)
    token = w.apply("issue_token", {"agent_id": "a1"})
    w.apply("set_vault_encrypted", {"agent_id": "a1"})
    w.select([("slow", {"seconds": 1})])
    assert field_names(w, w.touched) == {f"t:{token['id']}", "a:a1", "sel", "c"}


def test_tokens_and_requests_past_their_bound_are_only_forgotten_and_such_a_change_is_independent(clock):
    w = world(clock, max_tokens=1, max_vault_requests=1, auto_report_after_seconds=None)
    first = w.apply("issue_token", {"agent_id": "a1"})["id"]
    request = w.apply("create_request", {"kind": "verification", "agent_id": "a1"}).id
    w.touched.clear()
    second = w.apply("issue_token", {"agent_id": "a1"})["id"]
    later = w.apply("create_request", {"kind": "verification", "agent_id": "a1"}).id
    assert field_names(w, w.touched) == {f"t:{first}", f"t:{second}", f"r:verification:{request}",
                                         f"r:verification:{later}"}
    assert forgotten_names(w.touched) == {f"t:{first}", f"r:verification:{request}"}
    assert w.independent()
    w.touch("token", first)  # touched otherwise too: no longer only forgotten
    assert forgotten_names(w.touched) == {f"r:verification:{request}"} and w.independent()
    w.apply("set_vault_encrypted", {"agent_id": "a1"})
    assert not w.independent()


def test_the_whole_state_reads_back_as_it_was_written(clock):
    w = world(clock, auto_report_after_seconds=None)
    w.apply("issue_token", {"agent_id": "a1"})
    w.apply("create_request", {"kind": "encryption", "agent_id": "a1"})
    w.apply("configure", {"max_agents": 7})
    w.select([("slow", {"seconds": 1})])
    assert w.take_turn(("slow", 0, ()), 2, 10)
    fields = encode(w, field_names(w))
    back = decode("p", Seed(Settings(), []), clock, fields, lambda document: None)
    assert encode(back, field_names(back)) == fields
    assert back.settings.max_agents == 7 and back.counters == w.counters and back.active == w.active
