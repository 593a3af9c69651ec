"""The scenario engine: one function answers every operation of the contract.

For a request it builds the chain of active scenarios (the request's ``X-Mock-Scenario``,
then the project's, then those activated at start-up, then ``default``), walks their
rules for the operation in order, and turns the first rule that answers into an
:class:`Outcome`. ``Prefer: code=NNN`` short-cuts the chain with the documented example.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..contract import Contract, Operation, error_document, path_segment, schema_errors
from ..config import Limits, MockConfig
from ..shipped import SCENARIOS_DIR, SPEC_FILE, WORLD_FILE_NAME
from .samples import sample_body, sample_header
from .scenarios import DEFAULT_SCENARIO, Rule, Scenario, ScenarioError, load_directory, load_document
from .templating import TemplateError, Variables, is_static, render
from .state import MemoryStore
from .world import EffectError, ProjectWorld, Seed, World, iso, utc_now

log = logging.getLogger("cloud_backup_mock")
MAX_HEADER_VALUE = 4096
_HEADER_VALUE = re.compile(rf"[\t\x20-\x7e\xa0-\xff]{{0,{MAX_HEADER_VALUE}}}")
DOCUMENTED = "(documented)"  # the scenario name of an answer no rule gave: the contract's own example
_PREFER_ITEM = re.compile(r"^\s*(code|example|dynamic)\s*=\s*([^\s,;]+)\s*$")


class RequestError(ValueError):
    """The request asks the mock for something it cannot do (unknown scenario, bad Prefer): a 400."""

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message)
        self.message, self.errors = message, errors


@dataclass
class RequestContext:
    operation: Operation
    project_id: str
    path_params: dict[str, Any]
    query: dict[str, Any]
    headers: dict[str, str]  # lower-case names
    body: Any
    base_url: str
    token: dict[str, Any] | None = None
    world: ProjectWorld | None = None  # the project's state as authentication read it, if it did


@dataclass
class Outcome:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    scenario: str = DEFAULT_SCENARIO
    rule: str | None = None
    drop: bool = False


Selection = tuple[str, dict[str, Any]]


class Engine:
    def __init__(self, contract: Contract, scenarios: dict[str, Scenario], seed: Seed,
                 active: list[str] = (), clock=utc_now, limits: Limits | None = None, sleep=asyncio.sleep,
                 store: Any = None):
        self.contract, self.seed, self.clock, self.sleep = contract, seed, clock, sleep
        self.limits = limits or Limits()
        self.scenarios = scenarios
        self.store = store or MemoryStore(seed, clock, self.limits)
        self.global_active: list[Selection] = self.parse_selection(",".join(active)) if active else []

    @property
    def world(self) -> World:
        """Every project's state, when it is kept in this process (the memory store)."""
        if not isinstance(self.store, MemoryStore):
            raise RuntimeError(f"the state is kept in {self.store.kind}, not in this process")
        return self.store.world

    # ---- configuration (admin API, CLI, pytest plugin)
    def replace_scenarios(self, scenarios: dict[str, Scenario]) -> None:
        """Swap in a reloaded set, whole: a request in flight finishes on the set it started with.
        Selections of scenarios that are gone are kept (and reported by :meth:`selection`): the
        default world answers in their place until they come back."""
        self.scenarios = scenarios
        missing = sorted({name for name, _ in self.global_active if name not in scenarios})
        if missing:
            log.warning("selected scenarios missing after the reload, the default world answers for them: %s",
                        ", ".join(missing))

    async def selection(self, project_id: str) -> dict[str, Any]:
        """What answers for a project: its selections and those of start-up (``active``), selected
        scenarios the loaded set does not have (``missing``), scenarios added for it, newest first."""
        world = await self.store.project(project_id)
        selected = world.active + self.global_active
        answer: dict[str, Any] = {"project_id": project_id, "active": [_format_selection(s) for s in selected]}
        missing = [name for name, _ in selected if name not in self.scenarios]
        if missing:
            answer["missing"] = missing
        if world.added:
            answer["added"] = list(reversed(world.added))
        return answer

    def parse_selection(self, value: str) -> list[Selection]:
        """``"name;key=value, other"`` -> ``[("name", {"key": "value"}), ("other", {})]``."""
        selected: list[Selection] = []
        problems: list[str] = []
        invalid = False  # the first problem is a value that does not fit, not an unknown name
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, *pairs = (p.strip() for p in item.split(";"))
            params: dict[str, Any] = {}
            if name not in self.scenarios:
                problems.append(f"unknown scenario {name!r}")
                continue
            declared = self.scenarios[name].declared
            for pair in pairs:
                key, sep, raw = pair.partition("=")
                if not sep or not key.strip():
                    problems.append(f"scenario {name!r}: parameter {pair[:80]!r} is not key=value")
                elif key.strip() not in declared:
                    known = ", ".join(declared) or "none"
                    problems.append(f"scenario {name!r} has no parameter {key.strip()[:80]!r} (parameters: {known})")
                else:
                    try:
                        params[key.strip()] = declared[key.strip()].check(raw.strip())
                    except ValueError as exc:
                        problems.append(f"scenario {name!r}: {exc}")
                        invalid = invalid or len(problems) == 1
            selected.append((name, params))
        if problems:
            known = ", ".join(sorted(self.scenarios))
            kind = "Invalid" if invalid else "Unknown"
            raise RequestError(f"{kind} scenario selection: {problems[0]}. Known scenarios: {known}.",
                               problems + [f"known scenarios: {known}"])
        return selected

    async def set_project_scenarios(self, project_id: str, names: list[str]) -> list[Selection]:
        """The project's selections from now on (none: the default world); its ``times`` counts start again."""
        selected = self.parse_selection(",".join(names))

        def select(world: ProjectWorld) -> None:
            world.active = selected
            world.counters.clear()
            world.changed.update(("sel", "c"))

        await self.store.transaction(await self.store.project(project_id), select)
        return selected

    async def reset(self, project_id: str | None = None) -> None:
        """Forget a project's state (world, selections, added scenarios, counts), or every project's."""
        await self.store.reset(project_id)

    async def add_scenario(self, project_id: str, document: dict[str, Any]) -> Scenario:
        """A scenario document (one scenario, as in a scenario file) checked by the file schema and against
        the contract, then tried first for ``project_id`` (before its selections) until the project is
        reset. Raises :class:`ScenarioError` naming every problem; a name the project already added is
        replaced."""
        size = len(json.dumps(document, default=str))
        if size > self.limits.max_scenario_bytes:
            raise ScenarioError([f"scenario added for project {project_id}: {size} bytes of JSON, more than "
                                 f"the mock takes (limit max_scenario_bytes: {self.limits.max_scenario_bytes})"])
        scenario = self.added_scenario(document, project_id)
        if scenario.name in self.scenarios:
            raise ScenarioError([f"scenario added for project {project_id}: the name {scenario.name!r} is a "
                                 "loaded scenario's; choose another"])
        def too_many(count: int) -> ScenarioError:
            return ScenarioError([f"project {project_id} has {count} added scenarios, the most it may "
                                  "(limit max_added_scenarios); reset the project first"])

        world = await self.store.project(project_id)
        new = scenario.name not in world.added
        if new and len(world.added) >= self.limits.max_added_scenarios:
            raise too_many(len(world.added))
        if new and not await self.store.reserve_added(project_id, 1):
            raise ScenarioError([f"the mock keeps {self.limits.max_added_scenarios_total} added scenarios, the "
                                 "most it may (limit max_added_scenarios_total); reset a project first"])

        def add(world: ProjectWorld) -> bool:
            if scenario.name not in world.added and len(world.added) >= self.limits.max_added_scenarios:
                return False
            world.added.pop(scenario.name, None)
            world.added_documents.pop(scenario.name, None)
            world.added[scenario.name], world.added_documents[scenario.name] = scenario, document
            world.counters.clear()
            world.changed.update(("add", "c"))
            return True

        try:
            world, added = await self.store.transaction(world, add)
        except BaseException:
            if new:
                await self.store.reserve_added(project_id, -1)
            raise
        if not added:
            if new:
                await self.store.reserve_added(project_id, -1)
            raise too_many(len(world.added))
        return scenario

    def added_scenario(self, document: dict[str, Any], project_id: str) -> Scenario:
        """The scenario an added document makes (a shared store reads documents back through this)."""
        (scenario,) = load_document(document, self.contract, f"scenario added for project {project_id}")
        return scenario

    # ---- the request path
    async def authenticate(self, project_id: str, token: str) -> tuple[dict[str, Any] | None, ProjectWorld | None]:
        """The token's record (None: not valid) and the project's state it was read from (for the request
        to go on with). Makes no state: a project that has none has no tokens of its own."""
        world = await self.store.peek(project_id)
        if world is None:
            always = token in self.seed.settings.always_valid_tokens
            return ({"id": token, "agent_id": None, "expires": None} if always else None), None
        with world.lock:
            return world.token(token), world

    async def handle(self, request: RequestContext) -> Outcome:
        scenarios = self.scenarios  # the whole request uses one set, whatever a reload does meanwhile
        prefer = request.headers.get("prefer")
        world = request.world
        if world is None or world.project_id != request.project_id:
            world = await self.store.project(request.project_id)
        chain = self._chain(request, scenarios, world)
        if prefer:
            preferred = self._preferred(request, prefer)
            if preferred is not None:
                return preferred
        rules = [(rule, scenario, params) for scenario, params in chain
                 for rule in scenario.rules_for(request.operation.operation_id) if _matches(rule, request)]
        state = _Current(world)
        context = self._template_context(request, state) if rules else {}
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
        # No rule answers: the operation's documented success, as the docs show it.
        return found if found is not None else self.documented(request, scenario=DOCUMENTED)

    def _applies(self, rule: Rule, params: dict[str, Any], world: ProjectWorld, context: dict[str, Any]) -> bool:
        """Whether the rule answers now (its ``when``), taking one of its ``times`` turns if so."""
        if rule.when is not None and not _render(rule, rule.when, context):
            return False
        return self._take_turn(rule, world, params, context)

    def _answer(self, rule: Rule, request: RequestContext, world: ProjectWorld,
                context: dict[str, Any]) -> Outcome | None:
        """The rule's effects, then its answer (None: it has none, the walk goes on)."""
        for effect in rule.effects:
            try:
                result = world.apply(effect.name, _render(rule, effect.args, context))
            except EffectError as exc:
                return self._scenario_failure(rule, [str(exc)])
            if effect.bind:
                context[effect.bind] = result
        if rule.drop:
            return Outcome(0, scenario=rule.scenario, rule=rule.label, drop=True)
        if rule.response is not None:
            return self._respond(rule, request.operation, context)
        return None

    def _chain(self, request: RequestContext, scenarios: dict[str, Scenario],
               world: ProjectWorld) -> list[tuple[Scenario, dict[str, Any]]]:
        """The scenarios tried, in order: the request's header, those added for the project (newest
        first), the project's selections, those of start-up, then the default world. A selection whose
        scenario the loaded set does not have is passed over."""
        header = request.headers.get("x-mock-scenario")
        selected = self.parse_selection(header) if header else []
        chosen = [(scenarios[name], params) for name, params in selected if name in scenarios]
        chosen += [(scenario, {}) for scenario in reversed(list(world.added.values()))]
        chosen += [(scenarios[name], params) for name, params in world.active + self.global_active if name in scenarios]
        return chosen + [(scenarios[DEFAULT_SCENARIO], {})]

    def _take_turn(self, rule: Rule, world: ProjectWorld, selected: dict[str, Any], context: dict[str, Any]) -> bool:
        """Whether a rule with ``times`` may answer once more. Counted per project, scenario, rule and the
        parameters as the selection gives them: ``name`` and ``name;failures=2`` count apart. Counts
        start again when the project's scenarios are selected (admin API, ``use()``), when it adds a
        scenario, or when it is reset."""
        if rule.times is None:
            return True
        times = int(_render(rule, rule.times, context))
        key = (rule.scenario, rule.index, tuple(sorted(selected.items())))
        counts = world.counters
        used = counts.get(key, 0)
        if used >= times:
            return False
        counts[key] = used + 1
        counts.move_to_end(key)
        world.changed.add("c")
        while len(counts) > self.limits.max_counters:
            counts.popitem(last=False)  # the least recently used count is forgotten: it starts again
        return True

    def _respond(self, rule: Rule, operation: Operation, context: dict[str, Any]) -> Outcome:
        response = rule.response
        try:
            headers = {k: str(v) for k, v in render(response.headers, context).items()}
            body = render(response.body, context)
        except TemplateError as exc:
            return self._scenario_failure(rule, [str(exc)])
        unfit = [name for name, value in headers.items() if not _HEADER_VALUE.fullmatch(value)]
        if unfit:  # a request's or a parameter's value never reaches a header unchecked
            return self._scenario_failure(rule, [f"header {name}: the value is not one line of printable Latin-1 "
                                                 f"text of at most {MAX_HEADER_VALUE} characters" for name in unfit])
        if not is_static(response.body):
            schema = operation.response_schema(response.status)
            problems = schema_errors(schema, body) if schema is not None else []
            if problems:
                return self._scenario_failure(rule, problems)
        return Outcome(response.status, headers, body, response.has_body and body is not None,
                       scenario=rule.scenario, rule=rule.label)

    def _scenario_failure(self, rule: Rule, problems: list[str]) -> Outcome:
        log.error("scenario rule %s failed: %s", rule.label, "; ".join(problems))
        return Outcome(500, body=error_document(f"Scenario rule {rule.label} could not answer within the contract.",
                                                problems), has_body=True, scenario=rule.scenario, rule=rule.label)

    def _preferred(self, request: RequestContext, prefer: str) -> Outcome | None:
        """Prism's convention: ``Prefer: code=NNN[, example=NAME]`` answers the documented example."""
        wanted: dict[str, str] = {}
        for item in prefer.split(","):
            found = _PREFER_ITEM.match(item)
            if not found:
                raise RequestError(f"Malformed Prefer header {prefer!r}.",
                                   ["expected 'code=NNN', 'example=NAME' or both, separated by commas"])
            wanted[found.group(1)] = found.group(2)
        if "code" not in wanted and "example" not in wanted:
            return None
        op = request.operation
        statuses = op.statuses
        status = None
        if "code" in wanted:
            if not wanted["code"].isdigit() or int(wanted["code"]) not in statuses:
                raise RequestError(f"Prefer: code={wanted['code']} is not documented for {op.operation_id}.",
                                   [f"documented: {', '.join(map(str, statuses))}"])
            status = int(wanted["code"])
        return self.documented(request, status, wanted.get("example"), scenario=f"Prefer: {prefer.strip()}")

    def documented(self, request: RequestContext, status: int | None = None, example: str | None = None,
                   scenario: str = DOCUMENTED) -> Outcome:
        """The answer the contract documents: ``status`` (default: the lowest success, else the lowest
        status documented) with its example body, or the ``example`` of that name, or a schema-valid
        body where the docs have none; headers from their examples, a ``Location`` on this server."""
        op = request.operation
        statuses = op.statuses
        if status is None:
            status = min((s for s in statuses if 200 <= s < 300), default=min(statuses, default=200))
        media = ((op.response(status) or {}).get("content") or {}).get("application/json")
        body, has_body = None, media is not None
        if example is not None:
            named = {**({"default": media["example"]} if media and "example" in media else {}),
                     **{k: v.get("value") for k, v in ((media or {}).get("examples") or {}).items()}}
            if example not in named:
                raise RequestError(f"Prefer: example={example} is not documented for {op.operation_id} {status}.",
                                   [f"documented examples: {', '.join(named) or 'none'}"])
            body = named[example]
        elif media is not None:
            body = media["example"] if "example" in media else sample_body(media.get("schema") or {}, status)
        headers = {}
        for name, spec in op.response_headers(status).items():
            if name.lower() == "location":
                headers[name] = self._location(request, spec.get("example"))
            elif name.lower() != "content-type":
                headers[name] = sample_header(name, spec, request.base_url)
        return Outcome(status, headers, body, has_body, scenario=scenario)

    def _location(self, request: RequestContext, documented: Any) -> str:
        """Where what the request made can be read on this server: the item operation of the path
        (``GET <this path>/{id}``) with the request's path values and the documented example's id (a
        new one where the example's does not fit the parameter), else the example's path here."""
        item = self.contract.item_of(request.operation)
        if item is not None:
            name = item.path.rsplit("{", 1)[1].rstrip("}")
            last = urlsplit(str(documented)).path.rstrip("/").rsplit("/", 1)[-1] if documented else ""
            parameter = next((p for p in item.spec.get("parameters", []) if p.get("name") == name), {})
            if not last or schema_errors(parameter.get("schema") or {"type": "string"}, last):
                last = str(uuid.uuid4())
            values = {**request.path_params, "project_id": request.project_id, name: last}
            return request.base_url + _fill(item.path, values)
        if documented:
            parts = urlsplit(str(documented))
            return request.base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return request.base_url + _fill(request.operation.path, request.path_params)

    def _template_context(self, request: RequestContext, state: "_Current") -> Variables:
        path_params = request.path_params

        def caller_agent_id() -> str | None:
            token_agent = (request.token or {}).get("agent_id")
            return token_agent or request.headers.get("x-agent-id") or path_params.get("agent_id")

        def url(operation_id: str, **params: Any) -> str:
            return request.base_url + _fill(self.contract.operation(operation_id).path,
                                            {"project_id": request.project_id, **params})

        return Variables({
            "operation": request.operation.operation_id, "project_id": request.project_id,
            "path": path_params, "query": request.query, "headers": request.headers, "body": request.body,
            "base_url": request.base_url, "params": {},
            "agent": state.agent, "agent_view": state.agent_view, "vault_request": state.request,
            "agents_full": state.agents_full,
            "caller_agent_id": caller_agent_id, "url": url,
            "uuid": lambda: str(uuid.uuid4()),
            "now": lambda seconds=0: iso(self.clock() + timedelta(seconds=float(seconds))),
            "merge": lambda *parts: {k: v for part in parts for k, v in (part or {}).items()},
            "status_phrase": lambda code: HTTPStatus(int(code)).phrase,
        })


@dataclass
class _Sleep:
    position: int  # of the rule that waits, in the walk's list
    seconds: float


class _Walk:
    """One step of a request: the project's time moves on, then the rules are tried in order from
    ``resume`` (the rule that slept: its effects and answer first). Gives an Outcome, None when no rule
    answers, or a :class:`_Sleep`. May run more than once (a shared store redoes it on newer state)."""

    def __init__(self, engine: Engine, request: RequestContext, rules: list, context: dict[str, Any],
                 resume: int | None = None):
        self.engine, self.request, self.rules, self.context, self.resume = engine, request, rules, context, resume
        self.before: dict[str, Any] | None = None  # the context before the first try: a redo starts from it

    def __call__(self, world: ProjectWorld) -> Outcome | _Sleep | None:
        world.tick()  # time went by: reports that fell due land first
        engine, context = self.engine, self.context
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
                    if not engine._applies(rule, params, world, context):
                        continue
                    delay = float(_render(rule, rule.delay, context) or 0)
                    if delay > 0:
                        return _Sleep(position, delay)
                outcome = engine._answer(rule, self.request, world, context)
            except TemplateError as exc:
                return engine._scenario_failure(rule, [str(exc)])
            if outcome is not None:
                return outcome
        return None


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


def _fill(template: str, values: dict[str, Any]) -> str:
    """A path template with its parameters filled in, each percent-encoded as one segment."""
    return re.sub(r"\{([^{}/]+)\}", lambda m: path_segment(values.get(m.group(1), "")), template)


def _render(rule: Rule, compiled: Any, context: dict[str, Any]) -> Any:
    if compiled is None or isinstance(compiled, (int, float, bool)):
        return compiled
    try:
        return render(compiled, context)
    except TemplateError as exc:
        raise TemplateError(f"scenario rule {rule.label}: {exc}") from None


def _matches(rule: Rule, request: RequestContext) -> bool:
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


def _format_selection(selection: Selection) -> str:
    name, params = selection
    return ";".join([name] + [f"{k}={v}" for k, v in params.items()])


def build_engine(config: MockConfig) -> Engine:
    """The engine a configuration describes: its contract, scenarios and world seed, all checked.

    The shipped scenarios and world are written for the shipped contract: served with another one,
    what in them does not fit it is left out and logged, one warning each. Scenario files of the
    user's own are held to whichever contract is served."""
    contract = Contract.load(config.spec_file)
    shipped_for_another = (Path(config.scenarios_dir).resolve() == SCENARIOS_DIR.resolve()
                           and Path(config.spec_file).resolve() != SPEC_FILE.resolve())
    left_out: list[str] | None = [] if shipped_for_another else None
    scenarios = load_directory(config.scenarios_dir, contract, config.scenario_files, left_out)
    world_file = config.world_file or Path(config.scenarios_dir) / WORLD_FILE_NAME

    def example(operation_id: str) -> Any:
        return contract.operation(operation_id).response_example(200) if operation_id in contract.operations else None

    seed = Seed.load(world_file, example, left_out)
    limits = _limits(seed, str(world_file), config)
    for problem in left_out or []:
        log.warning("%s", problem)
    for name, value in config.settings.items():
        if not hasattr(seed.settings, name):
            raise ValueError(f"unknown world setting {name!r}")
        setattr(seed.settings, name, value)
    engine = Engine(contract, scenarios, seed, active=config.active, limits=limits)
    if config.state != "memory":
        from .redis_store import RedisStore

        engine.store = RedisStore(config.state, seed, engine.clock, limits, engine.added_scenario)
    return engine


def _limits(seed: Seed, source: str, config: MockConfig) -> Limits:
    limits = Limits().replace(seed.limits, source).replace(config.limits, "limits")
    if config.journal_size is not None:
        limits = limits.replace({"journal_entries": config.journal_size}, "journal_size")
    if config.max_body_bytes is not None:
        limits = limits.replace({"max_body_bytes": config.max_body_bytes}, "max_body_bytes")
    return limits


def limits_of(config: MockConfig) -> Limits:
    """The bounds a configuration gives (``Limits``' defaults, world.yaml's ``limits:``, the config's own)."""
    world_file = config.world_file or Path(config.scenarios_dir) / WORLD_FILE_NAME
    return _limits(Seed.load(world_file, left_out=[]), str(world_file), config)
