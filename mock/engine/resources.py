"""The resource model: the API's records per project (agents, configurations, backups, restores, cleanups,
logfiles, events, summary settings), their lifecycles and the operations derived from the contract's paths.

``scenarios/resources.yaml`` declares each kind (its item path, what a new record starts from, its lifecycle
and bound); :class:`ResourceModel` binds every contract operation whose path is a kind's item, its collection
or one of its sub-paths to what it does (:class:`Role`), and :meth:`ResourceModel.answer` answers them over a
project's :class:`~.world.ProjectWorld` when no scenario rule does. Records are replaced, never changed in
place, so a project's world may share the seed's records until it changes one.
"""

from __future__ import annotations

import copy
import difflib
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonpatch
import jsonpointer

from ..contract import Contract, Operation, error_document, schema_errors
from ..contract.routes import path_segment
from ..yaml_files import YAMLError, load_yaml
from .request import Outcome, Request

if TYPE_CHECKING:
    from .world import ProjectWorld

RESOURCES_FILE = "resources.yaml"
MODEL = "(resources)"  # the scenario name of an answer the resource model gave
PAGE_DEFAULT = 100  # records a list gives when the request sets no limit
FIXED = frozenset({"id", "project_id", "links"})  # never patched, whatever the contract lists
PARTIES = ("user", "agent")  # who asks for a move; "any" in a lifecycle is either
_PARAMETER = re.compile(r"\{([^{}/]+)\}")


class ResourceError(ValueError):
    """``resources.yaml`` cannot be used: names the file, the place and the problem."""


@dataclass
class State:
    moves: dict[str, list[str]] = field(default_factory=dict)  # party -> states it may move the record to
    auto: str | None = None  # where the mock moves it by itself, when the world's settings say so
    sets: dict[str, Any] = field(default_factory=dict)  # fields entering the state sets
    event: str | None = None  # the event name's suffix entering it records (default: the state)


@dataclass
class Lifecycle:
    start: str
    states: dict[str, State]

    def allowed(self, state: str, party: str) -> list[str]:
        current = self.states.get(state)
        return [*current.moves.get(party, []), *current.moves.get("any", [])] if current else []


@dataclass
class Kind:
    name: str
    item: str  # the item path
    id_param: str | None  # the item path's last parameter (None: one record per project)
    collection: str  # the item path without its id
    parent: str | None = None
    parent_param: str | None = None
    example: str | None = None
    refs: dict[str, str] = field(default_factory=dict)
    requires: dict[str, str] = field(default_factory=dict)  # ref field -> a field of the referenced record that must be true
    derive: dict[str, str] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)
    delete: str = "remove"
    filters: dict[str, str] = field(default_factory=dict)
    bound: str | None = None
    full: str = "refuse"
    activity: bool = False
    lifecycle: Lifecycle | None = None
    events: list[str] = field(default_factory=list)
    template: dict[str, Any] = field(default_factory=dict)  # the example a new record starts from
    shown: dict[str, Any] = field(default_factory=dict)  # the item's documented example ($example values)

    def ref_field(self, body_field: str) -> str:
        return body_field[:-3] if body_field.endswith("_id") else body_field


@dataclass
class Role:
    """What an operation does to a kind's records."""
    action: str  # list, create, get, patch, delete, put, errors, events, activities, exists, status
    kind: Kind
    owner: Kind | None = None  # the record the path names, for sub-paths (its events, its configurations)
    wrapper: str | None = None  # the list answer's array property


class ResourceModel:
    def __init__(self, kinds: dict[str, Kind], roles: dict[str, Role], contract: Contract, source: str):
        self.kinds, self.roles, self.contract, self.source = kinds, roles, contract, source
        self.schemas = {op.operation_id: op.response_schema(200) for op in contract.operations.values()
                        if op.method == "GET" and op.response_schema(200) is not None}
        # operationId -> the top-level fields its JSON Patch may change (the contract's x-patchable)
        self.patchable = {op.operation_id: frozenset(p.strip("/").split("/")[0] for p in members) - FIXED
                          for op in contract.operations.values()
                          if (members := (op.spec.get("requestBody") or {}).get("x-patchable"))}
        self.jobs = [kind for kind in kinds.values() if kind.lifecycle is not None]

    @classmethod
    def load(cls, path: str | Path, contract: Contract) -> "ResourceModel":
        path = Path(path)
        try:
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
        except (OSError, YAMLError) as exc:
            raise ResourceError(f"{path}: {exc}") from None
        kinds: dict[str, Kind] = {}
        for name, raw in (data.get("kinds") or {}).items():
            kinds[name] = _kind(path, name, raw or {}, contract)
        for kind in kinds.values():
            for body_field, target in kind.refs.items():
                if target not in kinds:
                    raise ResourceError(f"{path}: kinds.{kind.name}.refs.{body_field}: no kind {target!r}")
        return cls(kinds, _roles(kinds, contract), contract, str(path))

    # ---- what the model does for one request
    def handles(self, operation_id: str) -> bool:
        return operation_id in self.roles

    def answer(self, request: Request, world: "ProjectWorld") -> Outcome | None:
        role = self.roles.get(request.operation.operation_id)
        if role is None:
            return None
        return _Answer(self, role, request, world).run()

    # ---- the test double's helpers: records made and moved straight in the world
    def kind(self, name: str) -> Kind:
        if name not in self.kinds:
            close = difflib.get_close_matches(name, list(self.kinds), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown kind {name!r}{hint}; known: {', '.join(self.kinds)}")
        return self.kinds[name]

    def creation(self, kind_name: str, project_id: str, fields: dict[str, Any], base_url: str) -> Request:
        """The request that makes a record of ``kind_name`` with ``fields`` (its create operation's body; a
        nested kind's parent as ``<parent>_id``), as the API would. Unknown fields raise ValueError."""
        kind = self.kind(kind_name)
        op_id = next((op_id for op_id, role in self.roles.items()
                      if role.kind is kind and role.action == "create" and role.owner is None), None)
        if op_id is None:
            raise ValueError(f"records of kind {kind_name!r} are not made by a request of the contract")
        operation = self.contract.operation(op_id)
        fields = dict(fields)
        path = {"project_id": project_id}
        if kind.parent_param:
            path[kind.parent_param] = fields.pop(kind.parent_param, None)
            if path[kind.parent_param] is None:
                raise ValueError(f"a {kind_name} needs {kind.parent_param}=")
        known = sorted(((operation.request_schema or {}).get("properties") or {}))
        for name in fields:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"{op_id} has no body field {name!r}{hint}; known: {', '.join(known) or 'none'}")
        return Request(operation, project_id, path, {}, {}, fields, base_url)

    def force(self, world: "ProjectWorld", kind_name: str, record_id: str, state: str) -> dict[str, Any]:
        """Put a record in ``state`` whatever its lifecycle allows (what entering it sets and records included)."""
        kind = self.kind(kind_name)
        record = world.record(kind.name, record_id)
        if record is None:
            raise ValueError(f"no {kind_name} {record_id!r} in project {world.project_id!r}")
        if kind.lifecycle is None or state not in kind.lifecycle.states:
            known = ", ".join(kind.lifecycle.states) if kind.lifecycle else "none (it has no lifecycle)"
            raise ValueError(f"a {kind_name} has no state {state!r}; states: {known}")
        return self.move(world, kind, record, state)

    # ---- time: jobs move on by themselves
    def advance(self, world: "ProjectWorld") -> None:
        """Move every job whose next automatic move fell due (``auto_advance_after_seconds`` after its last move)."""
        delay = world.settings.auto_advance_after_seconds
        if delay is None or not world.moving:
            return
        now = world.now()
        for key in list(world.moving):
            kind = self.kinds[key[0]]
            record = world.record(kind.name, key[1])
            while record is not None and record.get("_moved"):
                state = kind.lifecycle.states.get(record.get("state"))
                if state is None or state.auto is None:
                    break
                due = _parse_time(record.get("_moved")) + timedelta(seconds=delay)
                if due > now:
                    break
                record = self.move(world, kind, record, self.automatic(world, kind, record, state), at=due)

    def automatic(self, world: "ProjectWorld", kind: Kind, record: dict[str, Any], state: State) -> str:
        """Where an automatic move goes: the lifecycle's ``auto``, but a run that ends ends as the setting
        ``auto_end_state`` says when the agent could end it so (e.g. ``completed_with_errors``, ``failed``)."""
        wanted = world.settings.auto_end_state
        target = kind.lifecycle.states.get(state.auto)
        if wanted and target is not None and not target.moves and wanted in kind.lifecycle.allowed(record.get("state"), "agent"):
            return wanted
        return state.auto

    def documented_errors(self, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
        """The errors of a run that had some: the docs' example of the kind's errors operation."""
        for op_id, role in self.roles.items():
            if role.kind is kind and role.action == "errors":
                example = copy.deepcopy(self.contract.operation(op_id).response_example(200) or {})
                listed = example.get("list") or []
                return {"count": len(listed), "reason": example.get("reason", ""),
                        "diagnostics": example.get("diagnostics", ""), "list": listed,
                        "links": (record.get("errors") or {}).get("links", [])}
        return {"count": 1, "reason": "", "diagnostics": "", "list": [], "links": []}

    def move(self, world: "ProjectWorld", kind: Kind, record: dict[str, Any], state: str,
             at: Any = None) -> dict[str, Any]:
        """The record in ``state``: what entering it sets, and the event it records."""
        moment = at or world.now()
        new = {**record, "state": state, "_moved": _iso(moment), "_updated": _iso(moment)}
        spec = kind.lifecycle.states.get(state) if kind.lifecycle else None
        for name, value in (spec.sets if spec else {}).items():
            if value == "$now":
                if not new.get(name):
                    new[name] = _iso(moment)
            elif value == "$example" and name in kind.shown:
                shown = copy.deepcopy(kind.shown[name])
                if isinstance(shown, list) and isinstance(new.get(name), list):  # links: those it lacks are added
                    rels = {item.get("rel") for item in new[name] if isinstance(item, dict)}
                    new[name] = new[name] + [item for item in shown if isinstance(item, dict) and item.get("rel") not in rels]
                elif not new.get(name):
                    new[name] = shown
            elif value == "$errors":
                if not (new.get(name) or {}).get("count"):
                    new[name] = self.documented_errors(kind, new)
            else:
                new[name] = copy.deepcopy(value)
        world.put(kind.name, new)
        self.record_event(world, kind, new, (spec.event if spec and spec.event else state), moment)
        return new

    def record_event(self, world: "ProjectWorld", kind: Kind, record: dict[str, Any], what: str,
                     moment: Any = None) -> None:
        event = {"id": world.next_event_id(), "time": _iso(moment or world.now()), "event": f"{kind.name}_{what}"}
        for name in ("agent", "configuration", "backup"):
            if isinstance(record.get(name), dict) and "id" in record[name]:
                event[name] = {"id": record[name]["id"]}
        if kind.name == "restore" and "agent" not in event and isinstance(record.get("destination_agent"), dict):
            event["agent"] = {"id": record["destination_agent"]["id"]}
        if kind.name == "agent":
            event["agent"] = {"id": record["id"]}
        event[kind.name] = {"id": record["id"]}
        self.add_event(world, event)

    def add_event(self, world: "ProjectWorld", event: dict[str, Any]) -> None:
        self.bounded(world, self.kinds["event"])
        world.put("event", event)

    def bounded(self, world: "ProjectWorld", kind: Kind) -> str | None:
        """Room for one more record of ``kind``: None, or why there is none (the kind refuses when full).
        A kind that forgets makes room by forgetting its oldest records in a final state (all, for events)."""
        if kind.bound is None:
            return None
        most = getattr(world.settings, kind.bound)
        table = world.table(kind.name)
        if len(table) < most:
            return None
        if kind.full == "forget":
            for record_id in list(table):
                if len(table) < most:
                    break
                record = table[record_id]
                if kind.lifecycle is None or not kind.lifecycle.states.get(record.get("state"), State()).moves:
                    world.remove(kind.name, record_id)
            if len(table) < most:
                return None
        return (f"project {world.project_id} has {len(table)} {kind.name} records, the most it may keep "
                f"(setting {kind.bound})")


class _Answer:
    """One request's answer from the model (runs inside the store's step: it may run again)."""

    def __init__(self, model: ResourceModel, role: Role, request: Request, world: "ProjectWorld"):
        self.model, self.role, self.request, self.world = model, role, request, world
        self.op: Operation = request.operation
        self.base = f"{request.base_url}/v2/{path_segment(request.project_id)}"

    def run(self) -> Outcome | None:
        role = self.role
        if role.owner is not None and role.owner.id_param is not None:
            owner_id = self.request.path_params.get(role.owner.id_param)
            if self.world.record(role.owner.name, owner_id) is None:
                return self.not_found(role.owner, owner_id)
        kind = role.kind
        if kind.parent_param and role.owner is None:
            parent = self.model.kinds[kind.parent]
            parent_id = self.request.path_params.get(kind.parent_param)
            if self.world.record(parent.name, parent_id) is None:
                return self.not_found(parent, parent_id)
        return getattr(self, f"do_{role.action}")()

    # ---- answers
    def reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> Outcome:
        return Outcome(status, headers or {}, body, body is not None, scenario=MODEL)

    def refuse(self, status: int, message: str, errors: list[str] = ()) -> Outcome:
        return Outcome(status, body=error_document(message, list(errors)), has_body=True, scenario=MODEL)

    def not_found(self, kind: Kind, record_id: Any) -> Outcome:
        return self.refuse(404, f"No {kind.name.replace('_', ' ')} {record_id} in project {self.request.project_id}.")

    def item_id(self) -> str | None:
        kind = self.role.kind
        return self.request.path_params.get(kind.id_param) if kind.id_param else ""

    def current(self) -> dict[str, Any] | None:
        record = self.world.record(self.role.kind.name, self.item_id())
        if record is not None and self.role.kind.parent_param:
            if record.get("_parent") != self.request.path_params.get(self.role.kind.parent_param):
                return None
        return record

    def view(self, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the API shows it: no private fields (``_``, the agent's fingerprint and password), nor hidden ones."""
        shown = {k: v for k, v in record.items() if not k.startswith("_")}
        if kind.id_param is None:
            shown.pop("id", None)
        if kind.name == "agent":
            shown.pop("fingerprint", None)
            shown.pop("password", None)
        for dotted in kind.hidden:
            head, _, rest = dotted.partition(".")
            if rest and isinstance(shown.get(head), dict) and rest in shown[head]:
                shown[head] = {k: v for k, v in shown[head].items() if k != rest}
            elif not rest:
                shown.pop(head, None)
        return shown

    def do_get(self) -> Outcome:
        record = self.current()
        if record is None:
            return self.not_found(self.role.kind, self.item_id())
        return self.reply(200, self.view(self.role.kind, record))

    def do_exists(self) -> Outcome | None:
        return None  # the owner exists: the rules or the documented answer go on

    def do_status(self) -> Outcome:
        agent_id = self.request.path_params.get(self.role.owner.id_param)
        busy = any(
            record.get("agent", {}).get("id") == agent_id or record.get("destination_agent", {}).get("id") == agent_id
            for kind in self.model.jobs if kind.name != "logfile"
            for record in self.world.table(kind.name).values()
            if kind.lifecycle.states.get(record.get("state"), State()).moves)
        agent = self.world.record("agent", agent_id)
        return self.reply(200, {"busy": busy, "online": bool(agent.get("enabled", True))})

    def do_list(self) -> Outcome:
        kind, query = self.role.kind, self.request.query
        records = list(self.world.table(kind.name).values())
        if kind.parent_param:
            parent_id = self.request.path_params.get(kind.parent_param)
            records = [r for r in records if r.get("_parent") == parent_id]
        if self.role.owner is not None:  # e.g. an agent's configurations
            owner_id = self.request.path_params.get(self.role.owner.id_param)
            records = [r for r in records if _dig(r, f"{self.role.owner.name}.id") == owner_id]
        for name, dotted in kind.filters.items():
            wanted = _first(query.get(name))
            if wanted is not None:
                records = [r for r in records if self.passes(r, dotted, wanted)]
        return self.page(records, lambda r: self.view(kind, r))

    def passes(self, record: dict[str, Any], dotted: str, wanted: str) -> bool:
        if dotted.startswith("@"):
            other, _, name = dotted[1:].partition(".")
            values = [_dig(r, name) for r in self.world.table(other).values()
                      if _dig(r, f"{self.role.kind.name}.id") == record.get("id")]
            return any(_same(value, wanted) for value in values)
        return _same(_dig(record, dotted), wanted)

    def page(self, records: list[dict[str, Any]], show, key: str = "id") -> Outcome:
        query = self.request.query
        if (_first(query.get("sort_dir")) or "asc").lower() == "desc":
            records = list(reversed(records))
        marker = _first(query.get("marker"))
        if marker is not None:  # the page starts at the marker's record (as the docs' examples show)
            at = next((i for i, r in enumerate(records) if str(r.get(key)) == marker), None)
            records = records[at:] if at is not None else []
        limit = _first(query.get("limit"))
        limit = int(limit) if limit is not None and str(limit).isdigit() else PAGE_DEFAULT
        return self.reply(200, {self.role.wrapper: [show(r) for r in records[:max(limit, 0)]]})

    def do_create(self) -> Outcome:
        kind, body, world = self.role.kind, self.request.body, self.world
        if kind.name == "event":
            return self.post_event()
        full = self.model.bounded(world, kind)
        if full is not None:
            return self.refuse(403, f"No room for another {kind.name} in project {self.request.project_id}.",
                               [full + "; raise it in world.yaml's settings, or reset the project"])
        record = copy.deepcopy(kind.template)
        new_id = str(uuid.uuid4())
        record.update({"id": new_id} if "id" in record or kind.id_param else {})
        if "project_id" in record:
            record["project_id"] = self.request.project_id
        body = body if isinstance(body, dict) else {}
        referenced: dict[str, dict[str, Any]] = {}
        for body_field, target in kind.refs.items():
            target_kind = self.model.kinds[target]
            target_id = body.get(body_field)
            found = world.record(target, target_id)
            if found is None:
                return self.not_found(target_kind, target_id)
            name = kind.ref_field(body_field)
            need = kind.requires.get(name)
            if found.get("deleted") or (need and not found.get(need)):
                why = "it is deleted" if found.get("deleted") else \
                    f"it is not {need} (state {found.get('state')!r})" if "state" in found else f"it is not {need}"
                return self.refuse(409, f"A {kind.name} cannot use {target} {target_id}: {why}.",
                                   [f"{body_field} must name a {target}" + (f" that is {need}" if need else "")
                                    + " and not deleted"])
            referenced[name] = found
            record[name] = self.ref(target_kind, target_id)
        for name, dotted in kind.derive.items():
            head, _, rest = dotted.partition(".")
            value = _dig(referenced.get(head) or {}, rest)
            if isinstance(value, dict) and "id" in value:
                record[name] = self.ref(self.model.kinds[name if name in self.model.kinds else "agent"], value["id"])
        for name, value in body.items():
            if name in record and name not in kind.refs and name not in FIXED and name != "state":
                record[name] = copy.deepcopy(value)
        if kind.parent_param:
            record["_parent"] = self.request.path_params.get(kind.parent_param)
        now = _iso(world.now())
        record["_created"] = record["_updated"] = now
        if "date" in record:
            record["date"] = now
        record["links"] = self.links(kind, record)
        if kind.lifecycle is not None:
            record["state"] = kind.lifecycle.start
            self.reset_results(kind, record)
        if "deleted" in record:
            record["deleted"] = False
        if kind.lifecycle is not None:
            record = self.model.move(world, kind, record, kind.lifecycle.start)
        else:
            world.put(kind.name, record)
            if "created" in kind.events:
                self.model.record_event(world, kind, record, "created")
        location = self.item_url(kind, record)
        status = min(s for s in self.op.statuses if 200 <= s < 300)
        headers = {"Location": location} if "location" in {h.lower() for h in self.op.response_headers(status)} else {}
        has_schema = self.op.response_schema(status) is not None
        return self.reply(status, self.view(kind, record) if has_schema else None, headers)

    def reset_results(self, kind: Kind, record: dict[str, Any]) -> None:
        """A new job has no results yet: its times unset, counts at zero, no errors."""
        for name, value in list(record.items()):
            if name.endswith("_time"):
                record[name] = None
            elif name in ("snapshot_id",):
                record[name] = None
            elif name == "snapshot_ids":
                record[name] = []
            elif name == "restorable":
                record[name] = False
            elif name == "errors" and isinstance(value, dict):
                record[name] = {"count": 0, "reason": "", "diagnostics": "", "list": [],
                                "links": [{"href": f"{self.item_url(kind, record)}/errors", "rel": "full"}]}
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and name not in ("id",):
                record[name] = 0

    def post_event(self) -> Outcome:
        body = dict(self.request.body) if isinstance(self.request.body, dict) else {}
        event = {"id": self.world.next_event_id(), "time": _iso(self.world.now()), **body}
        if self.role.owner is not None:
            owner_id = self.request.path_params.get(self.role.owner.id_param)
            event[self.role.owner.name] = {"id": owner_id}
        self.model.add_event(self.world, event)
        return self.reply(min(s for s in self.op.statuses if 200 <= s < 300))

    def do_put(self) -> Outcome:
        kind = self.role.kind
        record = dict(self.request.body) if isinstance(self.request.body, dict) else {}
        record["id"] = self.item_id()
        self.world.put(kind.name, record)
        return self.reply(min(s for s in self.op.statuses if 200 <= s < 300))

    def do_delete(self) -> Outcome:
        kind, world = self.role.kind, self.world
        record = self.current()
        if record is None or record.get("deleted"):
            return self.not_found(kind, self.item_id())
        if kind.delete == "mark":
            world.put(kind.name, {**record, "deleted": True, "enabled": False, "_updated": _iso(world.now())})
        else:
            world.remove(kind.name, record["id"])
        if "deleted" in kind.events:
            self.model.record_event(world, kind, record, "deleted")
        return self.reply(204)

    def do_patch(self) -> Outcome:
        kind, world, op_id = self.role.kind, self.world, self.op.operation_id
        record = self.current()
        if record is None:
            return self.not_found(kind, self.item_id())
        shown = {k: v for k, v in record.items() if not k.startswith("_")}
        try:
            patched = jsonpatch.JsonPatch(self.request.body).apply(shown)
        except jsonpatch.InvalidJsonPatch as exc:
            return self.refuse(400, f"{op_id}: the body is not a JSON Patch.", [str(exc)])
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            # A test that fails, a member that is not there: the patch does not fit the record as it is now.
            return self.refuse(409, f"{op_id}: the patch does not apply to this {kind.name} as it is now.", [str(exc)])
        patchable = self.model.patchable.get(op_id)
        changed = sorted(name for name in set(patched) | set(shown) if patched.get(name) != shown.get(name)
                         and (name not in patchable if patchable is not None else name in FIXED))
        if changed:
            may = ", ".join(sorted(patchable)) if patchable is not None else f"all but {', '.join(sorted(FIXED))}"
            return self.refuse(400, f"{op_id}: the field {changed[0]!r} of a {kind.name} may not change.",
                               [f"fields a patch may change: {may}"])
        schema = self.item_schema(kind)
        problems = schema_errors(schema, self.view(kind, patched)) if schema is not None else []
        if problems:
            return self.refuse(400, f"{op_id}: the patched {kind.name} does not fit the contract.", problems)
        old, new = record.get("state"), patched.get("state")
        patched.update({k: v for k, v in record.items() if k.startswith("_")})
        patched["_updated"] = _iso(world.now())
        if kind.lifecycle is not None and new != old:
            party = self.party()
            allowed = kind.lifecycle.allowed(old, party)
            if new not in allowed:
                return self.refuse(409, f"{op_id}: a {kind.name} in state {old!r} cannot move to {new!r} "
                                        f"at the {party}'s request.", [self.moves_text(kind, old)])
            world.put(kind.name, patched)
            self.model.move(world, kind, patched, new)
        else:
            world.put(kind.name, patched)
            if "updated" in kind.events:
                self.model.record_event(world, kind, patched, "updated")
        return self.reply(204)

    def moves_text(self, kind: Kind, state: str) -> str:
        parts = [f"{party}: {', '.join(kind.lifecycle.allowed(state, party)) or 'none'}" for party in PARTIES]
        return f"allowed moves from {state!r}: " + "; ".join(parts) + \
            " (a request is the agent's when it carries X-Agent-Id or an agent's token)"

    def party(self) -> str:
        record = self.request.token_record or {}
        return "agent" if record.get("agent_id") or self.request.headers.get("x-agent-id") else "user"

    def do_errors(self) -> Outcome:
        record = self.current()
        if record is None:
            return self.not_found(self.role.kind, self.item_id())
        errors = dict(record.get("errors") or {})
        errors.setdefault("list", [])
        errors["links"] = [{"href": f"{self.item_url(self.role.kind, record)}/errors", "rel": "self"}]
        return self.reply(200, errors)

    def do_events(self) -> Outcome:
        records = list(self.world.table("event").values())
        owner = self.role.owner
        if owner is not None:
            owner_id = self.request.path_params.get(owner.id_param)
            records = [e for e in records if _dig(e, f"{owner.name}.id") == owner_id]
        records.sort(key=lambda e: int(e["id"]) if str(e.get("id", "")).isdigit() else 0)
        return self.page(records, lambda e: e)

    def do_activities(self) -> Outcome:
        owner = self.role.owner
        owner_id = self.request.path_params.get(owner.id_param) if owner is not None else None
        items = []
        for kind in self.model.kinds.values():
            if not kind.activity:
                continue
            for record in self.world.table(kind.name).values():
                activity = self.activity(kind, record)
                if owner is None or _dig(activity, f"{owner.name}.id") == owner_id:
                    items.append(activity)
        items.sort(key=lambda a: a["last_updated_time"] or "", reverse=True)
        return self.page(items, lambda a: a)

    def activity(self, kind: Kind, record: dict[str, Any]) -> dict[str, Any]:
        agent = record.get("agent") or record.get("destination_agent")
        activity = {"id": record["id"], "type": kind.name,
                    "last_updated_time": record.get("_updated") or record.get("ended_time") or record.get("started_time"),
                    "state": record.get("state")}
        if agent:
            activity["agent"] = agent
        if record.get("configuration"):
            activity["configuration"] = record["configuration"]
        activity["links"] = [{"href": self.item_url(kind, record), "rel": kind.name}]
        return activity

    # ---- urls
    def item_url(self, kind: Kind, record: dict[str, Any]) -> str:
        values = {"project_id": self.request.project_id, kind.id_param or "": record.get("id", "")}
        if kind.parent_param:
            values[kind.parent_param] = record.get("_parent") or self.request.path_params.get(kind.parent_param)
        return self.request.base_url + _fill(kind.item, values)

    def ref(self, kind: Kind, record_id: str) -> dict[str, Any]:
        return {"id": record_id, "links": [{"href": self.item_url(kind, {"id": record_id}), "rel": "full"}]}

    def links(self, kind: Kind, record: dict[str, Any]) -> list[dict[str, str]]:
        url = self.item_url(kind, record)
        rels = [link.get("rel") for link in kind.template.get("links") or [] if isinstance(link, dict)]
        return [{"href": url if rel == "self" else f"{url}/{rel}", "rel": rel} for rel in rels or ["self"]
                if rel in ("self", "events", "errors", "activities")]

    def item_schema(self, kind: Kind) -> dict[str, Any] | None:
        for role_id, role in self.model.roles.items():
            if role.kind is kind and role.action == "get" and role.owner is None:
                return self.model.schemas.get(role_id)
        return None


# ---- loading
def _kind(path: Path, name: str, raw: dict[str, Any], contract: Contract) -> Kind:
    where = f"{path}: kinds.{name}"
    item = raw.get("item")
    if not isinstance(item, str) or not item.startswith("/"):
        raise ResourceError(f"{where}.item: a path of the contract, e.g. /v2/{{project_id}}/backups/{{backup_id}}")
    params = _PARAMETER.findall(item)
    last = item.rstrip("/").rsplit("/", 1)[-1]
    id_param = last[1:-1] if last.startswith("{") else None
    collection = item.rstrip("/").rsplit("/", 1)[0] if id_param else item
    parent = raw.get("parent")
    parent_param = next((p for p in params if p not in ("project_id", id_param)), None) if parent else None
    lifecycle = None
    if raw.get("lifecycle"):
        lifecycle = _lifecycle(where, raw["lifecycle"])
    template, shown = {}, {}
    if raw.get("example"):
        op_id = raw["example"]
        if op_id not in contract.operations:
            raise ResourceError(f"{where}.example: {contract.unknown(op_id)}")
        op = contract.operation(op_id)
        success = min((s for s in op.statuses if 200 <= s < 300), default=200)
        template = copy.deepcopy(op.response_example(success) or {})
    read = contract.read_at(item)
    if read is not None:
        shown = copy.deepcopy(read.response_example(200) or {})
    unknown = set(raw) - {"item", "parent", "example", "refs", "requires", "derive", "hidden", "delete", "filters",
                          "bound", "full", "activity", "lifecycle", "events"}
    if unknown:
        raise ResourceError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    return Kind(name, item, id_param, collection, parent, parent_param, raw.get("example"),
                dict(raw.get("refs") or {}), dict(raw.get("requires") or {}), dict(raw.get("derive") or {}),
                list(raw.get("hidden") or []), raw.get("delete", "remove"), dict(raw.get("filters") or {}),
                raw.get("bound"), raw.get("full", "refuse"), bool(raw.get("activity")), lifecycle,
                list(raw.get("events") or []), template, shown)


def _lifecycle(where: str, raw: dict[str, Any]) -> Lifecycle:
    states = {}
    for name, spec in (raw.get("states") or {}).items():
        spec = spec or {}
        moves = {party: list(targets) for party, targets in (spec.get("moves") or {}).items()}
        bad = [party for party in moves if party not in (*PARTIES, "any")]
        if bad:
            raise ResourceError(f"{where}.lifecycle.states.{name}.moves: {bad[0]!r} is not one of "
                                f"{', '.join(PARTIES)}, any")
        states[name] = State(moves, spec.get("auto"), dict(spec.get("sets") or {}), spec.get("event"))
    for name, state in states.items():
        for target in [*(t for ts in state.moves.values() for t in ts), *([state.auto] if state.auto else [])]:
            if target not in states:
                raise ResourceError(f"{where}.lifecycle.states.{name}: moves to {target!r}, which is not a state")
    if raw.get("start") not in states:
        raise ResourceError(f"{where}.lifecycle.start: {raw.get('start')!r} is not one of its states")
    return Lifecycle(raw["start"], states)


def _roles(kinds: dict[str, Kind], contract: Contract) -> dict[str, Role]:
    """Each operation on a kind's paths and what it does there."""
    roles: dict[str, Role] = {}
    by_collection = {kind.collection.rsplit("/", 1)[-1]: kind for kind in kinds.values() if kind.id_param}
    for op in contract.operations.values():
        role = None
        for kind in kinds.values():
            if op.path == kind.item:
                action = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "PUT": "put"}.get(op.method)
                if action:
                    role = Role(action, kind)
            elif op.path == kind.collection and kind.id_param:
                action = {"GET": "list", "POST": "create"}.get(op.method)
                if action:
                    role = Role(action, kind)
            elif kind.id_param and op.path.startswith(kind.item + "/") and op.path.count("/") == kind.item.count("/") + 1:
                segment = op.path.rsplit("/", 1)[-1]
                if segment == "errors" and op.method == "GET":
                    role = Role("errors", kind)
                elif segment == "events":
                    role = Role("events" if op.method == "GET" else "create", kinds["event"], owner=kind)
                elif segment == "activities" and op.method == "GET":
                    role = Role("activities", kind, owner=kind)
                elif segment == "status" and op.method == "GET":
                    role = Role("status", kind, owner=kind)
                elif segment in by_collection and by_collection[segment].parent != kind.name and op.method == "GET":
                    role = Role("list", by_collection[segment], owner=kind)
                elif segment in by_collection and by_collection[segment].parent == kind.name:
                    continue  # the nested kind's own collection
                else:
                    role = Role("exists", kind, owner=kind)
            elif kind.id_param and op.path.startswith(kind.item + "/"):
                role = role or Role("exists", kind, owner=kind)
            if role is not None and role.action != "exists":
                break
        if role is None and op.path.endswith("/activities") and op.method == "GET":
            role = Role("activities", kinds.get("backup") or next(iter(kinds.values())))
        if role is not None and role.kind.name == "event" and role.action == "list":
            role = Role("events", role.kind)
        if role is not None:
            if role.action in ("list", "events", "activities"):
                role.wrapper = _wrapper(op)
            roles[op.operation_id] = role
    return roles


def _wrapper(op: Operation) -> str:
    schema = op.response_schema(200) or {}
    arrays = [name for name, prop in (schema.get("properties") or {}).items() if prop.get("type") == "array"]
    return arrays[0] if arrays else "items"


# ---- helpers
def _first(values: Any) -> Any:
    if isinstance(values, list):
        return values[0] if values else None
    return values


def _dig(record: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _same(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == str(wanted).lower()
    return value is not None and str(value) == str(wanted)


def _fill(template: str, values: dict[str, Any]) -> str:
    return _PARAMETER.sub(lambda m: path_segment(str(values.get(m.group(1), ""))), template)


def _iso(moment: Any) -> str:
    from .world import iso
    return iso(moment)


def _parse_time(text: Any):
    from datetime import datetime, timezone
    if not text:
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
