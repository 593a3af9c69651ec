"""The outermost layer of the app, around every request and its answer.

It looks the request up in the route index once (routing and the journal use that match), reads
the body once (refusing one over the size limit with 413), records the exchange in the journal, logs
one line, and hangs up on requests a scenario drops. The layers below add what they know (scenario,
rule, parsed body) to a per-request dict in the ASGI scope.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..config import Limits
from ..contract import RouteIndex, error_json
from ..engine.journal import Journal
from ..engine.state import StoreUnavailable
from ..internals import hang_up

log = logging.getLogger("cloud_backup_mock.requests")
_KEY = "cloud_backup_mock.exchange"
_NOT_JOURNALED = ("/__mock", "/ui", "/openapi.json")
_GONE = object()  # what _read_body returns when the client disconnected before its body was read


def exchange_of(scope: dict[str, Any]) -> dict[str, Any]:
    """The dict this request's layers share (created by the middleware; a blank one otherwise)."""
    return scope.setdefault(_KEY, {})


class ExchangeMiddleware:
    def __init__(self, app, routes: RouteIndex, journal: Journal, limits: Limits, log_format: str | None = None):
        self.app, self.routes, self.journal, self.limits = app, routes, journal, limits
        self.log_format = log_format

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Path values (project ids) are read from the path as sent, and told apart by their bytes.
        raw_path = scope.get("raw_path")
        match = self.routes.match(scope["method"], scope["path"], raw_path.decode("latin-1") if raw_path else None)
        exchange: dict[str, Any] = {"time": time.time(), "match": match}
        scope[_KEY] = exchange
        started = time.perf_counter()

        answer: dict[str, Any] = {"headers": [], "body": bytearray(), "status": 0, "recorded": False}
        keep = self.limits.journal_body_bytes

        async def send_or_hang_up(message):
            if exchange.get("drop"):
                if message["type"] == "http.response.start":
                    _hang_up(receive)
                return
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers") or []
            elif message["type"] == "http.response.body":
                if len(answer["body"]) < keep:
                    answer["body"] += message.get("body", b"")[: keep - len(answer["body"])]
                if not message.get("more_body"):  # in the journal before the client has the answer
                    await self._record(scope, exchange, answer)
            await send(message)

        try:
            head = exchange["head"] = sum(len(k) + len(v) for k, v in scope.get("headers", ())) + len(raw_path or b"")
            if head > self.limits.max_header_bytes:
                await send_error(send_or_hang_up, 431, "The request's line and headers are larger than the mock takes.",
                                 [f"max_header_bytes: {self.limits.max_header_bytes}"], extra=[(b"connection", b"close")])
                return
            body = await self._read_body(scope, receive)
            if body is _GONE:  # the client left (or the connection layer answered 408) before its body came
                exchange["drop"] = True
                return
            if body is None:
                limit = self.limits.max_body_bytes
                await send_error(send_or_hang_up, 413, f"The request body is larger than the mock's limit of {limit} bytes.",
                                 [f"max_body_bytes: {limit} (serve --max-body-bytes)"], extra=[(b"connection", b"close")])
                return
            exchange["body"] = body
            await self.app(scope, _replay(body, receive), send_or_hang_up)
        finally:
            await self._record(scope, exchange, answer)
            if self.log_format:
                self._log(scope, exchange, answer["status"], (time.perf_counter() - started) * 1000)

    async def _read_body(self, scope, receive) -> bytes | None:
        """The whole request body, None when it is over the limit, ``_GONE`` when the client went away
        first (``body_timeout`` is kept by the connection layer)."""
        limit = self.limits.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _record(self, scope, exchange: dict[str, Any], answer: dict[str, Any]) -> None:
        """The exchange, in the journal (once); a journal that cannot keep it never breaks answering."""
        if answer["recorded"] or scope["path"].startswith(_NOT_JOURNALED) or exchange.get("store_unavailable"):
            return
        answer["recorded"] = True
        operation, project_id = _operation_of(exchange)
        try:
            await self.journal.add({
                "time": exchange["time"], "project_id": project_id,
                "operation": operation, "method": scope["method"], "path": scope["path"],
                "query": scope.get("query_string", b""), "headers": scope.get("headers", []),
                "body": exchange.get("body"), "scenario": exchange.get("scenario"),
                "rule": exchange.get("rule"), "status": "dropped" if exchange.get("drop") else answer["status"],
                "response": None if exchange.get("drop") else {"headers": answer["headers"],
                                                               "body": bytes(answer["body"])},
            }, size=exchange.get("head", 0) + len(exchange.get("body") or b"") + len(answer["body"])
               + sum(len(k) + len(v) for k, v in answer["headers"]))
        except StoreUnavailable:
            pass  # the store logs when it goes away and when it is back
        except Exception:
            log.exception("could not record %s %s", scope.get("method"), scope.get("path"))

    def _log(self, scope, exchange: dict[str, Any], status: int, ms: float) -> None:
        operation, project_id = _operation_of(exchange)
        record = {"method": scope["method"], "path": scope["path"], "project": project_id or "-",
                  "operation": operation or "-", "scenario": exchange.get("scenario") or "-",
                  "status": "dropped" if exchange.get("drop") else status, "ms": round(ms, 2)}
        if self.log_format == "json":
            log.info("%(method)s %(path)s", record, extra={"fields": record})
        else:
            log.info("%(method)s %(path)s project=%(project)s operation=%(operation)s scenario=%(scenario)s "
                     "status=%(status)s ms=%(ms).2f", record)


def _operation_of(exchange: dict[str, Any]) -> tuple[str | None, str | None]:
    """The contract operation and project of the request's route, or (None, None)."""
    match = exchange["match"]
    if match.found and match.route.api == "contract":
        return match.operation_id, match.params.get("project_id", "")
    return None, None


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_error(send, status: int, message: str, errors: list[str], extra: list[tuple[bytes, bytes]] = ()) -> None:
    """An answer in the API's error shape, sent straight to the ASGI ``send``."""
    await send_answer(send, status, [(b"content-type", b"application/json"), *extra], error_json(message, errors))


async def send_answer(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """One whole answer; statuses that carry no body get none, the others a Content-Length."""
    if status not in (204, 304) and not 100 <= status < 200:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    else:
        body = b""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _hang_up(receive) -> None:
    """Close the client's connection without a response."""
    if not hang_up(receive):
        raise ConnectionAbortedError("scenario dropped the connection")
