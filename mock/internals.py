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


# ---- uvicorn: the HTTP protocol the connection layer subclasses (http/connections.py) -----------

def httptools_protocol_class() -> type:
    """uvicorn's HTTP/1.1 protocol over httptools (``HttpToolsProtocol``), an asyncio ``Protocol``. A
    subclass relies on: its parser calling ``on_headers_complete``, ``on_body`` (with each piece of the
    body) and ``on_message_complete`` from inside ``data_received`` when a request's head, its body,
    then its whole message, has been read; and the
    request's cycle calling the protocol's ``on_response_complete`` once the answer is written."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return HttpToolsProtocol


def answering(protocol: Any) -> bool:
    """Whether the answer to the connection's latest request has begun and not ended: the protocol's
    ``cycle`` (that request's ``RequestResponseCycle``) has ``response_started``, not ``response_complete``."""
    cycle = protocol.cycle
    return cycle is not None and cycle.response_started and not cycle.response_complete


def all_answered(protocol: Any) -> bool:
    """Whether every request of the connection has its answer: no ``cycle`` yet, or the latest one's
    ``response_complete`` (uvicorn's ``shutdown`` closes a connection on the same test)."""
    cycle = protocol.cycle
    return cycle is None or cycle.response_complete


def pipelined(protocol: Any) -> bool:
    """Whether requests wait behind the one being answered: ``HttpToolsProtocol.pipeline``, the queue
    ``on_headers_complete`` puts a request in while the one before it is unanswered."""
    return bool(protocol.pipeline)


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


# ---- redis-py ---------------------------------------------------------------------------------


def redis_streams(connection: Any) -> tuple[Any, Any]:
    """The asyncio (reader, writer) of a connected ``redis.asyncio.Connection``. redis-py 8 keeps them as
    ``_reader`` and ``_writer``: ``connect()`` opens them (and makes the handshake: TLS, AUTH, HELLO,
    SELECT on them) and ``disconnect()`` closes them. The Redis store's sender writes its batches there
    and parses the replies with hiredis's reader, all at once: redis-py reads a reply at a time in
    Python, several times the CPU of a whole round trip for the replies a project's changes make."""
    return connection._reader, connection._writer


def redis_reply_error(message: str) -> Exception:
    """The exception redis-py raises for an error reply (``NOSCRIPT`` -> ``NoScriptError``, ``LOADING``
    -> ``BusyLoadingError``, ...): its parsers' ``parse_error``, a class method of ``redis._parsers.BaseParser``."""
    from redis._parsers import BaseParser

    return BaseParser.parse_error(message)


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
