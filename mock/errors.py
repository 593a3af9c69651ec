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
    """The methods each path of the served documents allows, for 405's ``Allow``.

    Starlette only lists the first route that partly matches, and Connexion adds one route
    per (path, method), so the answer is computed from the documents instead.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[Any, set[str]]] = []

    def add_document(self, document: dict[str, Any], base_path: str = "") -> None:
        for path, item in document.get("paths", {}).items():
            methods = {m.upper() for m in item if m in ("get", "put", "post", "delete", "options", "head", "patch")}
            if "GET" in methods:
                methods.add("HEAD")
            regex, _, _ = compile_path(base_path + starlettify_path(path))
            self.entries.append((regex, methods))

    def allowed(self, path: str) -> list[str]:
        found: set[str] = set()
        for regex, methods in self.entries:
            if regex.match(path):
                found |= methods
        return sorted(found)


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
            return error_response(405, f"Method {request.method} is not allowed on {path}.",
                                  [f"allowed methods: {', '.join(allowed)}"], headers)
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
