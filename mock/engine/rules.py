"""The rule chain: the scenarios tried for a request, in order, and the walk of their rules for its
operation, which turns the first rule that answers into an :class:`Outcome` (its ``when``, ``times``,
``delay``, effects on the project's state, and its answer checked against the contract)."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Awaitable, Callable

from ..config import Limits
from ..contract import Contract, Operation, error_document, schema_errors
from .answers import fill_path
from .request import Outcome, Request
from .scenarios import DEFAULT_SCENARIO, Rule, Scenario
from .selection import Selection, parse_selection
from .store import Store
from .templating import TemplateError, Variables, is_static, render
from .world import Clock, EffectError, ProjectWorld, iso

log = logging.getLogger("cloud_backup_mock")
MAX_HEADER_VALUE = 4096
_HEADER_VALUE = re.compile(rf"[\t\x20-\x7e\xa0-\xff]{{0,{MAX_HEADER_VALUE}}}")
# A rule's answer given by code (the test double's ``respond(handler=...)``): called with the rule, the
# request and the project's state, inside the walk's step, it gives the rule's Outcome.
Handler = Callable[[Rule, Request, ProjectWorld], Outcome]


class Rules:
    def __init__(self, contract: Contract, store: Store, clock: Clock, limits: Limits,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        self.contract, self.store, self.clock, self.limits, self.sleep = contract, store, clock, limits, sleep
        # (project, added scenario) -> the code that answers its rules that have no response of their own
        self.handlers: dict[tuple[str, str], Handler] = {}

    async def walk(self, request: Request, world: ProjectWorld,
                   chain: list[tuple[Scenario, dict[str, Any]]]) -> Outcome | None:
        """The answer of the first rule of ``chain`` that answers the request; None when none does."""
        rules = [(rule, scenario, params) for scenario, params in chain
                 for rule in scenario.rules_for(request.operation.operation_id) if _matches(rule, request)]
        state = _Current(world)
        context = self.template_context(request, state) if rules else {}
        # The rules are walked in one step of the store (one version of the project's state decides the
        # whole answer), but for a rule with a delay: its turn is taken, the request sleeps, and its
        # effects and answer are a second step (the walk goes on from there if it does not answer).
        step = _Walk(self, request, rules, context)
        state.world, found = await self.store.transaction(world, step)
        while isinstance(found, _Sleep):
            await self.sleep(found.seconds)
            state.world = await self.store.project(request.project_id)
            step = _Walk(self, request, rules, context, resume=found.position)
            state.world, found = await self.store.transaction(state.world, step)
        return found

    def applies(self, rule: Rule, params: dict[str, Any], world: ProjectWorld, context: dict[str, Any]) -> bool:
        """Whether the rule answers now (its ``when``), taking one of its ``times`` turns if so."""
        if rule.when is not None and not _render(rule, rule.when, context):
            return False
        return self.take_turn(rule, world, params, context)

    def answer_rule(self, rule: Rule, request: Request, world: ProjectWorld,
                    context: dict[str, Any]) -> Outcome | None:
        """The rule's effects, then its answer (None: it has none, the walk goes on)."""
        for effect in rule.effects:
            try:
                result = world.apply(effect.name, _render(rule, effect.args, context))
            except EffectError as exc:
                return self.scenario_failure(rule, [str(exc)])
            if effect.bind:
                context[effect.bind] = result
        if rule.drop:
            return Outcome(0, scenario=rule.scenario, rule=rule.label, drop=True)
        if rule.response is not None:
            return self.respond(rule, request.operation, context)
        handler = self.handlers.get((request.project_id, rule.scenario)) if self.handlers else None
        return handler(rule, request, world) if handler is not None else None

    def chain(self, request: Request, scenarios: dict[str, Scenario], world: ProjectWorld,
              global_active: list[Selection]) -> list[tuple[Scenario, dict[str, Any]]]:
        """The scenarios tried, in order: the request's header, those added for the project (newest
        first), the project's selections, those of start-up, then the default world. A selection whose
        scenario the loaded set does not have is passed over."""
        header = request.headers.get("x-mock-scenario")
        selected = parse_selection(header, scenarios) if header else []
        chosen = [(scenarios[name], params) for name, params in selected if name in scenarios]
        chosen += [(scenario, {}) for scenario in reversed(list(world.added.values()))]
        chosen += [(scenarios[name], params) for name, params in world.active + global_active if name in scenarios]
        return chosen + [(scenarios[DEFAULT_SCENARIO], {})]

    def take_turn(self, rule: Rule, world: ProjectWorld, selected: dict[str, Any], context: dict[str, Any]) -> bool:
        """Whether a rule with ``times`` may answer once more. Counted per project, scenario, rule and the
        parameters as the selection gives them: ``name`` and ``name;failures=2`` count apart. Counts
        start again when the project's scenarios are selected (admin API, ``use()``) or it is reset; an
        added scenario's own counts, when it is added again or removed."""
        if rule.times is None:
            return True
        times = int(_render(rule, rule.times, context))
        key = (rule.scenario, rule.index, tuple(sorted(selected.items())))
        return world.take_turn(key, times, self.limits.max_counters)

    def respond(self, rule: Rule, operation: Operation, context: dict[str, Any]) -> Outcome:
        response = rule.response
        try:
            headers = {k: str(v) for k, v in render(response.headers, context).items()}
            body = render(response.body, context)
        except TemplateError as exc:
            return self.scenario_failure(rule, [str(exc)])
        unfit = header_problems(headers)
        if unfit:  # a request's or a parameter's value never reaches a header unchecked
            return self.scenario_failure(rule, unfit)
        if not is_static(response.body):
            schema = operation.response_schema(response.status)
            problems = schema_errors(schema, body) if schema is not None else []
            if problems:
                return self.scenario_failure(rule, problems)
        return Outcome(response.status, headers, body, response.has_body and body is not None,
                       scenario=rule.scenario, rule=rule.label)

    def scenario_failure(self, rule: Rule, problems: list[str]) -> Outcome:
        log.error("scenario rule %s failed: %s", rule.label, "; ".join(problems))
        return Outcome(500, body=error_document(f"Scenario rule {rule.label} could not answer within the contract.",
                                                problems), has_body=True, scenario=rule.scenario, rule=rule.label)

    def template_context(self, request: Request, state: "_Current") -> Variables:
        path_params = request.path_params

        def caller_agent_id() -> str | None:
            token_agent = (request.token_record or {}).get("agent_id")
            return token_agent or request.headers.get("x-agent-id") or path_params.get("agent_id")

        def url(operation_id: str, **params: Any) -> str:
            return request.base_url + fill_path(self.contract.operation(operation_id).path,
                                            {"project_id": request.project_id, **params})

        return Variables({
            "operation": request.operation.operation_id, "project_id": request.project_id,
            "path": path_params, "query": request.query, "headers": request.headers, "body": request.body,
            "base_url": request.base_url, "params": {},
            "agent": state.agent, "agent_view": state.agent_view, "vault_request": state.request,
            "agents_full": state.agents_full, "record": state.record,
            "caller_agent_id": caller_agent_id, "url": url,
            "uuid": lambda: str(uuid.uuid4()),
            "now": lambda seconds=0: iso(state.world.now() + timedelta(seconds=float(seconds))),
            "merge": lambda *parts: {k: v for part in parts for k, v in (part or {}).items()},
            "status_phrase": lambda code: HTTPStatus(int(code)).phrase,
        })


def header_problems(headers: dict[str, str]) -> list[str]:
    """The headers of an answer whose value is not one line of printable Latin-1 text of bounded length."""
    return [f"header {name}: the value is not one line of printable Latin-1 text of at most {MAX_HEADER_VALUE} "
            "characters" for name, value in headers.items() if not _HEADER_VALUE.fullmatch(value)]


@dataclass
class _Sleep:
    position: int  # of the rule that waits, in the walk's list
    seconds: float


class _Walk:
    """One step of a request: the project's time moves on, then the rules are tried in order from
    ``resume`` (the rule that slept: its effects and answer first). Gives an Outcome, None when no rule
    answers, or a :class:`_Sleep`. May run more than once (a shared store redoes it on newer state)."""

    def __init__(self, owner: "Rules", request: Request, rules: list, context: dict[str, Any],
                 resume: int | None = None):
        self.owner, self.request, self.rules, self.context, self.resume = owner, request, rules, context, resume
        self.before: dict[str, Any] | None = None  # the context before the first try: a redo starts from it

    def __call__(self, world: ProjectWorld) -> Outcome | _Sleep | None:
        world.tick()  # time went by: reports that fell due land first
        rules, context = self.owner, self.context
        if self.before is None:
            self.before = dict(context)
        else:  # not a failed try's results (bound values, params)
            context.clear()
            context.update(self.before)
        start = 0 if self.resume is None else self.resume
        for position in range(start, len(self.rules)):
            rule, scenario, params = self.rules[position]
            try:
                context["params"] = {**scenario.parameters, **params}
                if position != self.resume:
                    if not rules.applies(rule, params, world, context):
                        continue
                    delay = float(_render(rule, rule.delay, context) or 0)
                    if delay > 0:
                        return _Sleep(position, delay)
                outcome = rules.answer_rule(rule, self.request, world, context)
            except TemplateError as exc:
                return rules.scenario_failure(rule, [str(exc)])
            if outcome is not None:
                return outcome
        # No rule answers: the resource model does, for the operations on its kinds' paths.
        return world.model.answer(self.request, world) if world.model is not None else None


class _Current:
    """The project state a request works on. A shared store may read the state again in the middle of
    a request (another process wrote it); the template helpers always read the latest."""

    def __init__(self, world: ProjectWorld):
        self.world = world

    def agent(self, agent_id: Any) -> dict[str, Any] | None:
        return self.world.agent(agent_id)

    def agent_view(self, agent_id: str, with_password: bool = False) -> dict[str, Any] | None:
        return self.world.agent_view(agent_id, with_password)

    def request(self, kind: str, agent_id: str, request_id: str) -> Any:
        return self.world.request(kind, agent_id, request_id)

    def agents_full(self) -> bool:
        return self.world.agents_full()

    def record(self, kind: str, record_id: Any) -> dict[str, Any] | None:
        return self.world.record(kind, record_id)


def _render(rule: Rule, compiled: Any, context: dict[str, Any]) -> Any:
    if compiled is None or isinstance(compiled, (int, float, bool)):
        return compiled
    try:
        return render(compiled, context)
    except TemplateError as exc:
        raise TemplateError(f"scenario rule {rule.label}: {exc}") from None


def _matches(rule: Rule, request: Request) -> bool:
    for part, matchers in rule.match.items():
        for key, matcher in matchers.items():
            if part == "path":
                value = request.path_params.get(key)
            elif part == "query":
                value = request.query.get(key)
                value = value[0] if isinstance(value, list) and value else value
            elif part == "headers":
                value = request.headers.get(key)
            else:
                value = _dig(request.body, key)
            if not matcher.matches(value):
                return False
    return True


def _dig(body: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if isinstance(body, list) and key.isdigit() and int(key) < len(body):
            body = body[int(key)]
        elif isinstance(body, dict):
            body = body.get(key)
        else:
            return None
    return body


