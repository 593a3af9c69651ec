"""The mock's stateful world: agents, tokens and vault requests, kept apart per project.

Scenario rules read it through template helpers and change it through named effects
(:meth:`ProjectWorld.apply`); nothing here decides which status an operation answers.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from ..contract.routes import path_segment
from ..yaml_files import YAMLError, load_yaml

Clock = Callable[[], datetime]
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
    token_ttl_seconds: float = 86400
    auto_report_after_seconds: float | None = 5
    auto_report_verified: bool = True
    auto_report_succeeded: bool = True
    always_valid_tokens: tuple[str, ...] = ()
    max_tokens: int = 10000  # per project; the oldest are forgotten first (expired ones as soon as seen)
    max_vault_requests: int = 1000  # per project; the oldest are forgotten first
    max_agents: int = 1000  # per project; registering one more is refused (403)
    max_field_bytes: int = 8192  # any string in a request body, in UTF-8; longer: 400


@dataclass
class Seed:
    """What every project's world starts with (``scenarios/world.yaml``)."""

    settings: Settings
    agents: list[dict[str, Any]]
    verification_requests: list[dict[str, Any]] = field(default_factory=list)
    encryption_requests: list[dict[str, Any]] = field(default_factory=list)
    source: str = "world.yaml"
    limits: dict[str, Any] = field(default_factory=dict)  # world.yaml's `limits:` (the server's bounds)

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
        settings.always_valid_tokens = tuple(settings.always_valid_tokens)
        agents = []
        for entry in data.get("agents") or []:
            entry = dict(entry)
            name = entry.pop("example", None)
            base = copy.deepcopy(examples(name)) if name else {}
            if name and not isinstance(base, dict):
                problem = f"{path}: agent entry names example {name!r}, which the contract does not have"
                if left_out is None:
                    raise ValueError(problem)
                left_out.append(f"{problem}; left out")
                continue
            agents.append({**base, **entry})
        limits = data.get("limits") or {}
        if not isinstance(limits, dict):
            raise ValueError(f"{path}: limits must be a mapping of limit names to numbers")
        return cls(settings, agents, data.get("verification_requests") or [],
                   data.get("encryption_requests") or [], str(path), limits)


@dataclass
class VaultRequest:
    kind: str  # "verification" or "encryption"
    id: str
    agent_id: str  # the agent in the path: the one that carries the request out and reports
    target_agent_id: str
    created: datetime
    action: str | None = None  # encryption: "enabled" or "changed"
    result: dict[str, Any] | None = None


class ProjectWorld:
    """One project's state: its world (agents, tokens, vault requests, settings) and what it has chosen
    (scenario selections, scenarios added at run time, ``times`` counts).

    Every change names the part it touched in :attr:`changed` (see :meth:`field`), so a shared store
    writes only those parts; ``version`` is the stored state this one was read from ("" when it was
    made from the seed)."""

    def __init__(self, project_id: str, seed: Seed, clock: Clock = utc_now, empty: bool = False):
        self.project_id, self.settings, self.clock = project_id, copy.deepcopy(seed.settings), clock
        self.lock = threading.RLock()
        self.version = ""
        self.changed: set[str] = set()
        self.agents: dict[str, dict[str, Any]] = {}
        # Insertion-ordered, so the oldest entries are at the front: state stays bounded in long-lived sandboxes.
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: dict[tuple[str, str], VaultRequest] = {}
        self.pending: deque[VaultRequest] = deque()  # not reported yet, oldest first
        self.event_counter = 5650135585
        self.active: list[tuple[str, dict[str, Any]]] = []  # scenario selections: (name, parameters)
        self.added: dict[str, Any] = {}  # scenarios added at run time, by name, oldest first
        self.added_documents: dict[str, dict[str, Any]] = {}  # the documents they were made from
        self.counters: OrderedDict[tuple, int] = OrderedDict()  # (scenario, rule, params) -> turns taken
        if empty:
            return
        for agent in seed.agents:
            record = copy.deepcopy(agent)
            record["project_id"] = record.get("project_id", project_id)
            self.agents[record["id"]] = record
        for kind, entries in (("verification", seed.verification_requests), ("encryption", seed.encryption_requests)):
            for entry in entries:
                request = VaultRequest(kind, entry["id"], entry["agent_id"], entry.get("target_agent_id", entry["agent_id"]),
                                       self.clock(), entry.get("action"), copy.deepcopy(entry.get("result")))
                self.requests[(kind, request.id)] = request
        # Pending: the requests not reported yet, oldest first (what a shared store reads back too).
        self.pending.extend(r for r in self.requests.values() if r.result is None)

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
        if token is None or token["expires_at"] <= self.clock():
            return None
        return token

    def request(self, kind: str, agent_id: str, request_id: str) -> VaultRequest | None:
        self.tick()
        found = self.requests.get((kind, request_id))
        return found if found is not None and found.agent_id == agent_id else None

    # ---- time: the agent reports on its own after a delay, unless told otherwise
    def tick(self) -> None:
        now = self.clock()
        while self.tokens:
            oldest = next(iter(self.tokens.values()))
            if oldest["expires_at"] > now and len(self.tokens) <= self.settings.max_tokens:
                break
            del self.tokens[oldest["id"]]
            self.changed.add(f"t:{oldest['id']}")
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
            else:
                self._report_encryption(request, request.action or "enabled", self.settings.auto_report_succeeded)

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
            "log_level": "warn", "registered_time": self.clock().isoformat(),
            "links": [{"href": agent_url, "rel": "self"}] + [
                {"href": f"{agent_url}/{rel}", "rel": rel}
                for rel in ("activities", "configuration", "configurations", "events", "logfiles", "status")],
            "fingerprint": fingerprint,
        }
        self.agents[agent_id] = record
        self.changed.add(f"a:{agent_id}")
        return record

    def effect_issue_token(self, agent_id: str | None = None) -> dict[str, Any]:
        expires = self.clock() + timedelta(seconds=self.settings.token_ttl_seconds)
        token = {"id": str(uuid.uuid4()), "agent_id": agent_id, "expires": iso(expires), "expires_at": expires}
        self.tokens[token["id"]] = token
        self.changed.add(f"t:{token['id']}")
        self.tick()  # forget the oldest past max_tokens
        return token

    def effect_expire_tokens(self) -> int:
        count = len(self.tokens)
        self.changed.update(f"t:{token_id}" for token_id in self.tokens)
        self.tokens.clear()
        return count

    def effect_set_vault_encrypted(self, agent_id: str, encrypted: bool = True) -> bool:
        agent = self.agent(agent_id)
        if agent is None:
            raise EffectError(f"effect 'set_vault_encrypted': no agent {agent_id!r} in project {self.project_id!r}")
        agent["vault"]["encrypted"] = bool(encrypted)
        self.changed.add(f"a:{agent_id}")
        return agent["vault"]["encrypted"]

    def effect_create_request(self, kind: str, agent_id: str, target_agent_id: str | None = None) -> VaultRequest:
        if kind not in ("verification", "encryption"):
            raise EffectError(f"effect 'create_request': kind must be verification or encryption, not {kind!r}")
        target = target_agent_id or agent_id
        action = None
        if kind == "encryption":
            action = "changed" if (self.agent(target) or {}).get("vault", {}).get("encrypted") else "enabled"
        request = VaultRequest(kind, str(uuid.uuid4()), agent_id, target, self.clock(), action)
        self.requests[(kind, request.id)] = request
        self.pending.append(request)
        self.changed.add(f"r:{kind}:{request.id}")
        while len(self.requests) > self.settings.max_vault_requests:
            oldest = next(iter(self.requests))
            del self.requests[oldest]
            self.changed.add(f"r:{oldest[0]}:{oldest[1]}")
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
        self.changed.add("s")
        return dict(settings)

    def _event(self) -> str:
        self.event_counter += 1
        self.changed.add("e")
        return str(self.event_counter)

    def _report_verification(self, request: VaultRequest, verified: bool) -> dict[str, Any]:
        self.changed.add(f"r:{request.kind}:{request.id}")
        request.result = {
            "id": self._event(), "time": iso(self.clock()), "event": "vault_password_verified",
            "agent": {"id": request.agent_id}, "request_id": request.id, "valid": bool(verified),
        }
        return request.result

    def _report_encryption(self, request: VaultRequest, action: str, succeeded: bool) -> dict[str, Any]:
        self.changed.add(f"r:{request.kind}:{request.id}")
        request.result = {
            "id": self._event(), "time": iso(self.clock()),
            "event": "vault_encryption_changed" if action == "changed" else "vault_encryption_enabled",
            "agent": {"id": request.agent_id}, "request_id": request.id, "succeeded": bool(succeeded),
        }
        if succeeded and action == "enabled" and self.agent(request.target_agent_id) is not None:
            self.agents[request.target_agent_id]["vault"]["encrypted"] = True
            self.changed.add(f"a:{request.target_agent_id}")
        return request.result

    # ---- what a shared store keeps: each part of the state as one named field of JSON text
    def fields(self, names: set[str] | None = None) -> dict[str, str | None]:
        """The parts named (default: all) as field name -> JSON text; None for a part that is gone."""
        if names is None:
            names = {"s", "e", "sel", "add", "c"} | {f"a:{i}" for i in self.agents} | {
                f"t:{i}" for i in self.tokens} | {f"r:{k}:{i}" for k, i in self.requests}
        return {name: self.field(name) for name in names}

    def field(self, name: str) -> str | None:
        kind, _, key = name.partition(":")
        if kind == "a":
            value = self.agents.get(key)
        elif kind == "t":
            token = self.tokens.get(key)
            value = None if token is None else {**token, "expires_at": token["expires_at"].timestamp()}
        elif kind == "r":
            request = self.requests.get(tuple(key.split(":", 1)))
            value = None if request is None else {**request.__dict__, "created": request.created.timestamp()}
        elif name == "s":
            value = {**self.settings.__dict__, "always_valid_tokens": list(self.settings.always_valid_tokens)}
        elif name == "e":
            value = self.event_counter
        elif name == "sel":
            value = [[n, p] for n, p in self.active]
        elif name == "add":
            value = list(self.added_documents.values())
        elif name == "c":
            value = [[list(k[:2]) + [list(map(list, k[2]))], n] for k, n in self.counters.items()]
        else:
            raise KeyError(name)
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def replace(self, other: "ProjectWorld") -> None:
        """Become ``other`` (same project), in place: whoever holds this object sees the new state."""
        lock = self.lock
        self.__dict__.update(other.__dict__)
        self.lock = lock

    @classmethod
    def from_fields(cls, project_id: str, seed: Seed, clock: Clock, fields: dict[str, str], version: str,
                    compile_added: Callable[[dict[str, Any]], Any]) -> "ProjectWorld":
        """The state :meth:`fields` wrote (``compile_added`` makes a scenario of an added document)."""
        world = cls(project_id, seed, clock, empty=True)
        world.update(fields, version, compile_added)
        return world

    def update(self, fields: dict[str, str | None], version: str, compile_added: Callable[[dict[str, Any]], Any]) -> None:
        """Bring this state to ``version``: the parts that changed since, as :meth:`fields` wrote them
        (None: the part is gone)."""
        self.version = version
        for name, text in fields.items():
            kind, _, key = name.partition(":")
            value = None if text is None else json.loads(text)
            if kind == "a":
                if value is None:
                    self.agents.pop(key, None)
                else:
                    self.agents[key] = value
            elif kind == "t":
                if value is None:
                    self.tokens.pop(key, None)
                else:  # a token already kept keeps its place; a new one goes in expiry order
                    token = {**value, "expires_at": datetime.fromtimestamp(value["expires_at"], timezone.utc)}
                    if key in self.tokens:
                        self.tokens[key] = token
                    else:
                        _put_in_order(self.tokens, key, token, _expiry)
            elif kind == "r":
                request_key = tuple(key.split(":", 1))
                if value is None:
                    self.requests.pop(request_key, None)
                else:
                    request = VaultRequest(**{**value, "created": datetime.fromtimestamp(value["created"], timezone.utc)})
                    kept = self.requests.get(request_key)
                    if request.result is None and (kept is None or kept.result is not None):
                        # waits for its report (again, if a change of this copy that reported it failed);
                        # tick reads it by its id
                        _put_in_line(self.pending, request)
                    if kept is not None:
                        self.requests[request_key] = request
                    else:
                        _put_in_order(self.requests, request_key, request, _creation)
            elif name == "s" and value is not None:
                self.settings = Settings(**{**value, "always_valid_tokens": tuple(value["always_valid_tokens"])})
            elif name == "e" and value is not None:
                self.event_counter = value
            elif name == "sel":
                self.active = [(n, p) for n, p in value or []]
            elif name == "c":
                self.counters = OrderedDict(((k[0], k[1], tuple(map(tuple, k[2]))), n) for k, n in value or [])
            elif name == "add":
                self.added_documents = {document["name"]: document for document in value or []}
                self.added = {name: compile_added(document) for name, document in self.added_documents.items()}
        while len(self.pending) > self.settings.max_vault_requests:
            self.pending.popleft()


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


def effect_names() -> list[str]:
    return sorted(name.removeprefix("effect_") for name in dir(ProjectWorld) if name.startswith("effect_"))


class World:
    """All projects' worlds, each created from the seed on first use; at most ``max_projects`` of them,
    the least recently used forgotten first (``on_forget`` is given each)."""

    def __init__(self, seed: Seed, clock: Clock = utc_now, max_projects: int = 10_000,
                 on_forget: Callable[[ProjectWorld], None] = lambda world: None):
        self.seed, self.clock, self.max_projects, self.on_forget = seed, clock, max_projects, on_forget
        self._projects: OrderedDict[str, ProjectWorld] = OrderedDict()
        self._lock = threading.Lock()

    def project(self, project_id: str) -> ProjectWorld:
        with self._lock:
            world = self._projects.get(project_id)
            if world is not None:
                self._projects.move_to_end(project_id)
                return world
            world = self._projects[project_id] = ProjectWorld(project_id, self.seed, self.clock)
            forgotten = []
            while len(self._projects) > self.max_projects:
                forgotten.append(self._projects.popitem(last=False)[1])
        for old in forgotten:
            self.on_forget(old)
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
