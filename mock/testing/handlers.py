"""``respond(operation, handler=fn)``: a stub whose answer is computed by the test's own code.

``fn(request)`` gets a :class:`StubRequest` (the operation, path values, query, headers, parsed body and a
:class:`WorldView` of the project's state) and returns ``{"status": ..., "headers": ..., "body": ...}``
(``headers`` and ``body`` optional: without a body, the documented example for that status). The answer
is checked against the contract like a scenario's. A handler that raises, or returns something the
contract does not allow, makes the mock answer 500 in the API's error shape naming the stub, and is kept
as a :class:`HandlerFailure` that fails the test (``MockServer.assert_no_handler_errors``).
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ..contract import Operation
from ..engine import Outcome, Request
from ..engine.rules import Rules, header_problems
from ..engine.samples import sample_body
from ..engine.scenarios import Response, Rule, response_problems
from ..engine.world import ProjectWorld

ANSWER_KEYS = ("status", "headers", "body")


def documented_body(operation: Operation, status: int) -> Any:
    """The body a stub answers when it gives none: the documented example for ``status``, or a
    schema-valid one where the docs have none (None when the status documents no body)."""
    if operation.response_schema(status) is None:
        return None
    body = operation.response_example(status)
    return sample_body(operation.response_schema(status), status) if body is None else body


class WorldView:
    """A project's state as a handler reads it: copies, so nothing a handler does changes the world."""

    __slots__ = ("_world",)

    def __init__(self, world: ProjectWorld):
        object.__setattr__(self, "_world", world)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the world a handler gets is read-only (setting {name!r}); change it from the "
                             "test with the mock's helpers (register_agent, configure, change)")

    @property
    def project_id(self) -> str:
        return self._world.project_id

    @property
    def agents(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._world.agents)

    @property
    def tokens(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._world.tokens)

    @property
    def settings(self) -> Any:
        return copy.deepcopy(self._world.settings)

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's record (password included), or None."""
        return copy.deepcopy(self._world.agent(agent_id))

    def agent_view(self, agent_id: str) -> dict[str, Any] | None:
        """The agent as the API shows it (no private fields, no password), or None."""
        return copy.deepcopy(self._world.agent_view(agent_id))


@dataclass(frozen=True)
class StubRequest:
    """What a handler is asked: ``query`` maps each name to its values; ``headers`` have lower-case names."""

    operation: str
    project_id: str
    method: str
    path: str
    path_params: dict[str, Any]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    world: WorldView


@dataclass(frozen=True)
class HandlerFailure:
    stub: str  # the stub's name, respond-N
    description: str
    project_id: str
    request: str  # "GET /v2/..."
    problems: list[str]
    trace: str  # the handler's traceback, when it raised

    def __str__(self) -> str:
        lines = [f"  {self.stub}: {self.description} for project {self.project_id}, on {self.request}:"]
        lines += [f"    {problem}" for problem in self.problems]
        lines += [f"    {line}" for line in self.trace.rstrip().splitlines()]
        return "\n".join(lines)


class HandlerStub:
    """The engine's handler for one ``respond(handler=fn)`` stub (see ``Rules.handlers``)."""

    def __init__(self, name: str, description: str, function: Callable[[StubRequest], Any], rules: Rules,
                 failures: "Failures"):
        self.name, self.description, self.function, self.rules, self.failures = (
            name, description, function, rules, failures)

    def __call__(self, rule: Rule, request: Request, world: ProjectWorld) -> Outcome:
        asked = StubRequest(request.operation.operation_id, request.project_id, request.method, request.path,
                            dict(request.path_params), {k: list(v) for k, v in request.query.items()},
                            dict(request.headers), copy.deepcopy(request.body), WorldView(world))
        try:
            answer = self.function(asked)
        except Exception as exc:
            # from the handler's own frame down: the line here that called it says nothing
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
            return self._failed(rule, request, [f"the handler raised {type(exc).__name__}: {exc}"], trace)
        problems, outcome = self._checked(rule, request.operation, answer)
        return self._failed(rule, request, problems, "") if problems else outcome

    def _checked(self, rule: Rule, operation: Operation, answer: Any) -> tuple[list[str], Outcome | None]:
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), int) or isinstance(
                answer.get("status"), bool):
            return [f"the handler returned {_short(answer)}; expected a dict with an int 'status' "
                    "(and optionally 'headers', 'body')"], None
        unknown = sorted(str(key) for key in answer if key not in ANSWER_KEYS)
        if unknown:
            return [f"the handler's answer has {', '.join(map(repr, unknown))}; it takes only "
                    f"{', '.join(ANSWER_KEYS)}"], None
        status, headers = answer["status"], answer.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, (str, int))
                                                    and not isinstance(v, bool) for k, v in headers.items()):
            return [f"the handler's headers are {_short(headers)}; expected a dict of names to str or int"], None
        headers = {name: str(value) for name, value in headers.items()}
        body = answer.get("body")
        if body is None and operation.response(status) is not None:
            body = documented_body(operation, status)
        try:
            body = json.loads(json.dumps(body, allow_nan=False))  # what JSON carries, and nothing else
        except (TypeError, ValueError) as exc:
            return [f"the handler's body is not JSON: {exc}"], None
        problems = response_problems(operation, Response(status, headers, body, body is not None))
        problems += header_problems(headers)
        if problems:
            return problems, None
        return [], Outcome(status, headers, body, body is not None, scenario=rule.scenario, rule=rule.label)

    def _failed(self, rule: Rule, request: Request, problems: list[str], trace: str) -> Outcome:
        named = [f"respond() stub {self.name} ({self.description}): {problem}" for problem in problems]
        self.failures.add(HandlerFailure(self.name, self.description, request.project_id,
                                         f"{request.method} {request.path}", problems, trace))
        return self.rules.scenario_failure(rule, named)


class Failures:
    """The handler failures since the last reset, at most ``most`` kept (the rest counted)."""

    def __init__(self, most: int = 20):
        self.most, self.kept, self.more = most, [], 0
        self._lock = threading.Lock()

    def add(self, failure: HandlerFailure) -> None:
        with self._lock:
            if len(self.kept) < self.most:
                self.kept.append(failure)
            else:
                self.more += 1

    def clear(self, project_id: str | None = None) -> None:
        with self._lock:
            self.kept = [f for f in self.kept if project_id is not None and f.project_id != project_id]
            self.more = 0 if project_id is None else self.more

    def message(self) -> str | None:
        """What a test that made them is told (None: none)."""
        with self._lock:
            if not self.kept:
                return None
            total = len(self.kept) + self.more
            lines = [f"{total} respond() handler failure(s) (the client was answered 500 each time):"]
            lines += [str(failure) for failure in self.kept]
            if self.more:
                lines.append(f"  ({self.more} more not shown)")
            return "\n".join(lines)


def _short(value: Any, most: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."
