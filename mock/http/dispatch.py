"""The innermost ASGI app: a routed and validated request is answered here, by the engine for the
contract's operations or by :class:`Admin` for the admin API's. Everything it needs is in the
request the layers above filled in (:func:`request_of`)."""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from ..contract import Contract
from ..engine import Engine, Outcome
from ..internals import routed_operation_id
from .admin import Admin
from .exchange import request_of, send_answer, send_error

_JSON = [(b"content-type", b"application/json")]


class EngineOperation:
    """One operation of the contract, answered by the engine from the request the layers filled in."""

    def __init__(self, engine: Engine):
        self.engine = engine

    async def __call__(self, scope, receive, send) -> None:
        request = request_of(scope)
        outcome = request.outcome = await self.engine.handle(request)
        if outcome.drop:  # the exchange middleware hangs up instead of sending this
            await send_answer(send, 204, [], b"")
            return
        await send_answer(send, outcome.status, *_encode(outcome))


class AdminOperation:
    """One operation of the admin API: its parameters (typed as its document says) and body, passed
    to the :class:`Admin` method of the same name, behind ``X-Admin-Token`` when one is set."""

    def __init__(self, admin: Admin, contract: Contract, operation_id: str, token: str | None):
        self.handler = getattr(admin, operation_id)
        self.token = None if token is None else token.encode("utf-8")
        operation = contract.operation(operation_id)
        self.parameters = {p["name"]: (p["in"], (p.get("schema") or {}).get("type"))
                           for p in operation.spec.get("parameters", [])}
        self.takes_body = "requestBody" in operation.spec
        # An operation whose security allows no token ({}) answers without one, told whether it was sent.
        self.anonymous = {} in operation.spec.get("security", contract.document.get("security", []))

    async def __call__(self, scope, receive, send) -> None:
        authorized = True
        if self.token is not None:
            sent = next((v for k, v in scope["headers"] if k == b"x-admin-token"), b"")
            authorized = hmac.compare_digest(sent, self.token)
            if not authorized and not self.anonymous:
                await send_error(send, 401, "The admin API needs a valid X-Admin-Token header.",
                                 ["missing or wrong X-Admin-Token"])
                return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        path_params = scope.get("path_params") or {}
        arguments: dict[str, Any] = {}
        for name, (location, kind) in self.parameters.items():
            value = path_params.get(name) if location == "path" else (query.get(name) or [None])[0]
            if value is not None:
                arguments[name] = int(value) if kind == "integer" else value
        if self.takes_body:
            arguments["body"] = request_of(scope).body
        if self.anonymous:
            arguments["authorized"] = authorized
        status, document = await self.handler(**arguments)
        await send_answer(send, status, _JSON, json.dumps(document).encode())


class Dispatcher:
    """Routes each request to its operation by the operationId in its routing context."""

    def __init__(self, operations: dict[str, Any]):
        self.operations = operations

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self.operations[routed_operation_id(scope)](scope, receive, send)


def _encode(outcome: Outcome) -> tuple[list[tuple[bytes, bytes]], bytes]:
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in outcome.headers.items()]
    if not outcome.has_body:
        return headers, b""
    if not any(k == b"content-type" for k, _ in headers):
        headers += _JSON
    return headers, json.dumps(outcome.body).encode()
