"""Routing from the contract's route index, in the place of Connexion's ``RoutingMiddleware``.

A request that reaches an operation goes on with the routing context Connexion's routed middlewares
(security, validation) read; one whose path has no such method is answered 405 with ``Allow``; one
that reaches nothing, 404. All three come from one :meth:`RouteIndex.match`, the one the exchange
layer made for the journal (Swagger UI's own paths are served before this layer).
"""

from __future__ import annotations

from ..contract import RouteIndex
from ..internals import set_routing_context
from .exchange import request_of, send_answer, send_error


def method_not_allowed(method: str, path: str, allowed: tuple[str, ...]) -> tuple[str, list[str]]:
    return f"Method {method} is not allowed on {path}.", [f"allowed methods: {', '.join(allowed)}"]


class RoutingMiddleware:
    """``redirects``: paths that lead elsewhere (``/`` to Swagger UI), answered 307 with ``Location``."""

    def __init__(self, app, routes: RouteIndex, redirects: dict[str, str] | None = None) -> None:
        self.app, self.routes, self.redirects = app, routes, redirects or {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        match = request_of(scope).match or self.routes.match(method, path)
        if match.found:
            scope.setdefault("path_params", {}).update(match.params)
            set_routing_context(scope, match.route.base_path, match.operation_id)
            await self.app(scope, receive, send)
        elif match.method_not_allowed:
            await send_error(send, 405, *method_not_allowed(method, path, match.allowed),
                             extra=[(b"allow", ", ".join(match.allowed).encode())])
        elif path in self.redirects and method in ("GET", "HEAD"):
            await send_answer(send, 307, [(b"location", self.redirects[path].encode())], b"")
        else:
            await send_error(send, 404, f"No operation at {path}.", [f"{method} {path} is not in the contract"])
