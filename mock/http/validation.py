"""Request validation: parameters by Connexion's ``ParameterValidator`` (its URI parser coerces
them to their types), the media type against what the operation consumes, and a JSON body against
its schema, every problem reported with the field it concerns.

It stands where Connexion's ``RequestValidationMiddleware`` stands and is built the same way (a
routed middleware whose API makes one operation object per operationId), but each operation keeps
its parameter validator instead of building one per request, and the body is the one the exchange
layer already read: parsed once, here, and left in the request for the engine. A contract operation's
request that does not validate is not answered here: the engine refuses it with this error once it
has checked the token.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connexion import utils
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ProblemException, UnsupportedMediaTypeProblem
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.operations import AbstractOperation
from connexion.validators import ParameterValidator

from ..contract import field_path, schema_errors
from .exchange import request_of

_CHARSET = re.compile(r";\s*charset\s*=\s*([^;\s]+)", re.I)


class CheckedParameters(ParameterValidator):
    """Connexion's parameter validator, with each schema checked through the contract's one cache."""

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if utils.is_nullable(param) and utils.is_null(value):
            return None
        if value is not None:
            problems = schema_errors(param.get("schema", param), value)
            if problems:
                return f"{parameter_type} parameter {param['name']}: {problems[0].split(': ', 1)[-1]}"
        elif param.get("required"):
            return f"{parameter_type} parameter {param['name']} is required"
        return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a JSON number")
    return number


_DECODER = json.JSONDecoder(parse_constant=_not_json, parse_float=_finite)


def parse_json_body(raw: bytes, content_type: str | None, max_field_bytes: int | None = None) -> Any:
    """Strict JSON: a Content-Type is required, in UTF-8; any body that does not parse is a 400, and so is
    one that JSON cannot carry back out (NaN, Infinity, a number too large for a double, a lone
    surrogate) or with a string longer than ``max_field_bytes``."""
    if not raw:
        return None
    if content_type is None:
        raise UnsupportedMediaTypeProblem(detail="no Content-Type header; send Content-Type: application/json")
    charset = _CHARSET.search(content_type)
    if charset and charset.group(1).strip("\"'").lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeProblem(detail=f"charset={charset.group(1)}; the API takes JSON in UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestProblem(detail=f"body: not valid UTF-8 (byte {exc.start})") from None
    try:
        body = _DECODER.decode(text)
    except RecursionError:
        raise BadRequestProblem(detail="body: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, integers too long to convert, and the refusals above
        raise BadRequestProblem(detail=f"body: not valid JSON ({exc})") from None
    # Only a body larger than the bound can hold a string longer than it, and only an escape can make a
    # lone surrogate: other bodies need no walk.
    if (max_field_bytes is not None and len(raw) > max_field_bytes) or _SURROGATE_ESCAPE.search(text):
        try:
            problem = _string_problem(body, max_field_bytes, [])
        except RecursionError:
            raise BadRequestProblem(detail="body: JSON nested too deeply") from None
        if problem:
            raise BadRequestProblem(detail=problem)
    return body


def _string_problem(value: Any, limit: int | None, path: list[Any]) -> str | None:
    """The first string (key or value) that is not valid UTF-8 text or is longer than ``limit`` bytes."""
    if isinstance(value, str):
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return f"{field_path(path)}: a lone surrogate (\\u{ord(value[0]):04x}...) is not text"
        if limit is not None and size > limit:
            return f"{field_path(path)}: {size} bytes is longer than the mock keeps ({limit}; setting max_field_bytes)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _string_problem(key, limit, path + [key]) or _string_problem(item, limit, path + [key])
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _string_problem(item, limit, path + [index])
            if problem:
                return problem
    return None


class ValidationOperation:
    def __init__(self, next_app, operation: AbstractOperation, strict_validation: bool = False,
                 max_field_bytes: int | None = None):
        self.next_app, self.operation, self.max_field_bytes = next_app, operation, max_field_bytes
        self.parameters = CheckedParameters(
            operation.parameters, uri_parser=operation.uri_parser_class(operation.parameters, operation.body_definition()),
            strict_validation=strict_validation, security_query_params=[])
        self.declared = frozenset(c.lower() for c in operation.consumes)
        self.consumes = MediaTypeDict([(c, None) for c in self.declared])
        self.body_required = bool(operation.request_body.get("required", False))
        self.patch = bool(operation.request_body.get("x-patchable"))  # a JSON Patch of listed members
        self._bodies: dict[str, tuple[dict[str, Any], bool]] = {}  # declared media type -> (schema, nullable)

    def _body(self, mime_type: str) -> tuple[dict[str, Any], bool]:
        """The body's schema for a media type, and whether null is allowed: kept for the declared ones."""
        known = self._bodies.get(mime_type)
        if known is None:
            definition = self.operation.body_definition(mime_type)
            known = (definition.get("schema", {}), utils.is_nullable(definition))
            if mime_type in self.operation.consumes:
                self._bodies[mime_type] = known
        return known

    async def __call__(self, scope, receive, send) -> None:
        request = request_of(scope)
        try:
            self._validate(scope, request)
        except ProblemException as problem:
            if request.operation is None:
                raise
            request.refusal = problem  # the engine raises it once the token is checked
        await self.next_app(scope, receive, send)

    def _validate(self, scope, request) -> None:
        """The request's parameters, media type and JSON body; its parsed body goes in ``request.body``."""
        self.parameters.validate(scope)
        content_type = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"content-type"),
                            None)  # ASGI header names are lower case
        mime_type, _ = utils.split_content_type(content_type)
        mime_type = mime_type or (self.operation.consumes[0] if self.operation.consumes else "application/octet-stream")
        lower = mime_type.lower()
        if self.declared and lower not in self.declared and lower not in self.consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self.operation.consumes}")
        schema, nullable = self._body(mime_type)
        if schema and "json" in lower:
            raw = request.raw_body or b""
            if raw:
                body = parse_json_body(raw, content_type, self.max_field_bytes)
            elif schema.get("default") is None and self.body_required:
                raise BadRequestProblem(detail="RequestBody is required")
            else:
                body = schema.get("default")
            if body is None:
                if not nullable:
                    raise BadRequestProblem(detail="body: a JSON request body is required")
            else:
                problems = schema_errors(schema, body)
                if problems and self.patch:  # what a patch may change is the operation's: the message names it
                    problems = [f"{self.operation.operation_id}: {problem}" for problem in problems]
                if problems:
                    problem = BadRequestProblem(detail=problems[0])
                    problem.ext = {"errors": problems}
                    raise problem
            request.body = body  # the engine and the admin API take it from here


class ValidationAPI(RoutedAPI[ValidationOperation]):
    def __init__(self, *args, strict_validation: bool = False, uri_parser_class=None, max_field_bytes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict_validation, self.uri_parser_class = strict_validation, uri_parser_class
        self.max_field_bytes = max_field_bytes
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> ValidationOperation:
        return ValidationOperation(self.next_app, operation, self.strict_validation, self.max_field_bytes)


class ValidationMiddleware(RoutedMiddleware[ValidationAPI]):
    """``max_field_bytes``: the bound on any string of a request body (the world's setting)."""

    api_cls = ValidationAPI

    def __init__(self, app, max_field_bytes: int | None = None) -> None:
        super().__init__(app)
        self.max_field_bytes = max_field_bytes

    def add_api(self, specification, **kwargs):
        return super().add_api(specification, max_field_bytes=self.max_field_bytes, **kwargs)
