"""Every use of a third-party library's internals, in one place.

Each function names the library behaviour it relies on; ``tests/test_internals.py`` has a test for
each that fails when an upgrade changes it, and ``pyproject.toml`` pins the ranges those tests pass
on. Nothing here imports a library at module level: the engine uses the Jinja part without loading
any HTTP framework.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Any, Iterator

# ---- Connexion -------------------------------------------------------------------------------

# Warnings Connexion 3.3 raises while it is imported (it imports Starlette's test client and
# jsonschema's deprecated RefResolver): not ours to fix, and not to reach a user's test session.
IMPORT_WARNINGS = (
    "Using `httpx` with `starlette.testclient` is deprecated",
    "jsonschema.RefResolver is deprecated",
    "jsonschema.exceptions.RefResolutionError is deprecated",
)


def import_connexion_quietly() -> None:
    """Import Connexion (and what it imports) with its import-time warnings silenced, once."""
    with warnings.catch_warnings():
        for message in IMPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        import connexion  # noqa: F401
        import connexion.middleware.main  # noqa: F401


# Connexion's routed middlewares (security, validation) find the operation of a request in
# scope["extensions"][ROUTING_CONTEXT] = {"api_base_path": ..., "operation_id": ...}, which its
# own RoutingMiddleware fills; ours fills it from the contract's route index.
ROUTING_CONTEXT = "connexion_routing"


def set_routing_context(scope: dict[str, Any], api_base_path: str, operation_id: str) -> None:
    scope.setdefault("extensions", {}).setdefault(ROUTING_CONTEXT, {}).update(
        {"api_base_path": api_base_path, "operation_id": operation_id})


def routed_operation_id(scope: dict[str, Any]) -> str | None:
    return (scope.get("extensions", {}).get(ROUTING_CONTEXT) or {}).get("operation_id")


_SPEC_CHECK = threading.Lock()


@contextlib.contextmanager
def connexion_spec_check_skipped() -> Iterator[None]:
    """Connexion checks every document given to ``add_api`` against its copy of the OpenAPI schema
    with jsonschema (``OpenAPISpecification._validate_spec``, a classmethod called by ``__init__``).
    The caller has made the same check with jsonschema-rs; Connexion's is off inside this block."""
    import_connexion_quietly()
    from connexion.spec import OpenAPISpecification

    with _SPEC_CHECK:
        own = OpenAPISpecification.__dict__.get("_validate_spec")
        OpenAPISpecification._validate_spec = classmethod(lambda cls, spec: None)
        try:
            yield
        finally:
            if own is None:
                del OpenAPISpecification._validate_spec
            else:
                OpenAPISpecification._validate_spec = own


def openapi_30_schema() -> dict[str, Any]:
    """Connexion's copy of the OpenAPI 3.0 schema (``OpenAPISpecification.openapi_schema``)."""
    import_connexion_quietly()
    from connexion.spec import OpenAPISpecification

    return OpenAPISpecification.openapi_schema


# ---- uvicorn ---------------------------------------------------------------------------------

def hang_up(receive: Any) -> bool:
    """Close the client's connection without an answer. uvicorn's ``receive`` is a bound method of
    the request's cycle, which holds the connection's asyncio transport. False when the server is not
    uvicorn (the caller then raises instead)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


def server_started(server: Any) -> bool:
    """uvicorn's ``Server.started`` turns true once its sockets listen (set by ``Server.startup``)."""
    return bool(server.started)


# ---- Jinja -----------------------------------------------------------------------------------

def parse_expression(environment: Any, source: str) -> Any:
    """One Jinja expression, parsed as ``Environment.compile_expression`` does it (its ``Parser``
    in the ``variable`` state); raises ``TemplateSyntaxError`` when anything follows it."""
    from jinja2 import TemplateSyntaxError
    from jinja2.parser import Parser

    parser = Parser(environment, source, state="variable")
    expression = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
    return expression


def shared_context(environment: Any, variables: dict[str, Any]) -> Any:
    """A Jinja context whose parent is ``variables`` itself, not a copy (``Context(env, parent,
    name, blocks)``, as ``Template.new_context`` builds it), so several templates render in it."""
    return environment.context_class(environment, variables, None, {})


def render_chunks(template: Any, context: Any) -> Iterator[str]:
    """Run a compiled template in a given context: ``Template.root_render_func``, the generator
    ``Template.render`` runs in the context it makes."""
    return template.root_render_func(context)


# ---- uvicorn: the HTTP protocol, with the connection bounds ---------------------------------------

def guarded_protocol(limits: Any, refusal: Any) -> type:
    """uvicorn's httptools protocol with the bounds of ``limits`` (``Limits``): at most
    ``max_connections`` open connections (one more is answered 503 with ``Retry-After`` and closed);
    a connection that sends nothing for ``idle_timeout`` is closed; a request's line and headers must
    arrive within ``header_timeout`` (else 408) and within ``max_header_bytes`` (else 431), counted as
    they arrive, so nothing larger is ever held; its body within ``body_timeout`` (else 408). A timer
    runs only while a request is incomplete after a chunk: most requests arrive whole and need none. ``refusal(status, message, errors, headers)`` gives
    the answer's bytes. A subclass per server, for the server's own bounds.

    Relies on uvicorn's ``HttpToolsProtocol``: ``connections`` (the server's open connections, this one
    included once ``connection_made`` ran), ``transport``, ``loop``, and httptools' parser callbacks
    ``on_headers_complete`` / ``on_message_complete``, called from ``data_received``."""
    base = _guarded_base()
    return type("GuardedHttpToolsProtocol", (base,), {"limits": limits, "refusal": staticmethod(refusal),
                                                      "__module__": __name__})


_GUARDED_BASE: type | None = None
LINGER_SECONDS = 0.5


def _guarded_base() -> type:
    global _GUARDED_BASE
    if _GUARDED_BASE is not None:
        return _GUARDED_BASE
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedBase(HttpToolsProtocol):
        limits: Any = None
        refusal: Any = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_bytes, self._in_head, self._complete, self._refused = 0, True, True, False
            self._timer = None
            if len(self.connections) > self.limits.max_connections:
                self._refuse(503, "The mock has as many open connections as it keeps; retry shortly.",
                             [f"max_connections: {self.limits.max_connections}"], {"Retry-After": "1"})
                return
            self._timer = self.loop.call_later(self.limits.idle_timeout, self._timed_out)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head:
                self._head_bytes += len(data)
            if self._timer is not None and self._head_bytes == len(data) and self._in_head:
                self._cancel_timer()  # the first bytes of a request end the idle wait
            super().data_received(data)  # a chunk is at most asyncio's read size: what is held stays bounded
            if self._refused:
                return
            if self._in_head and self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, "The request's line and headers are larger than the mock takes.",
                             [f"max_header_bytes: {self.limits.max_header_bytes}"])
            elif self._timer is None and self._in_head and self._head_bytes:
                # A request began and its headers are not all here: they have header_timeout to arrive.
                self._timer = self.loop.call_later(self.limits.header_timeout, self._timed_out)
            elif self._timer is None and not self._in_head and not self._complete:
                # Its body is not all here: it has body_timeout to arrive.
                self._timer = self.loop.call_later(self.limits.body_timeout, self._timed_out)

        def on_headers_complete(self) -> None:
            self._in_head, self._complete = False, False
            self._cancel_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes, self._complete = True, 0, True
            self._cancel_timer()

        def connection_lost(self, exc) -> None:
            self._cancel_timer()
            super().connection_lost(exc)

        def _cancel_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self) -> None:
            self._timer = None
            if self._in_head and self._head_bytes:
                self._refuse(408, "The request's line and headers did not arrive in time.",
                             [f"header_timeout: {self.limits.header_timeout} s"])
            elif not self._in_head and not self._complete:
                self._refuse(408, "The request body did not arrive in time.",
                             [f"body_timeout: {self.limits.body_timeout} s"])
            elif self.cycle is None or self.cycle.response_complete:
                self.transport.close()  # idle: nothing asked, nothing to answer

        def _refuse(self, status: int, message: str, errors: list[str], headers: dict[str, str] | None = None) -> None:
            """Answer and close. What the client still sends meanwhile is read and dropped for a moment
            (closing with unread input would reset the connection and lose the answer)."""
            self._refused = True
            self._cancel_timer()
            answer = self.refusal(status, message, errors, headers or {})
            answering = self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete
            if answering or self.pipeline:
                self._after_response = answer  # an earlier request is still being answered: this comes after
                return
            if not self.transport.is_closing():
                self.transport.write(answer)
                self.loop.call_later(LINGER_SECONDS, self.transport.close)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            answer, self._after_response = getattr(self, "_after_response", None), None
            if answer is not None and not self.transport.is_closing():
                self.transport.write(answer)
                self.loop.call_later(LINGER_SECONDS, self.transport.close)

    _GUARDED_BASE = GuardedBase
    return GuardedBase


# ---- logging (standard library) ----------------------------------------------------------------


def lean_log_records() -> None:
    """Stop the logging module collecting, for every record, what no line of a serving process shows:
    the thread, the process and the caller. The first three are public switches; the caller lookup
    is turned off by ``logging._srcfile = None``, as the logging HOWTO's "Optimization" section
    documents (records then carry ``funcName`` None and no file). For ``serve`` only: it is global."""
    import logging

    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
