"""How a project's state is written to Redis: each record or setting as one hash field of JSON text.

Field names: ``a:<agent>``, ``x:<kind>:<record>`` (the other kinds of resources.yaml), ``t:<token>``,
``r:<kind>:<request>``, and ``s`` (settings), ``e`` (the event counter), ``k`` (how far the project's clock
is ahead), ``sel`` (selections), ``add`` (added scenarios' documents), ``c`` (``times`` counts). A change
writes the fields of the records it touched (``ProjectWorld.touched``); a field written as None is gone.
A record only forgotten (``("forgotten", (part, key))``) is the same field as the record.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from datetime import datetime, timezone
from typing import Any, Callable

from .world import ProjectWorld, Seed, Settings, VaultRequest, Clock

_SINGLE = {"settings": "s", "events": "e", "clock": "k", "selections": "sel", "added": "add", "counts": "c"}
_KEYED = {"agent": "a", "token": "t", "vault_request": "r"}


def field_names(world: ProjectWorld, touched: set[tuple[str, Any]] | None = None) -> set[str]:
    """The fields of the records touched (default: every field of the state)."""
    if touched is None:
        return set(_SINGLE.values()) | {f"a:{i}" for i in world.agents} | {f"t:{i}" for i in world.tokens} | {
            f"r:{k}:{i}" for k, i in world.requests} | {
            f"x:{kind}:{i}" for kind, table in world.records.items() for i in table}
    names = set()
    for part, key in touched:
        if part == "forgotten":
            part, key = key
        if part in _SINGLE:
            names.add(_SINGLE[part])
        elif part == "vault_request":
            names.add(f"r:{key[0]}:{key[1]}")
        elif part == "record":
            names.add(f"x:{key[0]}:{key[1]}")
        else:
            names.add(f"{_KEYED[part]}:{key}")
    return names


def forgotten_names(touched: set[tuple[str, Any]]) -> set[str]:
    """The fields of the tokens and vault requests the change only forgot (expired, past their bound),
    not also touched otherwise."""
    forgotten = {key for part, key in touched if part == "forgotten"}
    return field_names(None, forgotten - touched) if forgotten else set()


def encode(world: ProjectWorld, names: set[str]) -> dict[str, str | None]:
    """The fields named, as field name -> JSON text; None for a record that is gone."""
    return {name: _field(world, name) for name in names}


def _field(world: ProjectWorld, name: str) -> str | None:
    kind, _, key = name.partition(":")
    if kind == "a":
        value = world.agents.get(key)
    elif kind == "t":
        token = world.tokens.get(key)
        value = None if token is None else {**token, "expires_at": token["expires_at"].timestamp()}
    elif kind == "r":
        request = world.requests.get(tuple(key.split(":", 1)))
        value = None if request is None else {**vars(request), "created": request.created.timestamp()}
    elif kind == "x":
        record_kind, _, record_id = key.partition(":")
        value = world.record(record_kind, record_id)
    elif name == "k":
        value = world.clock_offset
    elif name == "s":
        value = {**vars(world.settings), "always_valid_tokens": list(world.settings.always_valid_tokens)}
    elif name == "e":
        value = world.event_counter
    elif name == "sel":
        value = [[n, p] for n, p in world.active]
    elif name == "add":
        value = list(world.added_documents.values())
    elif name == "c":
        value = [[list(k[:2]) + [list(map(list, k[2]))], n] for k, n in world.counters.items()]
    else:
        raise KeyError(name)
    return None if value is None else json.dumps(value, separators=(",", ":"))


def decode(project_id: str, seed: Seed, clock: Clock, fields: dict[str, str],
           compile_added: Callable[[dict[str, Any]], Any]) -> ProjectWorld:
    """The state :func:`encode` wrote (``compile_added`` makes a scenario of an added document)."""
    world = ProjectWorld(project_id, seed, clock, empty=True)
    apply(world, fields, compile_added)
    return world


def apply(world: ProjectWorld, fields: dict[str, str | None], compile_added: Callable[[dict[str, Any]], Any]) -> None:
    """Bring ``world`` up to date with fields that changed, as :func:`encode` wrote them (None: gone)."""
    # Tokens, vault requests and records in the order they are kept, so that each new one goes at the end
    # (a whole project comes in Redis's hash order: placing each among the others would be quadratic).
    changes = sorted(((name, None if text is None else json.loads(text)) for name, text in fields.items()),
                     key=_kept_order)
    for name, value in changes:
        kind, _, key = name.partition(":")
        if kind == "a":
            if value is None:
                world.agents.pop(key, None)
            else:
                world.agents[key] = value
        elif kind == "t":
            if value is None:
                world.tokens.pop(key, None)
            else:  # a token already kept keeps its place; a new one goes in expiry order
                token = {**value, "expires_at": datetime.fromtimestamp(value["expires_at"], timezone.utc)}
                if key in world.tokens:
                    world.tokens[key] = token
                else:
                    _put_in_order(world.tokens, key, token, _expiry)
        elif kind == "r":
            request_key = tuple(key.split(":", 1))
            if value is None:
                world.requests.pop(request_key, None)
            else:
                request = VaultRequest(**{**value, "created": datetime.fromtimestamp(value["created"], timezone.utc)})
                kept = world.requests.get(request_key)
                if request.result is None and (kept is None or kept.result is not None):
                    # waits for its report (again, if a change of this copy that reported it failed);
                    # tick reads it by its id
                    _put_in_line(world.pending, request)
                if kept is not None:
                    world.requests[request_key] = request
                else:
                    _put_in_order(world.requests, request_key, request, _creation)
        elif kind == "x":
            record_kind, _, record_id = key.partition(":")
            table = world.table(record_kind)
            if value is None:
                table.pop(record_id, None)
                world.moving.discard((record_kind, record_id))
            else:
                if record_id in table:
                    table[record_id] = value
                else:
                    _put_in_order(table, record_id, value, _made)
                world.track(record_kind, value)
        elif name == "k" and value is not None:
            world.clock_offset = value
        elif name == "s" and value is not None:
            world.settings = Settings(**{**value, "always_valid_tokens": tuple(value["always_valid_tokens"])})
        elif name == "e" and value is not None:
            world.event_counter = value
        elif name == "sel":
            world.active = [(n, p) for n, p in value or []]
        elif name == "c":
            world.counters = OrderedDict(((k[0], k[1], tuple(map(tuple, k[2]))), n) for k, n in value or [])
        elif name == "add":
            world.added_documents = {document["name"]: document for document in value or []}
            world.added = {name: compile_added(document) for name, document in world.added_documents.items()}
    # The line holds at most twice what the project may hold (it may hold more than the bound for a moment):
    # the oldest leave while they no longer wait, and past twice, every one no longer waiting leaves at once,
    # so a line kept full of waiting requests is walked once every so many changes, not at each.
    bound = max(world.settings.max_vault_requests, len(world.requests))
    while len(world.pending) > bound and not _waiting(world, world.pending[0]):
        world.pending.popleft()
    if len(world.pending) > 2 * bound:
        waiting = [r for r in world.pending if _waiting(world, r)]
        world.pending.clear()
        world.pending.extend(waiting)


def _waiting(world: ProjectWorld, request: VaultRequest) -> bool:
    kept = world.requests.get((request.kind, request.id))
    return kept is not None and kept.result is None


def _kept_order(change: tuple[str, Any]) -> tuple:
    """Where a changed field goes among the others of its kind (fields of different kinds never compare
    past their first item)."""
    name, value = change
    kind, _, key = name.partition(":")
    if kind == "t":
        return ("t", value["expires_at"] if value else 0.0)
    if kind == "r":
        return ("r", value["created"] if value else 0.0)
    if kind == "x":
        return ("x:" + key.partition(":")[0], _made(value) if value else ("", 0))
    return (name,)


def _made(record: dict[str, Any]) -> tuple:
    """The order a kind's records are kept in: seeded first, then as they were made (events by their number)."""
    number = str(record.get("id", ""))
    return (record.get("_created") or "", int(number) if number.isdigit() else 0)


def _expiry(token: dict[str, Any]) -> datetime:
    return token["expires_at"]


def _creation(request: "VaultRequest") -> datetime:
    return request.created


def _put_in_order(items: dict[Any, Any], key: Any, value: Any, order: Callable[[Any], Any]) -> None:
    """Add ``key`` to a dict kept oldest first by ``order`` (tokens, vault requests: they are forgotten
    in that order), after those that are not newer. What another process made meanwhile arrives only a
    little out of order, so only the few newer entries at the end are moved."""
    later = []
    while items and order(items[next(reversed(items))]) > order(value):
        later.append(items.popitem())
    items[key] = value
    for moved_key, moved in reversed(later):
        items[moved_key] = moved


def _put_in_line(pending: deque, request: "VaultRequest") -> None:
    """Add a request to the ones waiting for their report, oldest first, after those not newer."""
    place = len(pending)
    while place and pending[place - 1].created > request.created:
        place -= 1
    pending.insert(place, request)
