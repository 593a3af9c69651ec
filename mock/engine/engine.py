"""The scenario engine: one call, :meth:`Engine.handle`, answers every operation of the contract.

For a request it checks the token (the operations that need one), then walks the chain of active
scenarios (the request's ``X-Mock-Scenario``, those added for the project, the project's selections,
those activated at start-up, then ``default``), and when no rule answers gives the operation's
documented success. ``Prefer: code=NNN`` short-cuts the chain with the documented example. The admin
API, the CLI and the test double configure it through the methods under "configuration".
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable

from ..config import Limits
from ..contract import Contract, error_document
from .answers import DOCUMENTED, DocumentedAnswers
from .memory_store import MemoryStore
from .request import Outcome, Request, RequestError
from .rules import Rules
from .scenarios import Scenario, ScenarioError, load_document
from .selection import Selection, format_selection, parse_selection
from .store import Store
from .world import ProjectWorld, Seed, iso, utc_now

log = logging.getLogger("cloud_backup_mock")
INVALID_TOKEN = "Missing or invalid X-Auth-Token."  # the message of every 401 for the contract's token
REFUSED = "(refused)"  # the scenario name of a request the engine refuses (bad selection, bad Prefer)


class Engine:
    def __init__(self, contract: Contract, scenarios: dict[str, Scenario], seed: Seed,
                 active: list[str] = (), clock=utc_now, limits: Limits | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, store: Store | None = None):
        self.contract, self.seed, self.clock = contract, seed, clock
        self.limits = limits or Limits()
        self.scenarios = scenarios
        self.store: Store = store or MemoryStore(seed, clock, self.limits)
        self.global_active: list[Selection] = parse_selection(",".join(active), scenarios) if active else []
        self.rules = Rules(contract, self.store, clock, self.limits, sleep)
        self.answers = DocumentedAnswers(contract)

    def use_store(self, store: Store) -> None:
        """Keep the projects' state in ``store`` from now on (set before the first request)."""
        self.store = self.rules.store = store

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
        answer: dict[str, Any] = {"project_id": project_id, "active": [format_selection(s) for s in selected]}
        missing = [name for name, _ in selected if name not in self.scenarios]
        if missing:
            answer["missing"] = missing
        if world.added:
            answer["added"] = list(reversed(world.added))
        return answer

    async def set_project_scenarios(self, project_id: str, names: list[str]) -> list[Selection]:
        """The project's selections from now on (none: the default world); its ``times`` counts start again."""
        selected = parse_selection(",".join(names), self.scenarios)
        await self.store.transaction(await self.store.project(project_id), lambda world: world.select(selected))
        return selected

    async def clock_of(self, project_id: str) -> dict[str, Any]:
        """The project's clock: its time, and how far it is ahead of the server's."""
        world = await self.store.project(project_id)
        return {"project_id": project_id, "now": iso(world.now()), "advanced_seconds": world.clock_offset}

    async def advance_clock(self, project_id: str, seconds: float) -> dict[str, Any]:
        """Move the project's clock on by ``seconds``: its tokens expire, vault and browse requests are
        reported and jobs move on as if that time had passed."""
        world = await self.store.project(project_id)
        world, _ = await self.store.transaction(world, lambda world: world.apply("advance_clock", {"seconds": seconds}))
        return {"project_id": project_id, "now": iso(world.now()), "advanced_seconds": world.clock_offset}

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
            return world.add_scenario(scenario.name, scenario, document, self.limits.max_added_scenarios)

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

    async def remove_scenario(self, project_id: str, name: str) -> bool:
        """Forget a scenario added for ``project_id`` (and its ``times`` counts); False when it has none
        of that name. Its other scenarios and their counts go on."""
        world = await self.store.project(project_id)
        if name not in world.added:
            return False
        world, removed = await self.store.transaction(world, lambda world: world.remove_scenario(name))
        if removed:
            await self.store.reserve_added(project_id, -1)
        return removed

    def added_scenario(self, document: dict[str, Any], project_id: str) -> Scenario:
        """The scenario an added document makes (a shared store reads documents back through this)."""
        (scenario,) = load_document(document, self.contract, f"scenario added for project {project_id}")
        return scenario

    # ---- the request path
    async def authenticate(self, project_id: str, token: str | None) -> tuple[dict[str, Any] | None,
                                                                              ProjectWorld | None]:
        """The token's record (None: not valid) and the project's state it was read from (for the request
        to go on with). Makes no state: a project that has none has no tokens of its own."""
        if token is None:
            return None, None
        world = await self.store.peek(project_id)
        if world is None:
            always = token in self.seed.settings.always_valid_tokens
            return ({"id": token, "agent_id": None, "expires": None} if always else None), None
        with world.lock:
            return world.token(token), world

    async def handle(self, request: Request) -> Outcome:
        """The answer to a request for one of the contract's operations."""
        world = None
        if request.operation.token_header is not None:
            request.token_record, world = await self.authenticate(request.project_id, request.token)
            if request.token_record is None:
                return Outcome(401, body=error_document(INVALID_TOKEN, ["Provided apikey is not valid"]),
                               has_body=True, scenario=None)
        if request.refusal is not None:
            raise request.refusal
        try:
            return await self._answer(request, world)
        except RequestError as exc:
            return Outcome(400, body=error_document(exc.message, exc.errors), has_body=True, scenario=REFUSED)

    async def _answer(self, request: Request, world: ProjectWorld | None) -> Outcome:
        scenarios = self.scenarios  # the whole request uses one set, whatever a reload does meanwhile
        if world is None or world.project_id != request.project_id:
            world = await self.store.project(request.project_id)
        chain = self.rules.chain(request, scenarios, world, self.global_active)
        prefer = request.headers.get("prefer")
        if prefer:
            preferred = self.answers.preferred(request, prefer)
            if preferred is not None:
                return preferred
        found = await self.rules.walk(request, world, chain)
        # No rule answers: the operation's documented success, as the docs show it.
        return found if found is not None else self.answers.documented(request, scenario=DOCUMENTED)
