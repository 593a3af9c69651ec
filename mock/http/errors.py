"""Connexion's error handlers, answering in the API's shape: ``{"message": ..., "errors": [...]}``."""

from __future__ import annotations

import http
import logging

from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from ..contract import error_json
from ..engine import RETRY_AFTER_SECONDS, StoreUnavailable
from .exchange import request_of

log = logging.getLogger("cloud_backup_mock")


def error_response(status: int, message: str, errors=(), headers: dict[str, str] | None = None) -> ConnexionResponse:
    # Connexion's error handlers must return a ConnexionResponse.
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
    return ConnexionResponse(status_code=status, mimetype="application/json", body=error_json(message, errors),
                             headers=headers)


async def problem(request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
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


async def http_error(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
    phrase = http.HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, phrase, [] if exc.detail == phrase else [str(exc.detail)],
                          dict(exc.headers or {}))


async def unhandled_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "The mock failed unexpectedly; this is a bug in cloud-backup-mock.",
                          [f"{type(exc).__name__}: {exc}"])


async def store_unavailable(request: ConnexionRequest, exc: StoreUnavailable) -> ConnexionResponse:
    request_of(request.scope).store_unavailable = True  # the journal is in that store: not recorded
    return error_response(503, "The mock's shared state store cannot be reached; try again shortly.", [str(exc)],
                          {"Retry-After": str(RETRY_AFTER_SECONDS)})


def install_error_handlers(app) -> None:
    app.add_error_handler(StoreUnavailable, store_unavailable)
    app.add_error_handler(ProblemException, problem)
    app.add_error_handler(HTTPException, http_error)
    app.add_error_handler(Exception, unhandled_error)
