"""Every error the mock itself raises, in the API's shape: ``{"message": ..., "errors": [...]}``."""

from __future__ import annotations

import http
import json
import logging
from typing import Any, Iterable

from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.frameworks.starlette import starlettify_path
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

log = logging.getLogger("cloud_backup_mock")


def error_body(message: str, errors: Iterable[str] = ()) -> bytes:
    return json.dumps({"message": message, "errors": list(errors)}).encode()


def error_response(status: int, message: str, errors: Iterable[str] = (), headers: dict[str, str] | None = None):
    # Connexion's error handlers must return a ConnexionResponse.
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
    return ConnexionResponse(status_code=status, mimetype="application/json",
                             body=error_body(message, errors), headers=headers)


class AllowIndex:
    """The methods a path allows, for 405's ``Allow``, from the served documents.

    Where several templates match (``…/agents/tokens`` and ``…/agents/{agent_id}``) the most
    specific one, with the most literal segments, decides, as it does for routing.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[Any, int, set[str]]] = []

    def add_document(self, document: dict[str, Any], base_path: str = "") -> None:
        for path, item in document.get("paths", {}).items():
            methods = {m.upper() for m in item if m in ("get", "put", "post", "delete", "options", "head", "patch")}
            if "GET" in methods:
                methods.add("HEAD")
            template = base_path + path
            literal = sum(1 for part in template.split("/") if part and not part.startswith("{"))
            regex, _, _ = compile_path(starlettify_path(template))
            self.entries.append((regex, literal, methods))
        self.entries.sort(key=lambda entry: -entry[1])  # most literal segments first

    def allowed(self, path: str) -> list[str]:
        best, found = None, set()
        for regex, literal, methods in self.entries:
            if best is not None and literal < best:
                break
            if regex.match(path):
                best = literal
                found |= methods
        return sorted(found)


def method_not_allowed_body(method: str, path: str, allowed: list[str]) -> tuple[str, list[str]]:
    return f"Method {method} is not allowed on {path}.", [f"allowed methods: {', '.join(allowed)}"]


def install_error_handlers(app, allow: AllowIndex):
    async def problem(request: ConnexionRequest, exc: ProblemException):
        errors = list((exc.ext or {}).get("errors") or ([exc.detail] if exc.detail else []))
        title = exc.title or http.HTTPStatus(exc.status).phrase
        if isinstance(exc, BadRequestProblem) and errors:
            message = f"Invalid request: {errors[0]}"
        elif exc.status == 401:
            message = "Missing or invalid X-Auth-Token." if errors else title
        elif exc.status == 415:
            message = f"Unsupported Content-Type: {errors[0] if errors else 'expected application/json'}"
        else:
            message = f"{title}: {errors[0]}" if errors else title
        return error_response(exc.status, message, errors, exc.headers)

    async def http_error(request: ConnexionRequest, exc: HTTPException):
        status, headers = exc.status_code, dict(exc.headers or {})
        path = request.url.path
        allowed = allow.allowed(path)
        if status == 404 and allowed and request.method not in allowed:
            status = 405  # an extra route's Mount matched first: Starlette says 404 where 405 is right
        if status == 405:
            headers["Allow"] = ", ".join(allowed)
            return error_response(405, *method_not_allowed_body(request.method, path, allowed), headers)
        if status == 404:
            return error_response(404, f"No operation at {path}.", [f"{request.method} {path} is not in the contract"])
        phrase = http.HTTPStatus(status).phrase
        return error_response(status, phrase, [] if exc.detail == phrase else [str(exc.detail)], headers)

    app.add_error_handler(ProblemException, problem)
    app.add_error_handler(HTTPException, http_error)
    app.add_error_handler(Exception, unhandled_error)


async def unhandled_error(request: ConnexionRequest, exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "The mock failed unexpectedly; this is a bug in cloud-backup-mock.",
                          [f"{type(exc).__name__}: {exc}"])
