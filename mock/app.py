"""The Connexion application: the contract served with request validation, every operation
answered by the scenario engine, plus the admin API under ``/__mock``."""

from __future__ import annotations

import functools
import hmac
import json
import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import connexion
import jsonschema_rs
from connexion import AsyncApp
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware as ConnexionRequestValidation
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.routing import RoutingMiddleware
from connexion.resolver import Resolution, Resolver
from connexion.security import ApiKeySecurityHandler
from connexion.spec import OpenAPISpecification
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from .admin import Admin
from .contract import Contract
from .engine import Engine
from .errors import AllowIndex, install_error_handlers, unhandled_error
from .paths import SCENARIOS_DIR, SPEC_FILE
from .exchange import DEFAULT_MAX_BODY_BYTES, ExchangeMiddleware
from .handler import answered_by_engine, engine_asgi_app
from .journal import Journal
from .logs import configure_process
from .scenarios import load_directory
from .validators import VALIDATORS, RequestValidationMiddleware
from .world import Seed
from .yaml_files import load_yaml

ADMIN_BASE_PATH = "/__mock"
WORLD_FILE = "world.yaml"


@dataclass
class MockConfig:
    spec_file: Path = SPEC_FILE
    scenarios_dir: Path = SCENARIOS_DIR
    scenario_files: list[Path] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    log_format: str | None = None  # None: no request log; "text" or "json"
    world_file: Path | None = None  # default: scenarios_dir / world.yaml
    settings: dict[str, Any] = field(default_factory=dict)  # overrides of world.yaml's settings
    journal_size: int = 1000  # requests kept in the journal (oldest dropped first)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    admin_token: str | None = None  # when set, the admin API needs it as X-Admin-Token


    def to_json(self) -> str:
        return json.dumps({k: [str(p) for p in v] if k == "scenario_files" else (str(v) if isinstance(v, Path) else v)
                           for k, v in self.__dict__.items()})

    @classmethod
    def from_json(cls, text: str) -> "MockConfig":
        data = json.loads(text)
        for key in ("spec_file", "scenarios_dir", "world_file"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        data["scenario_files"] = [Path(p) for p in data.get("scenario_files", [])]
        return cls(**data)


CONFIG_ENVIRONMENT_VARIABLE = "CLOUD_BACKUP_MOCK_CONFIG"


def app_from_environment() -> AsyncApp:
    """The app of ``$CLOUD_BACKUP_MOCK_CONFIG`` (a MockConfig as JSON): uvicorn's factory for ``serve --workers``.
    Each worker is a fresh process: it sets up the request log as ``serve`` did for itself."""
    configure_process()
    return create_app(MockConfig.from_json(os.environ[CONFIG_ENVIRONMENT_VARIABLE]))


def build_engine(config: MockConfig) -> Engine:
    contract = Contract.load(config.spec_file)
    scenarios = load_directory(config.scenarios_dir, contract, config.scenario_files)
    world_file = config.world_file or Path(config.scenarios_dir) / WORLD_FILE

    def example(operation_id: str) -> Any:
        return contract.operation(operation_id).response_example(200) if operation_id in contract.operations else None

    seed = Seed.load(world_file, example)
    for name, value in config.settings.items():
        if not hasattr(seed.settings, name):
            raise ValueError(f"unknown world setting {name!r}")
        setattr(seed.settings, name, value)
    return Engine(contract, scenarios, seed, active=config.active)


def create_app(config: MockConfig | None = None, engine: Engine | None = None) -> AsyncApp:
    config = config or MockConfig()
    engine = engine or build_engine(config)
    allow = AllowIndex()
    app = AsyncApp(__name__, middlewares=_middlewares(), security_map={"apiKey": _token_checker(engine)})
    # Connexion builds its middleware stack around this app on the first request.
    app._middleware_app = app.middleware.app = engine_asgi_app(engine)
    install_error_handlers(app, allow)

    api_document = engine.contract.document
    allow.add_document(api_document)
    _add_api(app, api_document, str(config.spec_file), resolver=_EngineResolver(), validator_map=VALIDATORS,
             strict_validation=False, pythonic_params=False)
    admin_document = load_yaml(resources.files(__package__).joinpath("admin_openapi.yaml").read_text())
    allow.add_document(admin_document, ADMIN_BASE_PATH)
    journal = Journal(config.journal_size)
    _add_api(app, admin_document, "admin_openapi.yaml", base_path=ADMIN_BASE_PATH,
             resolver=_AdminResolver(Admin(engine, journal), config.admin_token), validator_map=VALIDATORS)
    app.add_middleware(ExchangeMiddleware, position=connexion.middleware.MiddlewarePosition.BEFORE_EXCEPTION,
                       contract=engine.contract, journal=journal, allow=allow, log_format=config.log_format,
                       max_body_bytes=config.max_body_bytes)
    app.engine, app.journal = engine, journal  # for the CLI, the pytest plugin and tests
    return app


def _add_api(app: AsyncApp, document: dict[str, Any], name: str, **options: Any) -> None:
    """``app.add_api``, with the document checked against the OpenAPI 3.0 schema by jsonschema-rs.

    Connexion checks each document it is given against its copy of that schema with jsonschema:
    some 80 ms, a tenth of the mock's start-up. The same check with jsonschema-rs, against the
    same copy of the schema, takes 3 ms; Connexion's is off while it adds the API."""
    errors = list(_openapi_schema_validator().iter_errors(document))
    if errors:
        where = "/".join(str(p) for p in errors[0].instance_path) or "(document)"
        raise ValueError(f"{name} is not a valid OpenAPI 3.0 document: at {where}: {errors[0].message}"
                         + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""))
    with _CONNEXION_SPEC_CHECK:
        own = OpenAPISpecification.__dict__.get("_validate_spec")
        OpenAPISpecification._validate_spec = classmethod(lambda cls, spec: None)
        try:
            app.add_api(document, **options)
        finally:
            if own is None:
                del OpenAPISpecification._validate_spec
            else:
                OpenAPISpecification._validate_spec = own


_CONNEXION_SPEC_CHECK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _openapi_schema_validator() -> Any:
    return jsonschema_rs.Draft4Validator(OpenAPISpecification.openapi_schema)


def _middlewares() -> list[Any]:
    """Connexion's default stack, with two fixes: its outermost error middleware cannot call an
    async handler (so it gets ours directly), and trailing-slash redirects are off; and two
    short-cuts: validation keeps its per-operation objects, and only Swagger UI's own paths go
    through Swagger UI's router."""
    replace = {
        ServerErrorMiddleware: functools.partial(ServerErrorMiddleware, handler=unhandled_error),
        RoutingMiddleware: _Routing,
        ConnexionRequestValidation: RequestValidationMiddleware,
        SwaggerUIMiddleware: _SwaggerUIOnly,
    }
    # Connexion's response validation is off (validate_responses): the engine checks every answer
    # against the contract itself (templated ones per request, fixed ones when a scenario loads).
    return [replace.get(m, m) for m in ConnexionMiddleware.default_middlewares if m is not ResponseValidationMiddleware]


class _EngineResolver(Resolver):
    """Every operation of the contract resolves to the engine (ids stay unique: Connexion keys on them)."""

    def resolve(self, operation):
        return Resolution(answered_by_engine, operation.operation_id)


class _AdminResolver(Resolver):
    """Admin operations resolve to :class:`Admin` methods, behind ``X-Admin-Token`` when one is set."""

    def __init__(self, admin: Admin, token: str | None):
        super().__init__()
        self.admin, self.token = admin, token

    def resolve(self, operation):
        handler = getattr(self.admin, operation.operation_id)
        if self.token is None:
            return Resolution(handler, operation.operation_id)
        token = self.token

        @functools.wraps(handler)
        async def guarded(*args: Any, **kwargs: Any) -> Response:
            given = connexion.context.scope._get_current_object()
            sent = dict(Request(given).headers).get("x-admin-token")
            if not sent or not hmac.compare_digest(sent, token):
                return JSONResponse({"message": "The admin API needs a valid X-Admin-Token header.",
                                     "errors": ["missing or wrong X-Admin-Token"]}, status_code=401)
            return await handler(*args, **kwargs)

        return Resolution(guarded, operation.operation_id)


def _token_checker(engine: Engine):
    """``X-Auth-Token`` is checked against the world of the project in the path."""

    def token_info(api_key: str, required_scopes=None, request=None) -> dict[str, Any] | None:
        project_id = str((request.scope.get("path_params") or {}).get("project_id", "")) if request else ""
        token = engine.authenticate(project_id, api_key)
        if token is None:
            return None
        return {"sub": token.get("agent_id") or "user", "agent_id": token.get("agent_id"), "id": token["id"]}

    class TokenHandler(ApiKeySecurityHandler):
        # Connexion inspects the checker's signature on every request; once is enough.
        _accepts_kwarg = staticmethod(functools.lru_cache(maxsize=64)(ApiKeySecurityHandler._accepts_kwarg))

        def _resolve_func(self, security_scheme):
            return token_info

    return TokenHandler


class _SwaggerUIOnly(SwaggerUIMiddleware):
    """Swagger UI's middleware matches every request against its routes (the UI and the
    document, for each API) before passing it on: a tenth of a request. Only paths that can be
    Swagger UI's (``…/ui…``, ``…/openapi.json``) go through it; the rest go straight on."""

    _PATHS = (SwaggerUIOptions.swagger_ui_path, "/openapi.json")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not any(p in scope["path"] for p in self._PATHS):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _Routing(RoutingMiddleware):
    """Connexion's routing, with two changes. ``/v2/x/agents/`` is not in the contract: it gets a
    404, not a redirect. And a request that one route of one API takes as it is (method and path,
    no root path) is routed from a flat table of Starlette's own compiled routes, straight to the
    next layer with the routing context Connexion's router would attach; anything else goes
    through Connexion's router (copying the scope and walking Starlette's mounts cost a tenth of
    a request)."""

    def __init__(self, app) -> None:
        super().__init__(app)
        self._table: list[tuple[str, list[tuple[Any, set[str], dict[str, Any], str | None]]]] = []

    def add_api(self, *args, **kwargs):
        super().add_api(*args, **kwargs)
        self.router.redirect_slashes = False
        self._table = []
        for mount in self.router.routes:  # most specific base path first, as Connexion sorts them
            if isinstance(mount, Mount):
                mount.app.redirect_slashes = False
                routes = [(r.path_regex, r.methods or set(), r.param_convertors, r.endpoint.operation_id)
                          for r in mount.app.routes if isinstance(r, Route)]
                self._table.append((mount.path, routes))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not scope.get("root_path"):
            path, method = scope["path"], scope["method"]
            for base, routes in self._table:
                if base and not path.startswith(base + "/"):
                    continue
                rest = path[len(base):]
                for regex, methods, convertors, operation_id in routes:
                    found = regex.match(rest)
                    if found and method in methods:
                        params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                        scope.setdefault("path_params", {}).update(params)
                        scope.setdefault("extensions", {}).setdefault(ROUTING_CONTEXT, {}).update(
                            {"api_base_path": base, "operation_id": operation_id})
                        await self.app(scope, receive, send)
                        return
                break  # the mount that takes this path has no route for it: Connexion's router decides
        await super().__call__(scope, receive, send)
