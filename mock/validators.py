"""Request validation: Connexion's, with what it rebuilt on every request built once, and every
error reported with the field it concerns.

- :class:`CachingJSONBodyValidator` and :class:`CachingParameterValidator` (Connexion's
  ``validator_map``) compile a schema once, ask jsonschema-rs first and jsonschema only to
  explain a failure;
- :class:`RequestValidationMiddleware` (in the app's middleware list, instead of Connexion's)
  keeps one URI parser, one parameter validator and one body validator per media type for each
  operation, where Connexion's builds them afresh for every request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, UnsupportedMediaTypeProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.middleware import request_validation
from connexion import utils
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker

from .exchange import exchange_of
from .fast_schema import is_valid

# Every format jsonschema knows (Draft 4's own checker has no "uuid", which the contract uses).
FORMATS = FormatChecker()
_BODY_VALIDATORS: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema, validator); the schema is kept alive
_PARAMETER_VALIDATORS: dict[int, tuple[Any, Any]] = {}


_CHARSET = re.compile(r";\s*charset\s*=\s*([^;\s]+)", re.I)


def _field(error) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".") or "body"


class CachingJSONBodyValidator(JSONRequestBodyValidator):
    async def _parse(self, stream, scope) -> Any:
        """Strict JSON: a Content-Type is required, in UTF-8; any body that does not parse is a 400."""
        raw = b"".join([message async for message in stream])
        if not raw:
            return None
        content_type = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-type"), None)
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
            parsed = json.loads(text)
        except RecursionError:
            raise BadRequestProblem(detail="body: JSON nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, and integers too long to convert
            raise BadRequestProblem(detail=f"body: not valid JSON ({exc})") from None
        exchange_of(scope)["json"] = parsed  # the handler takes it from here rather than parse it again
        return parsed

    @property
    def _validator(self):
        entry = _BODY_VALIDATORS.get(id(self._schema))
        if entry is None or entry[0] is not self._schema:
            validator = Draft4RequestValidator(self._schema, format_checker=FORMATS)
            entry = _BODY_VALIDATORS[id(self._schema)] = (self._schema, validator)
        return entry[1]

    def _validate(self, body: Any) -> None:
        if not self._nullable and body is None:
            raise BadRequestProblem(detail="body: a JSON request body is required")
        if is_valid(self._schema, body):
            return
        errors = sorted(self._validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            messages = [f"{_field(e)}: {e.message}" for e in errors]
            problem = BadRequestProblem(detail=messages[0])
            problem.ext = {"errors": messages}
            raise problem


class CachingParameterValidator(ParameterValidator):
    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            schema = param.get("schema", param)
            if is_valid(schema, value):
                return None
            entry = _PARAMETER_VALIDATORS.get(id(schema))
            if entry is None or entry[0] is not schema:
                entry = _PARAMETER_VALIDATORS[id(schema)] = (
                    schema, Draft4Validator(schema, format_checker=FORMATS))
            for error in entry[1].iter_errors(value):
                return f"{parameter_type} parameter {param['name']}: {error.message}"
        elif param.get("required"):
            return f"{parameter_type} parameter {param['name']} is required"
        return None


# Connexion merges validator_map by top-level key: copy the default body map, replace JSON only.
VALIDATORS = {
    "parameter": CachingParameterValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": CachingJSONBodyValidator}),
}


class _ValidationOperation(request_validation.RequestValidationOperation):
    _MAX_MEDIA_TYPES = 8  # body validators kept per operation (media types come from clients)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        operation = self._operation
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=operation._uri_parser_class(operation.parameters, operation.body_definition()),
            strict_validation=self.strict_validation, security_query_params=self.security_query_params)
        self._consumes = MediaTypeDict([(c.lower(), None) for c in operation.consumes])
        self._body_validators: dict[tuple[str, str], Any] = {}

    def validate_mime_type(self, mime_type: str) -> None:
        if self._consumes and mime_type.lower() not in self._consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self._operation.consumes}")

    def _body_validator(self, mime_type: str, encoding: str) -> Any:
        key = (mime_type, encoding)
        if key in self._body_validators:
            return self._body_validators[key]
        operation = self._operation
        schema = operation.body_schema(mime_type)
        validator_cls = self._validator_map["body"].get(mime_type) if schema else None
        validator = None if validator_cls is None else validator_cls(
            schema=schema, required=operation.request_body.get("required", False),
            nullable=utils.is_nullable(operation.body_definition(mime_type)), encoding=encoding,
            strict_validation=self.strict_validation,
            uri_parser=operation.uri_parser_class(operation.parameters, operation.body_definition()))
        if len(self._body_validators) < self._MAX_MEDIA_TYPES:
            self._body_validators[key] = validator
        return validator

    async def __call__(self, scope, receive, send):
        self._parameter_validator.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        validator = self._body_validator(mime_type, encoding)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class _ValidationAPI(request_validation.RequestValidationAPI):
    def make_operation(self, operation) -> _ValidationOperation:
        return _ValidationOperation(self.next_app, operation=operation, strict_validation=self.strict_validation,
                                    validator_map=self.validator_map)


class RequestValidationMiddleware(request_validation.RequestValidationMiddleware):
    """Connexion's request validation middleware, with its per-operation objects built once."""

    api_cls = _ValidationAPI
