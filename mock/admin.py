"""Handlers of the admin API (``mock/admin_openapi.yaml``), served under ``/__mock``."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from .engine import Engine, RequestError
from .journal import Journal


class Admin:
    def __init__(self, engine: Engine, journal: Journal):
        self.engine, self.journal = engine, journal

    async def listScenarios(self) -> JSONResponse:  # noqa: N802 - named after the operationId
        scenarios = [
            {"name": s.name, "description": s.description, "operations": s.operations,
             "parameters": s.parameters, "source": s.source}
            for s in sorted(self.engine.scenarios.values(), key=lambda s: s.name)]
        return JSONResponse({"scenarios": scenarios})

    async def getProjectScenarios(self, project_id: str) -> JSONResponse:  # noqa: N802
        return JSONResponse({"project_id": project_id, "active": self.engine.active_for(project_id)})

    async def setProjectScenarios(self, project_id: str, body: dict[str, Any]) -> JSONResponse:  # noqa: N802
        try:
            self.engine.set_project_scenarios(project_id, body["active"])
        except RequestError as exc:
            return JSONResponse({"message": exc.message, "errors": exc.errors}, status_code=400)
        return JSONResponse({"project_id": project_id, "active": self.engine.active_for(project_id)})

    async def reset(self, project_id: str | None = None) -> JSONResponse:
        self.engine.reset(project_id)
        return JSONResponse({"reset": project_id or "all"})

    async def listRequests(self, project_id: str | None = None, operation: str | None = None,  # noqa: N802
                           status: int | None = None, since: str | None = None) -> JSONResponse:
        try:
            entries = self.journal.entries(project_id=project_id, operation=operation, status=status, since=since)
        except ValueError as exc:
            return JSONResponse({"message": f"Invalid request: query parameter since: {exc}",
                                 "errors": [f"since: {since!r} is not an ISO 8601 date-time"]}, status_code=400)
        return JSONResponse({"requests": entries, "size": self.journal.size})

    async def clearRequests(self, project_id: str | None = None) -> JSONResponse:  # noqa: N802
        return JSONResponse({"deleted": self.journal.clear(project_id)})
