"""The outermost layer: one log line per request, and hanging up on requests a scenario drops.

The handler records what it knows (operation, project, scenario) in a per-request dict
in the ASGI scope; requests that never reach it (validation, auth, routing errors) are
matched against the contract here.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from .contract import Contract

log = logging.getLogger("cloud_backup_mock.requests")
_KEY = "cloud_backup_mock.exchange"


def exchange_of(scope: dict[str, Any]) -> dict[str, Any]:
    """The dict this request's layers share (created by the middleware; a blank one otherwise)."""
    return scope.setdefault(_KEY, {})


class RequestLogMiddleware:
    def __init__(self, app, contract: Contract, log_format: str | None = None):
        self.app, self.contract, self.log_format = app, contract, log_format

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        exchange: dict[str, Any] = {}
        scope[_KEY] = exchange
        started = time.perf_counter()
        status = 0

        async def send_or_hang_up(message):
            nonlocal status
            if exchange.get("drop"):
                if message["type"] == "http.response.start":
                    _hang_up(receive)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_or_hang_up)
        finally:
            if self.log_format:
                self._log(scope, exchange, status, (time.perf_counter() - started) * 1000)

    def _log(self, scope, exchange: dict[str, Any], status: int, ms: float) -> None:
        if "operation" not in exchange:
            found = self.contract.match(scope["method"], scope["path"])
            if found:
                exchange["operation"], exchange["project_id"] = found[0].operation_id, found[1].get("project_id", "")
        record = {
            "method": scope["method"], "path": scope["path"], "project": exchange.get("project_id", "-"),
            "operation": exchange.get("operation", "-"), "scenario": exchange.get("scenario", "-"),
            "status": "dropped" if exchange.get("drop") else status, "ms": round(ms, 2),
        }
        if self.log_format == "json":
            log.info(json.dumps(record))
        else:
            log.info("%(method)s %(path)s project=%(project)s operation=%(operation)s scenario=%(scenario)s "
                     "status=%(status)s ms=%(ms).2f", record)


def _hang_up(receive) -> None:
    """Close the client's connection without a response (uvicorn: the cycle behind ``receive``)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("scenario dropped the connection")
    transport.close()
