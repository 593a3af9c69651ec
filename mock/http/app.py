"""The mock as an ASGI app: Connexion's ``ConnexionMiddleware`` with the layers of :func:`stack`
around the :class:`Dispatcher`, serving the contract and the admin API under ``/__mock``. Answers
are not validated by Connexion: the engine checks every answer against the contract itself
(templated ones per request, fixed ones when a scenario loads).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

import jsonschema_rs
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolution, Resolver

from ..config import CONFIG_ENVIRONMENT_VARIABLE, MockConfig
from ..contract import Contract, RouteIndex
from ..engine import Engine, Journal, build_engine
from ..internals import connexion_spec_check_skipped, openapi_30_schema
from ..shipped import package_file
from ..yaml_files import load_yaml


class _OneBodyManyTypes(logging.Filter):
    """Connexion warns whenever an operation's body may come in more than one media type; the contract's
    JSON Patch bodies legitimately do (application/json-patch+json and application/json), so that line is
    noise for every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("this operation accepts multiple content types")


logging.getLogger("connexion.operations.openapi3").addFilter(_OneBodyManyTypes())
from .admin import Admin
from .dispatch import AdminOperation, Dispatcher, EngineOperation
from .errors import install_error_handlers, unhandled_error
from .exchange import ExchangeMiddleware, send_answer
from .logs import configure_process
from .routing import RoutingMiddleware
from .security import TokenHandler
from .validation import ValidationMiddleware

ADMIN_BASE_PATH = "/__mock"


class MockApp(ConnexionMiddleware):
    """The ASGI app, with handles on its engine and journal (for the CLI, ``MockServer`` and tests)."""

    engine: Engine
    journal: Journal


def create_app(config: MockConfig | None = None, engine: Engine | None = None,
               journal: Journal | None = None) -> MockApp:
    """``journal``: where exchanges are recorded (default: the engine's store's journal)."""
    config = config or MockConfig()
    engine = engine or build_engine(config)
    journal = journal or engine.store.journal(config.journal_mask)
    admin_contract = Contract(load_yaml(package_file("http", "admin_openapi.yaml").read_text(encoding="utf-8")),
                              "admin_openapi.yaml")
    routes = RouteIndex()
    routes.add(engine.contract.document, engine.contract.base_path, api="contract")
    routes.add(admin_contract.document, ADMIN_BASE_PATH, api="admin")

    admin = Admin(engine, journal)
    answer = EngineOperation(engine)
    operations: dict[str, Any] = {op: answer for op in engine.contract.operations}
    operations.update({op: AdminOperation(admin, admin_contract, op, config.admin_token)
                       for op in admin_contract.operations})
    ui_documents = {
        "/openapi.json": _for_swagger_ui(engine.contract.document, "/", CONTRACT_UI_NOTE),
        f"{ADMIN_BASE_PATH}/openapi.json": _for_swagger_ui(admin_contract.document, ADMIN_BASE_PATH, ""),
    }
    exchange = functools.partial(ExchangeMiddleware, routes=routes, contract=engine.contract, journal=journal,
                                 limits=engine.limits, log_format=config.log_format)
    app = MockApp(Dispatcher(operations), middlewares=stack(exchange, routes, engine.seed.settings.max_field_bytes,
                                                            ui_documents),
                  security_map={"apiKey": TokenHandler})
    install_error_handlers(app)
    _add_api(app, engine.contract.document, engine.contract.source, base_path=engine.contract.base_path)
    _add_api(app, _without_security(admin_contract.document), admin_contract.source, base_path=ADMIN_BASE_PATH)
    app.engine, app.journal = engine, journal
    return app


def app_from_environment() -> MockApp:
    """The app of ``$CLOUD_BACKUP_MOCK_CONFIG`` (a MockConfig as JSON): uvicorn's factory for ``serve --workers``.
    Each worker is a fresh process: it sets up the request log as ``serve`` did for itself."""
    config = MockConfig.from_json(os.environ[CONFIG_ENVIRONMENT_VARIABLE])
    configure_process(log_format=config.log_format or "text", worker=str(os.getpid()))
    from .server import freeze_start_up_heap

    app = create_app(config)
    freeze_start_up_heap()
    return app


class _NoHandler(Resolver):
    """Connexion resolves every operationId to a function when an API is added; the dispatcher
    answers instead, so each resolves to a marker that is never called."""

    def resolve(self, operation):
        return Resolution(_answered_by_dispatcher, operation.operation_id)


def _answered_by_dispatcher(**kwargs: Any) -> None:
    raise RuntimeError("operations are answered by the Dispatcher")


def _add_api(app: MockApp, document: dict[str, Any], name: str, base_path: str) -> None:
    """``app.add_api``, with the document checked against Connexion's copy of the OpenAPI 3.0 schema
    here, by jsonschema-rs (errors name the place); Connexion's own check of it is skipped."""
    errors = list(_openapi_schema_validator().iter_errors(document))
    if errors:
        where = "/".join(str(p) for p in errors[0].instance_path) or "(document)"
        raise ValueError(f"{name} is not a valid OpenAPI 3.0 document: at {where}: {errors[0].message}"
                         + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""))
    with connexion_spec_check_skipped():
        app.add_api(document, base_path=base_path, resolver=_NoHandler(), strict_validation=False,
                    pythonic_params=False)


def _without_security(document: dict[str, Any]) -> dict[str, Any]:
    """The admin document as Connexion gets it: ``X-Admin-Token`` is checked by ``AdminOperation`` (and
    only when ``--admin-token`` is set), so Connexion's security layer is given no requirement of it."""
    paths = {path: {method: ({k: v for k, v in operation.items() if k != "security"} if isinstance(operation, dict)
                             else operation) for method, operation in item.items()}
             for path, item in document["paths"].items()}
    return {**{k: v for k, v in document.items() if k != "security"}, "paths": paths}


@functools.lru_cache(maxsize=1)
def _openapi_schema_validator() -> Any:
    return jsonschema_rs.Draft4Validator(openapi_30_schema())


CONTRACT_UI_NOTE = (
    "\n\n**Served by cloud-backup-mock.** \"Try it out\" calls this mock. The docs' example token "
    "`0f6e9f63600142f0a970911583522217` is accepted as `X-Auth-Token` in every project (Authorize, then "
    "paste it); project `110011` and agent `8f135b4f-7a69-4b8a-947f-5e80d772fd97` are the docs' own.")
REDIRECTS = {"/": "/ui/", ADMIN_BASE_PATH: f"{ADMIN_BASE_PATH}/ui/", f"{ADMIN_BASE_PATH}/": f"{ADMIN_BASE_PATH}/ui/"}


def _for_swagger_ui(document: dict[str, Any], server: str, note: str) -> bytes:
    """The document Swagger UI shows: its server is this mock, and a note says what to try."""
    shown = {**document, "servers": [{"url": server, "description": "this mock server"}]}
    if note:
        shown["info"] = {**document.get("info", {}), "description": document.get("info", {}).get("description", "") + note}
    return json.dumps(shown).encode()


def stack(exchange: Any, routes: RouteIndex, max_field_bytes: int, ui_documents: dict[str, bytes]) -> list[Any]:
    """The layers a request goes through, outermost first; each owns one concern.

    Connexion's default stack, with these differences:
    - routing and request validation are ours, in the places of Connexion's: one route index answers
      routing, 404, 405 and the journal (Connexion's matched with Starlette's router as well), and
      Connexion's validation builds a URI parser and a parameter validator per request; with ours,
      each operation keeps its own, and the body is read and parsed once;
    - no response validation: the engine checks its answers against the contract itself;
    - no context layer: it sets ``connexion.context`` for handler functions, which this app has none
      of (the request object carries what the layers share). Left out with the route index by slash
      count and the per-media-type body schema, instructions per request went 1,009,030 -> 909,342
      (benchmarks/README.md).
    """
    return [
        functools.partial(ServerErrorMiddleware, handler=unhandled_error),  # last resort: a 500 in the API's shape
        exchange,  # the Request: route match, body (413), journal, request log, hang-up
        ExceptionMiddleware,  # errors raised below, answered by our handlers (errors.py)
        functools.partial(_SwaggerUIOnly, documents=ui_documents),  # /ui/, /openapi.json: nothing else
        functools.partial(RoutingMiddleware, routes=routes, redirects=REDIRECTS),  # 404, 405, the routing context
        SecurityMiddleware,  # X-Auth-Token present (TokenHandler), else 401; the engine checks its value
        functools.partial(ValidationMiddleware, max_field_bytes=max_field_bytes),  # parameters, media type, body
        LifespanMiddleware,  # start-up and shutdown
    ]


class _SwaggerUIOnly(SwaggerUIMiddleware):
    """Swagger UI's middleware matches every request against its routes (the UI and the document,
    for each API) before passing it on. Only paths that can be Swagger UI's (``…/ui…``,
    ``…/openapi.json``) go through it; the rest go straight on. The documents it shows are ours
    (``documents``: path -> JSON), with this mock as their server."""

    _PATHS = (SwaggerUIOptions.swagger_ui_path, "/openapi.json")

    def __init__(self, app, documents: dict[str, bytes] | None = None) -> None:
        super().__init__(app)
        self.documents = documents or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not any(p in scope["path"] for p in self._PATHS):
            await self.app(scope, receive, send)
            return
        document = self.documents.get(scope["path"]) if scope["type"] == "http" else None
        if document is not None and scope["method"] in ("GET", "HEAD"):
            await send_answer(send, 200, [(b"content-type", b"application/json")], document)
            return
        await super().__call__(scope, receive, send)
