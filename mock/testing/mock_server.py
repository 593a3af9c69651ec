"""The mock as a test double: a real server in a background thread, and handles on its state.

Usable without pytest::

    with MockServer() as mock:
        httpx.get(mock.url + "/v2/110011/agents/...", headers={"X-Auth-Token": DOCS_TOKEN})
        assert mock.calls("getAgent")

The pytest plugin (``cloud_backup_mock.testing.plugin``) hands the same object to tests.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ..config import MockConfig
from ..contract import coverage_of
from ..engine.scenarios import ScenarioError
from ..engine import build_engine, complete
from ..engine.verification import known_operation, short_json, verify
from ..engine.world import EffectError, ProjectWorld
from ..http.app import create_app
from ..http.server import BackgroundServer
from . import DOCS_PROJECT
from .coverage_tally import SessionTally, TalliedJournal
from .handlers import Failures, HandlerStub, StubRequest, documented_body
from .transport import AsyncMockTransport, MockTransport

T = TypeVar("T")
EXCHANGES_SHOWN = 20  # a failing test's report shows this many of its latest exchanges


@dataclass(frozen=True)
class Stub:
    """A ``respond()`` stub that must answer at least once before the test ends."""

    name: str
    project_id: str
    description: str


class MockServer:
    def __init__(self, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        config = config or MockConfig()
        if config.state != "memory":
            raise ValueError(f"MockServer keeps its state in the test's own process, not in {config.state!r}: "
                             "leave MockConfig.state as 'memory' (a shared sandbox is `serve --state redis://...`)")
        engine = build_engine(config)
        self.tally = SessionTally()  # every exchange since the server was made, across resets
        self.app = create_app(config, engine, TalliedJournal(engine.store.journal(config.journal_mask), self.tally))
        self.engine, self.journal = self.app.engine, self.app.journal
        self._responses = 0
        self._stubs: list[Stub] = []  # respond() stubs not marked optional, until the next reset
        self._handler_failures = Failures()
        self._server = BackgroundServer(self.app, host=host, port=port)
        self.transport = MockTransport(self.app, lambda: self._server.loop)
        self.async_transport = AsyncMockTransport(self.app, lambda: self._server.loop)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> "MockServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "MockServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- scenarios and state
    def reset(self, project_id: str | None = None) -> None:
        """Forget state, active scenarios and journal entries (of one project, or all)."""
        complete(self.engine.reset(project_id))
        complete(self.journal.remove(project_id))
        self._stubs = [s for s in self._stubs if project_id is not None and s.project_id != project_id]
        self.journal.waiting.intersection_update(stub.name for stub in self._stubs)
        handlers = self.engine.rules.handlers
        for key in [key for key in handlers if project_id is None or key[0] == project_id]:
            del handlers[key]
        self._handler_failures.clear(project_id)

    def use(self, *scenarios: str, project_id: str = DOCS_PROJECT) -> None:
        """Make these scenarios answer first for ``project_id`` (``"name;key=value"`` sets a parameter);
        no names restores the default world."""
        complete(self.engine.set_project_scenarios(project_id, list(scenarios)))

    def world(self, project_id: str = DOCS_PROJECT) -> ProjectWorld:
        """The project's state, to read (change it with the helpers below)."""
        return complete(self.engine.store.project(project_id))

    def change(self, step: Callable[[ProjectWorld], T], project_id: str = DOCS_PROJECT) -> T:
        """Apply ``step`` to the project's state as one change of the store (as a request's effects are)."""
        return complete(self.engine.store.transaction(self.world(project_id), step))[1]

    def register_agent(self, project_id: str = DOCS_PROJECT, *, encrypted: bool = False,
                       fingerprint: str = "arbitrary-string-determined-by-agent", **fields: Any) -> dict[str, Any]:
        """Put an agent in the world directly (as ``registerAgent`` would) and return its record,
        password and fingerprint included. ``fields`` are the request body's own (``name``, ``host``, …):
        any other name raises ValueError naming the closest known one."""
        operation = self.engine.contract.operation("registerAgent")
        known = sorted((operation.request_schema or {}).get("properties") or {})
        for name in fields:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"register_agent: unknown field {name!r}{hint}; known: {', '.join(known)}")
        body = copy.deepcopy(operation.request_example)
        body["host"]["fingerprint"] = fingerprint
        body.update(fields)

        def register(world: ProjectWorld) -> dict[str, Any]:
            agent = world.apply("register_agent", {"body": body, "base_url": self.url})
            if encrypted:
                world.apply("set_vault_encrypted", {"agent_id": agent["id"], "encrypted": True})
            return copy.deepcopy(agent)

        return self.change(register, project_id)

    def configure(self, project_id: str = DOCS_PROJECT, **settings: Any) -> None:
        """Change the project's world settings (``world.yaml``'s names, e.g. ``auto_report_after_seconds=0``);
        an unknown name raises ValueError naming it, and nothing changes."""
        try:
            self.change(lambda world: world.apply("configure", settings), project_id)
        except EffectError as exc:
            raise ValueError(str(exc)) from None

    def encrypt_vault(self, agent_id: str, project_id: str = DOCS_PROJECT, encrypted: bool = True) -> None:
        self.change(lambda world: world.apply("set_vault_encrypted", {"agent_id": agent_id, "encrypted": encrypted}),
                    project_id)

    # ---- resources and time (the kinds of resources.yaml)
    def advance(self, seconds: float, project_id: str = DOCS_PROJECT) -> dict[str, Any]:
        """Move the project's clock on by ``seconds`` without sleeping: tokens expire, vault and browse requests
        are reported and jobs move on as if that time had passed. Returns the clock (``now``, ``advanced_seconds``)."""
        return complete(self.engine.advance_clock(project_id, seconds))

    def create(self, kind: str, project_id: str = DOCS_PROJECT, **fields: Any) -> dict[str, Any]:
        """Make a record of ``kind`` (``configuration``, ``backup``, ``restore``, ``cleanup``, ``logfile``)
        straight in the world, as its create operation would with ``fields`` as the body (a logfile's agent as
        ``agent_id=``), and return it as the API shows it. Unknown fields raise ValueError."""
        model = self.engine.seed.model
        request = model.creation(kind, project_id, fields, self.url)
        outcome = self.change(lambda world: model.answer(request, world), project_id)
        if outcome is None or outcome.status >= 300:
            raise ValueError((outcome.body or {}).get("message") if outcome else f"no {kind} made")
        return outcome.body if outcome.body is not None else {}

    def move(self, kind: str, record_id: str, state: str, project_id: str = DOCS_PROJECT) -> None:
        """Put a record in ``state`` straight away (its lifecycle's rules are not asked)."""
        model = self.engine.seed.model
        self.change(lambda world: model.force(world, kind, record_id, state), project_id)

    def record(self, kind: str, record_id: str, project_id: str = DOCS_PROJECT) -> dict[str, Any] | None:
        """A record of the project's world as it is kept (private fields included), or None."""
        self.engine.seed.model.kind(kind)
        return self.world(project_id).record(kind, record_id)

    # ---- inline behaviour
    def respond(self, operation: str, *, status: int | None = None, body: Any = None,
                headers: dict[str, Any] | None = None, handler: Callable[[StubRequest], dict[str, Any]] | None = None,
                times: int | None = None, match: dict[str, Any] | None = None, delay: float | None = None,
                drop: bool = False, optional: bool = False, project_id: str = DOCS_PROJECT) -> str:
        """Answer ``operation`` with ``status`` (and ``body``, ``headers``) for ``project_id``, before
        anything else, until the project is reset (after each test, with the fixture); the most recent
        ``respond()`` is tried first. ``body=None``: the documented example for that status (or a
        schema-valid one). ``handler=fn`` (instead of ``status``): ``fn(request)`` computes each answer
        (see ``handlers.py``). ``times``: only that many times. ``match``: as in scenario files
        (``{"body": {"id": "..."}, "headers": {...}}``). ``delay``: seconds to wait before answering.
        ``drop=True``: close the connection without answering (no ``status``). Checked against the
        contract at once: a status, header or body the contract does not allow raises ValueError naming
        why (a handler's answers, when it gives them). A stub that never answers by the end of the test
        fails it (see :meth:`assert_all_called`) unless ``optional=True``. Returns the name of the
        scenario it made (``respond-N``: N counts every stub the server has made, so that an answer still on
        its way from an earlier test never meets a later test's stub of the same name)."""
        known_operation(self.engine.contract, operation)
        if (status is not None) + drop + (handler is not None) != 1:
            raise ValueError(f"respond({operation!r}) takes one of status= (an answer), handler= (code that "
                             "answers) or drop=True (no answer)")
        rule: dict[str, Any] = {"operation": operation}
        if drop:
            rule["drop"] = True
            what = "drop"
        elif handler is not None:
            if not callable(handler) or body is not None or headers is not None:
                raise ValueError(f"respond({operation!r}, handler=...) takes a function of the request, and no "
                                 "body= or headers= (the handler returns them)")
            what = f"handler={getattr(handler, '__qualname__', None) or repr(handler)}"
        else:
            rule["response"] = self._response(operation, status, body, headers)
            what = f"status={status}"
        if times is not None:
            rule["times"] = times
        if match:
            rule["match"] = match
        if delay is not None:
            rule["delay"] = delay
        self._responses += 1
        name = f"respond-{self._responses}"
        description = f"respond({operation}, {what})"
        # In place before the stub's rule can be reached: its handler, and its name among those waiting.
        if handler is not None:
            self.engine.rules.handlers[(project_id, name)] = HandlerStub(
                name, description, handler, self.engine.rules, self._handler_failures)
        if not optional:
            self.journal.waiting.add(name)
        try:
            complete(self.engine.add_scenario(project_id, {"name": name, "description": description, "rules": [rule]}))
        except ScenarioError as exc:
            self.engine.rules.handlers.pop((project_id, name), None)
            self.journal.waiting.discard(name)
            raise ValueError(f"respond({operation!r}, {what}) does not fit the contract:\n"
                             + "\n".join(exc.problems)) from None
        if not optional:
            self._stubs.append(Stub(name, project_id, description))
        return name

    def _response(self, operation: str, status: int, body: Any, headers: dict[str, Any] | None) -> dict[str, Any]:
        if body is None:
            body = documented_body(self.engine.contract.operation(operation), status)
        response: dict[str, Any] = {"status": status}
        if headers:
            response["headers"] = headers
        if body is not None:
            response["body"] = body
        return response

    def assert_all_called(self) -> None:
        """Assert that every ``respond()`` stub (but those made with ``optional=True``) answered at least
        once since the last reset; the fixture does this when a test's body passes."""
        __tracebackhide__ = True
        unused = [stub for stub in self._stubs if stub.name in self.journal.waiting]
        if unused:
            lines = [f"  {stub.name}: {stub.description} for project {stub.project_id}" for stub in unused]
            raise AssertionError(f"{len(unused)} respond() stub(s) never used:\n" + "\n".join(lines)
                                 + "\n(pass optional=True to respond() for a stub a test may leave unused)")

    def assert_no_handler_errors(self) -> None:
        """Assert that no ``respond(handler=...)`` handler raised or returned an answer the contract does
        not allow since the last reset (each was answered 500, naming the stub); the fixture does this
        after every test."""
        __tracebackhide__ = True
        message = self._handler_failures.message()
        if message:
            raise AssertionError(message)

    def handler_errors(self) -> str | None:
        """What :meth:`assert_no_handler_errors` would say (None: nothing)."""
        return self._handler_failures.message()

    # ---- the journal, for assertions
    def requests(self, operation: str | None = None, project_id: str | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        """The journal's entries, oldest first, each with the mock's ``response``: secret headers masked,
        bodies as the test sent them (the admin API masks body fields such as ``password`` too)."""
        if operation is not None:
            known_operation(self.engine.contract, operation)
        return complete(self.journal.read(project_id=project_id, operation=operation, status=status,
                                          unmasked_bodies=True))

    def calls(self, operation: str, project_id: str | None = None) -> list[dict[str, Any]]:
        """Requests made to one operation (by operationId), oldest first."""
        return self.requests(operation, project_id)

    def last_body(self, operation: str, project_id: str | None = None) -> Any:
        """The body of the latest request to ``operation``; AssertionError when there was none."""
        __tracebackhide__ = True
        calls = self.calls(operation, project_id)
        if not calls:
            seen = sorted({e["operation"] or f"{e['method']} {e['path']}" for e in self.requests()})
            raise AssertionError(f"no request to {operation} was recorded; seen: {', '.join(seen) or 'nothing'}")
        return calls[-1]["body"]

    def verify(self, operation: str, *, count: int | None = None, status: int | None = None, body: Any = None,
               headers: dict[str, str] | None = None, project_id: str | None = None) -> list[dict[str, Any]]:
        """Assert that ``operation`` was called (exactly ``count`` times, if given) with a body containing
        ``body``, these ``headers``, answered ``status``; returns the matching requests. Headers are
        compared with the values sent (``X-Auth-Token`` included); a secret header's value is shown as
        ``***`` in the message and in the requests returned. When it was not, AssertionError says what
        was expected and shows the nearest requests with their differences."""
        __tracebackhide__ = True
        known_operation(self.engine.contract, operation)
        sent = complete(self.journal.read(project_id=project_id, unmasked_bodies=True, unmasked_headers=True))
        result = verify(sent, operation, count, status, body, headers, hidden=self.journal.secret_headers)
        if not result.verified:
            raise AssertionError(result.message)
        matched = {entry["id"] for entry in result.matched}
        return [entry for entry in complete(self.journal.read(project_id=project_id, unmasked_bodies=True))
                if entry["id"] in matched]

    def coverage(self, project_id: str | None = None) -> dict[str, Any]:
        """Which operations, documented statuses and scenarios the requests made since this server was
        made (across resets) got answered, of one project or all: ``{"operations": {operationId: {"seen":
        {status: count}, "never": [documented status, ...], "scenarios": [...]}}, "responses_documented":
        N, "responses_seen": M}``."""
        return coverage_of(self.engine.contract, self.tally.counts(project_id))

    def exchanges(self, last: int = EXCHANGES_SHOWN) -> str:
        """The latest ``last`` exchanges in the journal, a few lines each, and how many came before: what
        a failing test's report shows."""
        entries = complete(self.journal.read(unmasked_bodies=True))
        lines = [f"({len(entries) - last} earlier exchanges not shown)"] if len(entries) > last else []
        for entry in entries[-last:]:
            response = entry.get("response") or {}
            rule = f" ({response.get('rule') or response.get('scenario') or entry.get('scenario') or '-'})"
            lines.append(f"#{entry['id']} {entry['method']} {entry['path']} -> {entry['status']}{rule}")
            if entry.get("body") is not None:
                lines.append(f"    request body:  {short_json(entry['body'], 500)}")
            if response.get("body") is not None:
                lines.append(f"    response body: {short_json(response['body'], 500)}")
        return "\n".join(lines) or "(no requests)"
