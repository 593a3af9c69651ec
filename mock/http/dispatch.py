"""The innermost ASGI app: a routed, authenticated and validated request is answered here, by the
engine for the contract's operations or by :class:`Admin` for the admin API's.

Everything it needs is already in the scope: the operation (routing context), the path parameters,
the token's info (security) and the parsed body (validation, in the exchange).
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qs

from ..contract import Contract, error_json
from ..engine import Engine, Outcome, RequestContext, RequestError
from ..internals import routed_operation_id, token_info
from .admin import Admin
from .exchange import exchange_of, send_answer, send_error

_JSON = [(b"content-type", b"application/json")]


class EngineOperation:
    """One operation of the contract, answered by the engine."""

    def __init__(self, engine: Engine, operation_id: str):
        self.engine, self.operation_id = engine, operation_id
        self.operation = engine.contract.operation(operation_id)

    async def __call__(self, scope, receive, send) -> None:
        path_params = dict(scope.get("path_params") or {})
        project_id = str(path_params.get("project_id", ""))
        exchange = exchange_of(scope)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        context = RequestContext(
            operation=self.operation, project_id=project_id, path_params=path_params,
            query=parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
            headers=headers, body=exchange.get("json"), base_url=base_url(scope, headers), token=token_info(scope),
            world=exchange.get("world"),
        )
        try:
            outcome = await self.engine.handle(context)
        except RequestError as exc:
            exchange["scenario"] = "(refused)"
            await send_answer(send, 400, _JSON, error_json(exc.message, exc.errors))
            return
        exchange.update(scenario=outcome.scenario, rule=outcome.rule, drop=outcome.drop)
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

    async def __call__(self, scope, receive, send) -> None:
        if self.token is not None:
            sent = next((v for k, v in scope["headers"] if k == b"x-admin-token"), b"")
            if not hmac.compare_digest(sent, self.token):
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
            arguments["body"] = exchange_of(scope).get("json")
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
