"""Request validators that build their JSON Schema validator once per schema, not per request,
and report every error with the field it concerns (plugged in through Connexion's ``validator_map``)."""

from __future__ import annotations

import json
import re
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, UnsupportedMediaTypeProblem
from connexion.json_schema import Draft4RequestValidator
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
