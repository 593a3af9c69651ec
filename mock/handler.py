"""The one handler behind every operation of the contract: turns a routed, authenticated and
validated request into a :class:`RequestContext`, and the engine's :class:`Outcome` into the answer.

It plugs into Connexion where Connexion builds the innermost app (``AsyncApp``'s middleware app,
whose API class makes one operation object per operationId). Connexion's own ``AsyncOperation``
rebuilds its parameter and response decorators on every request (a URI parser, the handler's
signature inspected, the JSON body parsed a second time, the answer converted): about a third of
a request's time, for nothing the engine needs. :class:`EngineOperation` answers the ASGI call
itself from what the layers above already put in the scope: the route's path parameters, the
token's info (security middleware) and the parsed body (our body validator). Admin operations
keep Connexion's operation.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.operations import AbstractOperation

from .engine import Engine, Outcome, RequestContext, RequestError
from .exchange import exchange_of

_JSON = [(b"content-type", b"application/json")]


class EngineOperation:
    """One operation of the contract, answered by the engine (an ASGI app, like ``AsyncOperation``)."""

    def __init__(self, engine: Engine, operation_id: str):
        self.engine, self.operation_id = engine, operation_id
        self.operation = engine.contract.operation(operation_id)

    async def __call__(self, scope, receive, send) -> None:
        path_params = dict(scope.get("path_params") or {})
        project_id = str(path_params.get("project_id", ""))
        exchange = exchange_of(scope)
        exchange.update(operation=self.operation_id, project_id=project_id)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        context = RequestContext(
            operation=self.operation, project_id=project_id, path_params=path_params,
            query=parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
            headers=headers, body=exchange.get("json"), base_url=base_url(scope, headers),
            token=scope.get("extensions", {}).get("connexion_context", {}).get("token_info"),
        )
        try:
            outcome = await self.engine.handle(context)
        except RequestError as exc:
            exchange["scenario"] = "(refused)"
            await _send(send, 400, _JSON, json.dumps({"message": exc.message, "errors": exc.errors}).encode())
            return
        exchange.update(scenario=outcome.scenario, rule=outcome.rule, drop=outcome.drop)
        if outcome.drop:  # the exchange middleware hangs up instead of sending this
            await _send(send, 204, [], b"")
            return
        await _send(send, outcome.status, *_encode(outcome))


def _encode(outcome: Outcome) -> tuple[list[tuple[bytes, bytes]], bytes]:
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in outcome.headers.items()]
    if not outcome.has_body:
        return headers, b""
    if not any(k == b"content-type" for k, _ in headers):
        headers += _JSON
    return headers, json.dumps(outcome.body).encode()


async def _send(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status not in (204, 304) and not 100 <= status < 200:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    else:
        body = b""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def base_url(scope, headers: dict[str, str]) -> str:
    """Scheme and host the client used, honouring a proxy's X-Forwarded-Proto and X-Forwarded-Host."""
    scheme = (headers.get("x-forwarded-proto") or scope.get("scheme") or "http").split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host.split(',')[0].strip()}"


async def answered_by_engine(**kwargs: Any) -> None:
    """What the resolver maps every contract operation to: a marker, never called, that
    :func:`engine_asgi_app` replaces with an :class:`EngineOperation`."""
    raise RuntimeError("the contract's operations are answered by EngineOperation")


def engine_asgi_app(engine: Engine) -> AsyncASGIApp:
    """Connexion's innermost app, with :class:`EngineOperation` for the operations the engine answers."""

    class EngineApi(AsyncApi):
        def make_operation(self, operation: AbstractOperation) -> EngineOperation | AsyncOperation:
            if operation.function is answered_by_engine:
                return EngineOperation(engine, operation.operation_id)
            return super().make_operation(operation)

    class EngineASGIApp(AsyncASGIApp):
        api_cls = EngineApi

    return EngineASGIApp()
