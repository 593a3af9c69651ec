"""The mock's stateful world: agents, tokens and vault requests, kept apart per project.

Scenario rules read it through template helpers and change it through named effects
(:meth:`ProjectWorld.apply`); nothing here decides which status an operation answers.
"""

from __future__ import annotations

import copy
import pickle
import threading
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from ..contract.routes import path_segment
from ..yaml_files import YAMLError, load_yaml

Clock = Callable[[], datetime]
FIRST_EVENT_ID = 5650135585  # the number before the first event a project records (the docs' examples are about there)
# The parts of a project's state a change can touch (``ProjectWorld.touched``); keyed ones name the record.
PARTS = ("agent", "record", "token", "vault_request", "settings", "events", "clock", "selections", "added", "counts",
         "forgotten")
# Touched only by making, changing or forgetting tokens and vault requests: such a change does not depend
# on another such change made at the same moment (see ``ProjectWorld.independent``).
INDEPENDENT_PARTS = frozenset({"token", "vault_request", "forgotten"})
# Kept on an agent's record, never shown: the registration fingerprint the token request compares.
PRIVATE_AGENT_FIELDS = {"fingerprint"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EffectError(ValueError):
    """An effect that cannot be applied (unknown name, missing argument)."""


@dataclass
class Settings:
    """A project's settings; every field holds an immutable value (worlds copy settings shallowly)."""

    token_ttl_seconds: float = 86400
    auto_report_after_seconds: float | None = 5
    auto_report_verified: bool = True
    auto_report_succeeded: bool = True
    always_valid_tokens: tuple[str, ...] = ()
    max_tokens: int = 10000  # per project; the oldest are forgotten first (expired ones as soon as seen)
    max_vault_requests: int = 1000  # per project; the oldest are forgotten first
    max_agents: int = 1000  # per project; registering one more is refused (403)
    max_field_bytes: int = 8192  # any string in a request body, in UTF-8; longer: 400
    auto_advance_after_seconds: float | None = 5  # a job's automatic move comes this long after its last (None: never)
    auto_end_state: str | None = None  # how an automatic run ends (None: completed); e.g. completed_with_errors, failed
    max_configurations: int = 1000  # per project; creating one more is refused (403)
    max_backups: int = 1000  # per project; beyond, the oldest finished ones are forgotten (403 if none is)
    max_restores: int = 1000  # likewise
    max_cleanups: int = 1000  # likewise
    max_logfiles: int = 100  # per project; likewise
    max_events: int = 1000  # per project; the oldest are forgotten first

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, tuple(value) if isinstance(value, list) else value)  # a list is kept as a tuple


@dataclass
class Seed:
    """What every project's world starts with (``scenarios/world.yaml``)."""

    settings: Settings
    agents: list[dict[str, Any]]
    verification_requests: list[dict[str, Any]] = field(default_factory=list)
    encryption_requests: list[dict[str, Any]] = field(default_factory=list)
    source: str = "world.yaml"
    limits: dict[str, Any] = field(default_factory=dict)  # world.yaml's `limits:` (the server's bounds)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # kind -> its records (not agents)
    browse_requests: list[dict[str, Any]] = field(default_factory=list)
    model: Any = None  # the resource model (resources.ResourceModel): kinds and lifecycles

    @cached_property
    def mutable_parts(self) -> bytes:
        """The parts of the seed a world changes in place (agents; vault and browse requests, each with its
        kind), pickled: each world unpickles its own copy."""
        requests = [("verification", entry) for entry in self.verification_requests]
        requests += [("encryption", entry) for entry in self.encryption_requests]
        requests += [(entry.get("kind", ""), entry) for entry in self.browse_requests]
        return pickle.dumps((self.agents, requests), protocol=pickle.HIGHEST_PROTOCOL)

    @cached_property
    def last_event_id(self) -> int:
        """Where a project's event numbers go on from: after the seed's own events."""
        numbers = [int(e["id"]) for e in self.records.get("event", []) if str(e.get("id", "")).isdigit()]
        return max([FIRST_EVENT_ID, *numbers])

    @classmethod
    def load(cls, path: str | Path, examples: Callable[[str], Any] = lambda name: None,
             left_out: list[str] | None = None) -> "Seed":
        """Read a seed file; an agent entry ``{example: OPERATION, ...}`` starts from that
        operation's documented response example (``examples`` looks it up)."""
        path = Path(path)
        try:
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
            settings = Settings(**(data.get("settings") or {}))
        except (OSError, YAMLError, TypeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        def entries(where: str, raw: Any) -> list[dict[str, Any]]:
            out = []
            for index, entry in enumerate(raw or []):
                try:
                    out.extend(_expand(entry, examples))
                except ValueError as exc:
                    problem = f"{path}: {where}[{index}]: {exc}"
                    if left_out is None:
                        raise ValueError(problem) from None
                    left_out.append(f"{problem}; left out")
            return out

        agents = entries("agents", data.get("agents"))
        records = data.get("records") or {}
        if not isinstance(records, dict):
            raise ValueError(f"{path}: records must be a mapping of kinds to lists of records")
        records = {kind: entries(f"records.{kind}", listed) for kind, listed in records.items()}
        limits = data.get("limits") or {}
        if not isinstance(limits, dict):
            raise ValueError(f"{path}: limits must be a mapping of limit names to numbers")
        return cls(settings, agents, entries("verification_requests", data.get("verification_requests")),
                   entries("encryption_requests", data.get("encryption_requests")), str(path), limits, records,
                   entries("browse_requests", data.get("browse_requests")))


def _expand(entry: Any, examples: Callable[[str], Any]) -> list[Any]:
    """A seed entry with its example references filled in: a mapping ``{example: OPERATION, at: FIELD, ...}``
    is that operation's documented success example (its field ``at``), with the mapping's other keys over it
    (themselves expanded); ``{examples: OPERATION}`` is every item of a list example."""
    if isinstance(entry, dict) and "examples" in entry:
        found = examples(entry["examples"])
        items = next((v for v in found.values() if isinstance(v, list)), None) if isinstance(found, dict) else None
        if items is None:
            raise ValueError(f"names example {entry['examples']!r}, which the contract does not have as a list")
        return [copy.deepcopy(item) for item in items]
    return [_expand_one(entry, examples)]


def _expand_one(entry: Any, examples: Callable[[str], Any]) -> Any:
    if isinstance(entry, list):
        return [_expand_one(item, examples) for item in entry]
    if not isinstance(entry, dict):
        return entry
    entry = dict(entry)
    name, at = entry.pop("example", None), entry.pop("at", None)
    base: Any = {}
    if name:
        base = copy.deepcopy(examples(name))
        for key in (at.split(".") if at else []):
            base = base.get(key) if isinstance(base, dict) else None
        if base is not None and not isinstance(base, dict) and not entry:
            return base  # a value of the example as it is (a list, a number)
        if not isinstance(base, dict):
            raise ValueError(f"names example {name!r}{f' at {at!r}' if at else ''}, which the contract does not "
                             "have as an object")
    return {**base, **{key: _expand_one(value, examples) for key, value in entry.items()}}


@dataclass
class VaultRequest:
    """A request the agent answers later: vault password verification and encryption, and browsing."""
    kind: str  # "verification", "encryption", "agent_browse" or "backup_browse"
    id: str
    agent_id: str  # the record in the path (an agent; a backup for backup_browse), whose request it is
    target_agent_id: str
    created: datetime
    action: str | None = None  # encryption: "enabled" or "changed"
    result: dict[str, Any] | None = None
    details: dict[str, Any] | None = None  # browse requests: what was asked (path, the browsing agent)


class ProjectWorld:
    """One project's state: its world (agents, tokens, vault requests, settings) and what it has chosen
    (scenario selections, scenarios added at run time, ``times`` counts).

    Every change names the record it touched in :attr:`touched` (``(part, key)``, one of :data:`PARTS`),
    whoever keeps the state decides what to do with that; this class knows nothing of how it is kept."""

    def __init__(self, project_id: str, seed: Seed, clock: Clock = utc_now, empty: bool = False):
        # Settings hold immutable values only (numbers, strings, a tuple): a shallow copy is a whole one.
        self.project_id, self.settings, self.clock = project_id, copy.copy(seed.settings), clock
        self.lock = threading.RLock()
        self.touched: set[tuple[str, Any]] = set()
        self.agents: dict[str, dict[str, Any]] = {}
        # Insertion-ordered, so the oldest entries are at the front: state stays bounded in long-lived sandboxes.
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: dict[tuple[str, str], VaultRequest] = {}
        self.pending: deque[VaultRequest] = deque()  # not reported yet, oldest first
        self.event_counter = seed.last_event_id
        self.active: list[tuple[str, dict[str, Any]]] = []  # scenario selections: (name, parameters)
        self.added: dict[str, Any] = {}  # scenarios added at run time, by name, oldest first
        self.added_documents: dict[str, dict[str, Any]] = {}  # the documents they were made from
        self.counters: OrderedDict[tuple, int] = OrderedDict()  # (scenario, rule, params) -> turns taken
        self.model = seed.model
        # The other kinds' records (resources.yaml), kind -> id -> record, oldest first. Records are replaced,
        # never changed in place: a world shares the seed's until it changes them.
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.moving: set[tuple[str, str]] = set()  # the jobs in a state the mock moves on from by itself
        self.clock_offset = 0.0  # seconds this project's clock is ahead of the server's
        if empty:
            return
        agents, requests = pickle.loads(seed.mutable_parts)  # each world its own copy, unpickled (deepcopy costs ~7x)
        for record in agents:
            record["project_id"] = record.get("project_id", project_id)
            self.agents[record["id"]] = record
        for kind, records in _seed_tables(seed, project_id).items():
            self.records[kind] = dict(records)
        started = self.clock()
        for kind, entry in requests:
            request = VaultRequest(kind, entry["id"], entry["agent_id"], entry.get("target_agent_id", entry["agent_id"]),
                                   started, entry.get("action"), entry.get("result"), entry.get("details"))
            self.requests[(kind, request.id)] = request
        # Pending: the requests not reported yet, oldest first (what a shared store reads back too).
        self.pending.extend(r for r in self.requests.values() if r.result is None)

    # ---- the project's clock: the server's, moved on by ``advance``
    def now(self) -> datetime:
        return self.clock() + timedelta(seconds=self.clock_offset) if self.clock_offset else self.clock()

    def effect_advance_clock(self, seconds: float) -> float:
        """Move this project's clock on (never back): tokens expire, reports and jobs fall due."""
        seconds = float(seconds)
        if not seconds >= 0 or seconds > 10 * 365 * 86400:
            raise EffectError(f"effect 'advance_clock': seconds must be between 0 and ten years, not {seconds!r}")
        self.clock_offset += seconds
        self.touch("clock")
        self.tick()
        return self.clock_offset

    # ---- records of every kind (resources.yaml); agents are the agent kind's
    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.agents if kind == "agent" else self.records.setdefault(kind, {})

    def record(self, kind: str, record_id: Any) -> dict[str, Any] | None:
        if not isinstance(record_id, str):
            return None
        table = self.agents if kind == "agent" else self.records.get(kind)
        return table.get(record_id) if table else None

    def put(self, kind: str, record: dict[str, Any]) -> None:
        """Keep ``record`` (a new dict: records are never changed in place) as its kind's ``id``."""
        record_id = record.get("id", "")
        self.table(kind)[record_id] = record
        self.touch("agent" if kind == "agent" else "record", record_id if kind == "agent" else (kind, record_id))
        self.track(kind, record)

    def remove(self, kind: str, record_id: str) -> None:
        if self.table(kind).pop(record_id, None) is not None:
            self.touch("agent" if kind == "agent" else "record", record_id if kind == "agent" else (kind, record_id))
        self.moving.discard((kind, record_id))

    def track(self, kind: str, record: dict[str, Any]) -> None:
        """Whether the mock moves ``record`` on by itself (its state has an automatic move)."""
        spec = self.model.kinds.get(kind) if self.model is not None else None
        state = spec.lifecycle.states.get(record.get("state")) if spec is not None and spec.lifecycle else None
        if state is not None and state.auto and record.get("_moved"):  # seeded records stay as they are
            self.moving.add((kind, record.get("id", "")))
        else:
            self.moving.discard((kind, record.get("id", "")))

    def next_event_id(self) -> str:
        return self._event()

    # ---- reading (template helpers)
    def agent(self, agent_id: Any) -> dict[str, Any] | None:
        return self.agents.get(agent_id) if isinstance(agent_id, str) else None

    def agent_view(self, agent_id: str, with_password: bool = False) -> dict[str, Any] | None:
        """The agent as the API shows it: no private fields, the password only on registration."""
        agent = self.agent(agent_id)
        if agent is None:
            return None
        # Shallow: the view is serialised at once and never changed, so nested values can be shared.
        view = {k: v for k, v in agent.items() if k not in PRIVATE_AGENT_FIELDS}
        if not with_password:
            view.pop("password", None)
        return view

    def token(self, token_id: str | None) -> dict[str, Any] | None:
        if not token_id:
            return None
        if token_id in self.settings.always_valid_tokens:
            return {"id": token_id, "agent_id": None, "expires": None}
        token = self.tokens.get(token_id)
        if token is None or token["expires_at"] <= self.now():
            return None
        return token

    def request(self, kind: str, agent_id: str, request_id: str) -> VaultRequest | None:
        self.tick()
        found = self.requests.get((kind, request_id))
        return found if found is not None and found.agent_id == agent_id else None

    # ---- time: the agent reports on its own after a delay, unless told otherwise
    def tick(self) -> None:
        now = self.now()
        while self.tokens:
            oldest = next(iter(self.tokens.values()))
            if oldest["expires_at"] > now and len(self.tokens) <= self.settings.max_tokens:
                break
            del self.tokens[oldest["id"]]
            self.touch("token", oldest["id"], forgotten=True)
        if self.model is not None:
            self.model.advance(self)
        delay = self.settings.auto_report_after_seconds
        if delay is None:
            return
        due = now - timedelta(seconds=delay)
        while self.pending and self.pending[0].created <= due:
            waiting = self.pending.popleft()
            request = self.requests.get((waiting.kind, waiting.id))
            if request is None or request.result is not None:
                continue  # forgotten, or reported already
            if request.kind == "verification":
                self._report_verification(request, self.settings.auto_report_verified)
            elif request.kind == "encryption":
                self._report_encryption(request, request.action or "enabled", self.settings.auto_report_succeeded)
            else:
                self._report_browse(request, True)

    # ---- effects
    def apply(self, effect: str, args: dict[str, Any]) -> Any:
        handler = getattr(self, f"effect_{effect.replace('-', '_')}", None)
        if handler is None:
            raise EffectError(f"unknown effect {effect!r}; known: {', '.join(effect_names())}")
        try:
            return handler(**args)
        except TypeError as exc:
            raise EffectError(f"effect {effect!r}: {exc}") from None

    def agents_full(self) -> bool:
        return len(self.agents) >= self.settings.max_agents

    def effect_register_agent(self, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        if self.agents_full():
            raise EffectError(f"effect 'register_agent': project {self.project_id!r} has {len(self.agents)} agents, "
                              f"the most it may keep (setting max_agents)")
        agent_id = str(uuid.uuid4())
        host = copy.deepcopy(body.get("host") or {})
        fingerprint = host.pop("fingerprint", None)
        machine = host.get("machine") or {}
        if machine.get("id"):
            machine.setdefault("links", [{"href": f"{base_url}/v2/{path_segment(self.project_id)}/servers/"
                                                  f"{path_segment(machine['id'])}", "rel": "full"}])
        vault_id = str(uuid.uuid4())
        region = host.get("region") or "DFW"
        use_internal = (body.get("vault") or {}).get("use_internal", host.get("flavor") != "rackspace_dedicated")
        project = path_segment(self.project_id)  # the path's value, as it goes back into URLs
        agent_url = f"{base_url}/v2/{project}/agents/{agent_id}"
        record = {
            "project_id": self.project_id, "id": agent_id, "password": str(uuid.uuid4()),
            "name": body.get("name"), "version": body.get("version"), "host": host, "enabled": True,
            "rsa_public_key": copy.deepcopy(body.get("rsa_public_key")),
            "vault": {
                "id": vault_id, "name": f"phoenix_{vault_id}", "state": "created", "flavor": "swift",
                "encrypted": False, "region": region, "use_internal": bool(use_internal),
                "links": [{"href": f"{base_url}/v1/vaults/phoenix_{vault_id}", "rel": "publicURL"}],
            },
            "log_level": "warn", "registered_time": self.now().isoformat(),
            "links": [{"href": agent_url, "rel": "self"}] + [
                {"href": f"{agent_url}/{rel}", "rel": rel}
                for rel in ("activities", "configuration", "configurations", "events", "logfiles", "status")],
            "fingerprint": fingerprint,
        }
        self.agents[agent_id] = record
        self.touch("agent", agent_id)
        return record

    def effect_issue_token(self, agent_id: str | None = None) -> dict[str, Any]:
        expires = self.now() + timedelta(seconds=self.settings.token_ttl_seconds)
        token = {"id": str(uuid.uuid4()), "agent_id": agent_id, "expires": iso(expires), "expires_at": expires}
        self.tokens[token["id"]] = token
        self.touch("token", token["id"])
        self.tick()  # forget the oldest past max_tokens
        return token

    def effect_expire_tokens(self) -> int:
        count = len(self.tokens)
        self.touched.update(("token", token_id) for token_id in self.tokens)
        self.tokens.clear()
        return count

    def effect_set_vault_encrypted(self, agent_id: str, encrypted: bool = True) -> bool:
        agent = self.agent(agent_id)
        if agent is None:
            raise EffectError(f"effect 'set_vault_encrypted': no agent {agent_id!r} in project {self.project_id!r}")
        agent["vault"]["encrypted"] = bool(encrypted)
        self.touch("agent", agent_id)
        return agent["vault"]["encrypted"]

    def effect_create_request(self, kind: str, agent_id: str, target_agent_id: str | None = None,
                              details: dict[str, Any] | None = None) -> VaultRequest:
        if kind not in REQUEST_KINDS:
            raise EffectError(f"effect 'create_request': kind must be one of {', '.join(REQUEST_KINDS)}, not {kind!r}")
        target = target_agent_id or agent_id
        action = None
        if kind == "encryption":
            action = "changed" if (self.agent(target) or {}).get("vault", {}).get("encrypted") else "enabled"
        request = VaultRequest(kind, str(uuid.uuid4()), agent_id, target, self.now(), action,
                               details=copy.deepcopy(details) if isinstance(details, dict) else None)
        self.requests[(kind, request.id)] = request
        self.pending.append(request)
        self.touch("vault_request", (kind, request.id))
        while len(self.requests) > self.settings.max_vault_requests:
            oldest = next(iter(self.requests))
            del self.requests[oldest]
            self.touch("vault_request", oldest, forgotten=True)
        while len(self.pending) > self.settings.max_vault_requests:
            self.pending.popleft()  # forgotten already, or the oldest not reported: both go
        return request

    def effect_report_verification(self, request_id: str, verified: bool) -> dict[str, Any]:
        return self._report_verification(self.requests[("verification", request_id)], verified)

    def effect_report_encryption(self, request_id: str, action: str, succeeded: bool) -> dict[str, Any]:
        return self._report_encryption(self.requests[("encryption", request_id)], action, succeeded)

    def effect_configure(self, **settings: Any) -> dict[str, Any]:
        unknown = [name for name in settings if not hasattr(self.settings, name)]
        if unknown:  # nothing is changed when one name is wrong
            raise EffectError(f"effect 'configure': unknown setting {unknown[0]!r}")
        for name, value in settings.items():
            setattr(self.settings, name, value)
        self.touch("settings")
        return dict(settings)

    def _event(self) -> str:
        self.event_counter += 1
        self.touch("events")
        return str(self.event_counter)

    def _report_verification(self, request: VaultRequest, verified: bool) -> dict[str, Any]:
        self.touch("vault_request", (request.kind, request.id))
        request.result = {
            "id": self._event(), "time": iso(self.now()), "event": "vault_password_verified",
            "agent": {"id": request.agent_id}, "request_id": request.id, "valid": bool(verified),
        }
        return request.result

    def _report_encryption(self, request: VaultRequest, action: str, succeeded: bool) -> dict[str, Any]:
        self.touch("vault_request", (request.kind, request.id))
        request.result = {
            "id": self._event(), "time": iso(self.now()),
            "event": "vault_encryption_changed" if action == "changed" else "vault_encryption_enabled",
            "agent": {"id": request.agent_id}, "request_id": request.id, "succeeded": bool(succeeded),
        }
        if succeeded and action == "enabled" and self.agent(request.target_agent_id) is not None:
            self.agents[request.target_agent_id]["vault"]["encrypted"] = True
            self.touch("agent", request.target_agent_id)
        return request.result

    def effect_report_browse(self, kind: str, request_id: str, succeeded: bool = True) -> dict[str, Any]:
        request = self.requests.get((kind, request_id))
        if request is None:
            raise EffectError(f"effect 'report_browse': no {kind} request {request_id!r} in project {self.project_id!r}")
        return self._report_browse(request, succeeded)

    def _report_browse(self, request: VaultRequest, succeeded: bool) -> dict[str, Any]:
        """The agent's answer to a browse request: the listing of the path asked for (one item, the docs' kind)."""
        self.touch("vault_request", (request.kind, request.id))
        details = request.details or {}
        path = str(details.get("path") or "/")
        request.result = {
            "id": self._event(), "time": iso(self.now()),
            "event": "host_browsed" if request.kind == "agent_browse" else "backup_browsed",
            "agent": {"id": details.get("agent_id") or request.target_agent_id}, "request_id": request.id,
            "succeeded": bool(succeeded), "path": path.rstrip("/") + "/",
            "items": [{"name": "initrd.img", "bytes": 0, "mime_type": "application/x-symlink-file"}] if succeeded else [],
        }
        if details.get("path_encoded"):
            request.result["path_encoded"] = details["path_encoded"]
        return request.result

    def effect_move_vault(self, agent_id: str, source_agent_id: str) -> dict[str, Any]:
        """The source agent's vault becomes ``agent_id``'s; the source agent, left without one, is gone."""
        agent, source = self.agent(agent_id), self.agent(source_agent_id)
        if agent is None or source is None:
            missing = agent_id if agent is None else source_agent_id
            raise EffectError(f"effect 'move_vault': no agent {missing!r} in project {self.project_id!r}")
        self.agents[agent_id] = {**agent, "vault": copy.deepcopy(source["vault"])}
        self.touch("agent", agent_id)
        if source_agent_id != agent_id:
            self.remove("agent", source_agent_id)
        return self.agents[agent_id]

    # ---- choices: which scenarios answer for the project
    def select(self, selections: list[tuple[str, dict[str, Any]]]) -> None:
        """The project's scenario selections from now on; its ``times`` counts start again."""
        self.active = list(selections)
        self.counters.clear()
        self.touched.update((("selections", None), ("counts", None)))

    def add_scenario(self, name: str, scenario: Any, document: dict[str, Any], most: int) -> bool:
        """Try ``scenario`` first from now on (a name added before is replaced); False, changing nothing,
        when the project has ``most`` added already. Its own ``times`` counts start again; those of the
        project's other scenarios go on."""
        if name not in self.added and len(self.added) >= most:
            return False
        self.remove_scenario(name)
        self.added[name], self.added_documents[name] = scenario, document
        self.touched.add(("added", None))
        return True

    def remove_scenario(self, name: str) -> bool:
        """Forget the added scenario ``name`` and its ``times`` counts; False when the project has none
        of that name. The counts of the project's other scenarios go on."""
        if name not in self.added:
            return False
        del self.added[name], self.added_documents[name]
        for key in [key for key in self.counters if key[0] == name]:
            del self.counters[key]
        self.touched.update((("added", None), ("counts", None)))
        return True

    def take_turn(self, key: tuple, times: int, most_counts: int) -> bool:
        """One of the ``times`` turns of the rule ``key``; False when all were taken. At most
        ``most_counts`` counts are kept: the least recently used is forgotten (it starts again)."""
        used = self.counters.get(key, 0)
        if used >= times:
            return False
        self.counters[key] = used + 1
        self.counters.move_to_end(key)
        self.touch("counts")
        while len(self.counters) > most_counts:
            self.counters.popitem(last=False)
        return True

    def touch(self, part: str, key: Any = None, forgotten: bool = False) -> None:
        """Name a record the change touched; ``forgotten``: a token or vault request dropped because it
        expired or is past its bound (``("forgotten", (part, key))``: two processes may both drop it)."""
        self.touched.add(("forgotten", (part, key)) if forgotten else (part, key))

    def independent(self) -> bool:
        """Whether the change touched only tokens and vault requests: made them, forgot them (past their
        bound, expired) or deleted tokens; a report also counts an event, so it is not one. Such a change
        decides nothing from the other tokens and requests made meanwhile: a shared store writes two of
        them made at once one over the other when their records differ, instead of making one again.
        Every other change (agents, records, counts, events, settings...) may depend on what another
        changed, and is written only onto the state it was made from."""
        return all(part in INDEPENDENT_PARTS for part, _ in self.touched)

    def replace(self, other: "ProjectWorld") -> None:
        """Become ``other`` (same project), in place: whoever holds this object sees the new state."""
        lock = self.lock
        self.__dict__.update(other.__dict__)
        self.lock = lock


REQUEST_KINDS = ("verification", "encryption", "agent_browse", "backup_browse")


def _seed_tables(seed: Seed, project_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The seed's records per kind, made once per seed and project id (shared: records are never changed in place)."""
    cache = seed.__dict__.setdefault("_tables", OrderedDict())
    tables = cache.get(project_id)
    if tables is None:
        tables = {}
        for kind, records in seed.records.items():
            table = tables.setdefault(kind, {})
            for record in records:
                record = copy.deepcopy(record)
                if "project_id" in record:
                    record["project_id"] = project_id
                table[str(record.get("id", ""))] = record
        cache[project_id] = tables
        while len(cache) > 64:
            cache.popitem(last=False)
    else:
        cache.move_to_end(project_id)
    return tables


def effect_names() -> list[str]:
    return sorted(name.removeprefix("effect_") for name in dir(ProjectWorld) if name.startswith("effect_"))


class World:
    """The projects' worlds kept in this process, at most ``max_projects`` of them, the least recently
    used forgotten first (``on_forget`` is given each)."""

    def __init__(self, max_projects: int = 10_000, on_forget: Callable[[ProjectWorld], None] = lambda world: None):
        self.max_projects, self.on_forget = max_projects, on_forget
        self._projects: OrderedDict[str, ProjectWorld] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, world: ProjectWorld) -> ProjectWorld:
        """Keep ``world`` as its project's (the one kept already, if another came first)."""
        with self._lock:
            kept = self._projects.get(world.project_id)
            if kept is not None:
                self._projects.move_to_end(world.project_id)
                return kept
            self._projects[world.project_id] = world
            forgotten = []
            while len(self._projects) > self.max_projects:
                forgotten.append(self._projects.popitem(last=False)[1])
        for old in forgotten:
            self.on_forget(old)
        return world

    def seen(self, project_id: str) -> ProjectWorld | None:
        """The project's world if it has one, as recently used; never makes one."""
        with self._lock:
            world = self._projects.get(project_id)
            if world is not None:
                self._projects.move_to_end(project_id)
            return world

    def peek(self, project_id: str) -> ProjectWorld | None:
        """The project's world if it has one; never makes one."""
        return self._projects.get(project_id)

    def __len__(self) -> int:
        return len(self._projects)

    def reset(self, project_id: str | None = None) -> None:
        with self._lock:
            if project_id is None:
                self._projects.clear()
            else:
                self._projects.pop(project_id, None)
