"""The mock's stateful world: agents, tokens and vault requests, kept apart per project.

Scenario rules read it through template helpers and change it through named effects
(:meth:`ProjectWorld.apply`); nothing here decides which status an operation answers.
"""

from __future__ import annotations

import copy
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
# The parts of a project's state a change can touch (``ProjectWorld.touched``); keyed ones name the record.
PARTS = ("agent", "token", "vault_request", "settings", "events", "selections", "added", "counts")
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

    Every change names the record it touched in :attr:`touched` (``(part, key)``, one of :data:`PARTS`),
    whoever keeps the state decides what to do with that; this class knows nothing of how it is kept."""

    def __init__(self, project_id: str, seed: Seed, clock: Clock = utc_now, empty: bool = False):
        self.project_id, self.settings, self.clock = project_id, copy.deepcopy(seed.settings), clock
        self.lock = threading.RLock()
        self.touched: set[tuple[str, Any]] = set()
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
            self.touch("token", oldest["id"])
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
        self.touch("agent", agent_id)
        return record

    def effect_issue_token(self, agent_id: str | None = None) -> dict[str, Any]:
        expires = self.clock() + timedelta(seconds=self.settings.token_ttl_seconds)
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
        self.touch("vault_request", (kind, request.id))
        while len(self.requests) > self.settings.max_vault_requests:
            oldest = next(iter(self.requests))
            del self.requests[oldest]
            self.touch("vault_request", oldest)
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
            "id": self._event(), "time": iso(self.clock()), "event": "vault_password_verified",
            "agent": {"id": request.agent_id}, "request_id": request.id, "valid": bool(verified),
        }
        return request.result

    def _report_encryption(self, request: VaultRequest, action: str, succeeded: bool) -> dict[str, Any]:
        self.touch("vault_request", (request.kind, request.id))
        request.result = {
            "id": self._event(), "time": iso(self.clock()),
            "event": "vault_encryption_changed" if action == "changed" else "vault_encryption_enabled",
            "agent": {"id": request.agent_id}, "request_id": request.id, "succeeded": bool(succeeded),
        }
        if succeeded and action == "enabled" and self.agent(request.target_agent_id) is not None:
            self.agents[request.target_agent_id]["vault"]["encrypted"] = True
            self.touch("agent", request.target_agent_id)
        return request.result

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

    def touch(self, part: str, key: Any = None) -> None:
        self.touched.add((part, key))

    def replace(self, other: "ProjectWorld") -> None:
        """Become ``other`` (same project), in place: whoever holds this object sees the new state."""
        lock = self.lock
        self.__dict__.update(other.__dict__)
        self.lock = lock


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
