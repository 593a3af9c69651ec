"""The outermost layer of the app, around every request and its answer.

It makes the request's one :class:`Request` (the layers below read and fill it in by attribute), looks
the request up in the route index once (routing and the journal use that match), reads the body once
(refusing one over the size limit with 413), records the exchange in the journal, logs one line, and
hangs up on requests a scenario drops.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qs

from ..config import Limits
from ..contract import Contract, RouteIndex, error_json
from ..engine import Journal, Outcome, Request, StoreUnavailable
from ..internals import hang_up

log = logging.getLogger("cloud_backup_mock.requests")
_KEY = "cloud_backup_mock.request"
_NOT_JOURNALED = ("/__mock", "/ui", "/openapi.json")
_GONE = object()  # what _read_body returns when the client disconnected before its body was read
# A server without a socket (the test double's transports) hangs up through this callable in the scope's
# "extensions"; uvicorn's connection is closed through its ``receive``.
HANG_UP_EXTENSION = "cloud_backup_mock.hang_up"


def request_of(scope: dict[str, Any]) -> Request:
    """The request the exchange layer made for this scope (a blank one outside it)."""
    request = scope.get(_KEY)
    if request is None:
        request = scope[_KEY] = Request(method=scope.get("method", "GET"), path=scope.get("path", "/"))
    return request


class ExchangeMiddleware:
    def __init__(self, app, routes: RouteIndex, contract: Contract, journal: Journal, limits: Limits,
                 log_format: str | None = None):
        self.app, self.routes, self.contract, self.journal, self.limits = app, routes, contract, journal, limits
        self.log_format = log_format

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Path values (project ids) are read from the path as sent, and told apart by their bytes.
        raw_path = scope.get("raw_path")
        match = self.routes.match(scope["method"], scope["path"], raw_path.decode("latin-1") if raw_path else None)
        exchange = scope[_KEY] = Request(method=scope["method"], path=scope["path"], match=match, time=time.time())
        if match.found and match.route.api == "contract":
            self._describe(exchange, scope)
        started = time.perf_counter()

        answer: dict[str, Any] = {"headers": [], "body": bytearray(), "status": 0, "recorded": False}
        keep = self.limits.journal_body_bytes

        async def send_or_hang_up(message):
            if exchange.dropped:
                if message["type"] == "http.response.start":
                    _hang_up(scope, receive)
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
            head = exchange.head_bytes = sum(len(k) + len(v) for k, v in scope.get("headers", ())) + len(raw_path or b"")
            if head > self.limits.max_header_bytes:
                await send_error(send_or_hang_up, 431, "The request's line and headers are larger than the mock takes.",
                                 [f"max_header_bytes: {self.limits.max_header_bytes}"], extra=[(b"connection", b"close")])
                return
            body = await self._read_body(scope, receive)
            if body is _GONE:  # the client left (or the connection layer answered 408) before its body came
                exchange.outcome = _DROPPED
                return
            if body is None:
                limit = self.limits.max_body_bytes
                await send_error(send_or_hang_up, 413, f"The request body is larger than the mock's limit of {limit} bytes.",
                                 [f"max_body_bytes: {limit} (serve --max-body-bytes)"], extra=[(b"connection", b"close")])
                return
            exchange.raw_body = body
            await self.app(scope, _replay(body, receive), send_or_hang_up)
        finally:
            await self._record(scope, exchange, answer)
            if self.log_format:
                self._log(scope, exchange, answer["status"], (time.perf_counter() - started) * 1000)

    def _describe(self, request: Request, scope) -> None:
        """What the engine reads of a request for one of the contract's operations."""
        params = request.match.params
        request.operation = self.contract.operations[request.match.operation_id]
        request.project_id, request.path_params = str(params.get("project_id", "")), dict(params)
        request.query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        request.headers = headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                                     for name, value in scope["headers"]}
        request.base_url = base_url(scope, headers)

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

    async def _record(self, scope, exchange: Request, answer: dict[str, Any]) -> None:
        """The exchange, in the journal (once); a journal that cannot keep it never breaks answering."""
        if answer["recorded"] or scope["path"].startswith(_NOT_JOURNALED) or exchange.store_unavailable:
            return
        answer["recorded"] = True
        operation, project_id = _operation_of(exchange)
        outcome, dropped = exchange.outcome, exchange.dropped
        try:
            await self.journal.add({
                "time": exchange.time, "project_id": project_id,
                "operation": operation, "method": scope["method"], "path": scope["path"],
                "query": scope.get("query_string", b""), "headers": scope.get("headers", []),
                "body": exchange.raw_body, "scenario": outcome and outcome.scenario,
                "rule": outcome and outcome.rule, "status": "dropped" if dropped else answer["status"],
                "response": None if dropped else {"headers": answer["headers"], "body": bytes(answer["body"])},
            }, size=exchange.head_bytes + len(exchange.raw_body or b"") + len(answer["body"])
               + sum(len(k) + len(v) for k, v in answer["headers"]))
        except StoreUnavailable:
            pass  # the store logs when it goes away and when it is back
        except Exception:
            log.exception("could not record %s %s", scope.get("method"), scope.get("path"))

    def _log(self, scope, exchange: Request, status: int, ms: float) -> None:
        operation, project_id = _operation_of(exchange)
        record = {"method": scope["method"], "path": scope["path"], "project": project_id or "-",
                  "operation": operation or "-", "scenario": (exchange.outcome and exchange.outcome.scenario) or "-",
                  "status": "dropped" if exchange.dropped else status, "ms": round(ms, 2)}
        if self.log_format == "json":
            log.info("%(method)s %(path)s", record, extra={"fields": record})
        else:
            log.info("%(method)s %(path)s project=%(project)s operation=%(operation)s scenario=%(scenario)s "
                     "status=%(status)s ms=%(ms).2f", record)


def _operation_of(exchange: Request) -> tuple[str | None, str | None]:
    """The contract operation and project of the request's route, or (None, None)."""
    if exchange.operation is not None:
        return exchange.operation.operation_id, exchange.project_id
    return None, None


_DROPPED = Outcome(0, scenario=None, drop=True)  # the client left before its body came
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")
_SCHEMES = ("http", "https")


def base_url(scope, headers: dict[str, str]) -> str:
    """Scheme and host the client used, honouring a proxy's X-Forwarded-Proto and X-Forwarded-Host. A
    value that is not a host name (or address) and port is not used: it would go into every URL the
    mock hands out."""
    scheme = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    if scheme not in _SCHEMES:
        scheme = scope.get("scheme") or "http"
    for candidate in (headers.get("x-forwarded-host"), headers.get("host")):
        host = (candidate or "").split(",")[0].strip()
        if host and _HOST.match(host):
            return f"{scheme}://{host}"
    server = scope.get("server") or ("127.0.0.1", 80)
    return f"{scheme}://{server[0]}:{server[1]}"


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


def _hang_up(scope, receive) -> None:
    """Close the client's connection without a response."""
    own = (scope.get("extensions") or {}).get(HANG_UP_EXTENSION)
    if own is not None:
        own()
    elif not hang_up(receive):
        raise ConnectionAbortedError("scenario dropped the connection")
