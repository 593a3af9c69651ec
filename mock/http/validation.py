"""Request validation: parameters by Connexion's ``ParameterValidator`` (its URI parser coerces
them to their types), the media type against what the operation consumes, and a JSON body against
its schema, every problem reported with the field it concerns.

It stands where Connexion's ``RequestValidationMiddleware`` stands and is built the same way (a
routed middleware whose API makes one operation object per operationId), but each operation keeps
its parameter validator instead of building one per request, and the body is the one the exchange
layer already read: parsed once, here, and left in the exchange for the engine.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connexion import utils
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, UnsupportedMediaTypeProblem
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.operations import AbstractOperation
from connexion.validators import ParameterValidator

from ..contract import schema_errors
from .exchange import exchange_of

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


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    """Strict JSON: a Content-Type is required, in UTF-8; any body that does not parse is a 400."""
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
        return json.loads(text)
    except RecursionError:
        raise BadRequestProblem(detail="body: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise BadRequestProblem(detail=f"body: not valid JSON ({exc})") from None


class ValidationOperation:
    def __init__(self, next_app, operation: AbstractOperation, strict_validation: bool = False):
        self.next_app, self.operation = next_app, operation
        self.parameters = CheckedParameters(
            operation.parameters, uri_parser=operation.uri_parser_class(operation.parameters, operation.body_definition()),
            strict_validation=strict_validation, security_query_params=[])
        self.consumes = MediaTypeDict([(c.lower(), None) for c in operation.consumes])
        self.body_required = bool(operation.request_body.get("required", False))

    async def __call__(self, scope, receive, send) -> None:
        self.parameters.validate(scope)
        content_type = utils.extract_content_type(scope["headers"])
        mime_type, _ = utils.split_content_type(content_type)
        mime_type = mime_type or (self.operation.consumes[0] if self.operation.consumes else "application/octet-stream")
        if self.consumes and mime_type.lower() not in self.consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self.operation.consumes}")
        schema = self.operation.body_schema(mime_type)
        if schema and "json" in mime_type.lower():
            exchange = exchange_of(scope)
            raw = exchange.get("body") or b""
            if raw:
                body = parse_json_body(raw, content_type)
            elif schema.get("default") is None and self.body_required:
                raise BadRequestProblem(detail="RequestBody is required")
            else:
                body = schema.get("default")
            if body is None:
                if not utils.is_nullable(self.operation.body_definition(mime_type)):
                    raise BadRequestProblem(detail="body: a JSON request body is required")
            else:
                problems = schema_errors(schema, body)
                if problems:
                    problem = BadRequestProblem(detail=problems[0])
                    problem.ext = {"errors": problems}
                    raise problem
            exchange["json"] = body  # the engine and the admin API take it from here
        await self.next_app(scope, receive, send)


class ValidationAPI(RoutedAPI[ValidationOperation]):
    def __init__(self, *args, strict_validation: bool = False, uri_parser_class=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.strict_validation, self.uri_parser_class = strict_validation, uri_parser_class
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> ValidationOperation:
        return ValidationOperation(self.next_app, operation, self.strict_validation)


class ValidationMiddleware(RoutedMiddleware[ValidationAPI]):
    api_cls = ValidationAPI
