"""Schema-valid values for responses the docs give no example of (``Prefer: code=NNN``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

_STRING_FORMATS = {
    "uuid": "8f135b4f-7a69-4b8a-947f-5e80d772fd97",
    "date-time": "2014-10-09T12:26:18.233Z",
    "uri": "https://backup.example.invalid/v2",
}


def sample_body(schema: dict[str, Any], status: int) -> Any:
    """The schema's example, else the smallest value that validates; error bodies get the reason phrase."""
    if status >= 400 and "message" in (schema.get("properties") or {}):
        return {"message": f"{HTTPStatus(status).phrase}.", "errors": []}
    return sample_value(schema)


def sample_value(schema: dict[str, Any]) -> Any:
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: sample_value(properties[name]) for name in schema.get("required", properties)}
    if kind == "array":
        return [sample_value(schema.get("items") or {})]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "string":
        if "[0-9]" in schema.get("pattern", ""):
            return "1"
        return _STRING_FORMATS.get(schema.get("format"), "string")
    return None


def sample_header(name: str, spec: dict[str, Any], base_url: str) -> str:
    if "example" in spec:
        return str(spec["example"])
    schema = spec.get("schema") or {}
    if schema.get("format") == "uri":
        return base_url + "/"
    return str(sample_value(schema))
