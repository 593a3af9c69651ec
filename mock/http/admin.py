"""Handlers of the admin API (``admin_openapi.yaml``), served under ``/__mock``: each takes the
request's validated parameters and body and returns a status and a JSON document."""

from __future__ import annotations

from typing import Any

from ..contract import counts_of, coverage_of, error_document
from ..engine import (Engine, Journal, RequestError, ScenarioError, StoreUnavailable, UnknownOperation,
                      known_operation, verify)

Answer = tuple[int, dict[str, Any]]
PAGE = 100  # journal entries per page unless the caller asks for another number (at most 1000)


class Admin:
    def __init__(self, engine: Engine, journal: Journal):
        self.engine, self.journal = engine, journal

    async def listScenarios(self) -> Answer:  # noqa: N802 - named after the operationId
        scenarios = [
            {"name": s.name, "description": s.description, "operations": s.operations,
             "parameters": s.parameters, "source": s.source}
            for s in sorted(self.engine.scenarios.values(), key=lambda s: s.name)]
        return 200, {"scenarios": scenarios}

    async def getProjectScenarios(self, project_id: str) -> Answer:  # noqa: N802
        return 200, await self.engine.selection(project_id)

    async def addProjectScenario(self, project_id: str, body: dict[str, Any]) -> Answer:  # noqa: N802
        try:
            await self.engine.add_scenario(project_id, body)
        except ScenarioError as exc:
            more = len(exc.problems) - 1  # every problem is in errors, one each; the message names the first
            return 400, error_document(f"The scenario cannot be used: {exc.problems[0]}"
                                       + (f" (and {more} more problem(s), in errors)" if more else ""), exc.problems)
        return 201, await self.engine.selection(project_id)

    async def removeProjectScenario(self, project_id: str, name: str) -> Answer:  # noqa: N802
        if not await self.engine.remove_scenario(project_id, name):
            added = (await self.engine.selection(project_id)).get("added", [])
            problem = f"project {project_id} has no added scenario {name!r}; added: {', '.join(added) or 'none'}"
            return 404, error_document(f"Not found: {problem}", [problem])
        return 200, await self.engine.selection(project_id)

    async def getProjectClock(self, project_id: str) -> Answer:  # noqa: N802
        return 200, await self.engine.clock_of(project_id)

    async def advanceProjectClock(self, project_id: str, body: dict[str, Any]) -> Answer:  # noqa: N802
        return 200, await self.engine.advance_clock(project_id, body["advance"])

    async def verifyRequests(self, body: dict[str, Any]) -> Answer:  # noqa: N802
        try:
            operation = known_operation(self.engine.contract, body["operation"])
        except UnknownOperation as exc:
            return 400, error_document(f"Invalid request: {exc}", [str(exc)])
        # Compared with what was sent; secret values are never shown back (the answer's differences).
        entries = (await self.journal.page(project_id=body.get("project_id"), unmasked_bodies=True,
                                           unmasked_headers=True)).entries
        result = verify(entries, operation, body.get("count"), body.get("status"), body.get("body"), body.get("headers"),
                        hidden=self.journal.secret_fields | self.journal.secret_headers)
        return 200, result.as_json()

    async def health(self, authorized: bool = True) -> Answer:
        """Up or not, and what it holds. The store's own trouble (Redis unreachable) is a 503 here too,
        with the store's answer, so a load balancer takes the replica out until it is back. Without the
        admin token (``authorized`` False), the status alone."""
        store = await self.engine.store.health()
        try:
            journal = await self.journal.stats()
        except StoreUnavailable as exc:
            journal, store = {}, {**store, "status": "unavailable", "error": str(exc)}
        ok = store["status"] == "ok"
        if not authorized:
            return (200 if ok else 503), {"status": "ok" if ok else "unavailable"}
        return (200 if ok else 503), {
            "status": "ok" if ok else "unavailable", "state": store["kind"], "store": store,
            "scenarios": len(self.engine.scenarios), "projects": store.get("projects", 0), "journal": journal}

    async def setProjectScenarios(self, project_id: str, body: dict[str, Any]) -> Answer:  # noqa: N802
        try:
            await self.engine.set_project_scenarios(project_id, body["active"])
        except RequestError as exc:
            return 400, error_document(exc.message, exc.errors)
        return 200, await self.engine.selection(project_id)

    async def reset(self, project_id: str | None = None) -> Answer:
        await self.engine.reset(project_id)
        return 200, {"reset": project_id or "all"}

    async def listRequests(self, project_id: str | None = None, operation: str | None = None,  # noqa: N802
                     status: int | None = None, since: str | None = None, limit: int = PAGE,
                     after: int | None = None) -> Answer:
        try:
            if operation is not None:
                known_operation(self.engine.contract, operation)
        except UnknownOperation as exc:
            return 400, error_document(f"Invalid request: query parameter operation: {exc}", [str(exc)])
        try:  # a page: at most `limit` entries and journal_page_bytes of JSON
            page = await self.journal.page(project_id=project_id, operation=operation, status=status, since=since,
                                           limit=limit, after=after, max_bytes=self.engine.limits.journal_page_bytes)
        except ValueError as exc:
            return 400, error_document(f"Invalid request: query parameter since: {exc}",
                                       [f"since: {since!r} is not an ISO 8601 date-time"])
        return 200, {"requests": page.entries, "size": self.journal.size, "next_after": page.next_after}

    async def coverage(self, project_id: str | None = None) -> Answer:
        """What the journal's exchanges (of one project, or all) made the mock answer, per operation."""
        # Only operation, status and scenario are read: nothing is shown, so nothing needs masking.
        entries = (await self.journal.page(project_id=project_id, unmasked_bodies=True, unmasked_headers=True)).entries
        return 200, coverage_of(self.engine.contract, counts_of(entries))

    async def clearRequests(self, project_id: str | None = None) -> Answer:  # noqa: N802
        return 200, {"deleted": await self.journal.remove(project_id)}
