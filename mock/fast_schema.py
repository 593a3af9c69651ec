"""A fast yes/no answer to "does this value fit this OpenAPI 3.0 schema?".

jsonschema (pure Python) explains every error but costs most of a request's time on the
mock's hot path; jsonschema-rs answers "valid" in microseconds. Callers ask here first and
only run jsonschema, for its messages, when the answer is no.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

_COMPILED: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema kept alive, validator or None)
_NOT_JSON_SCHEMA = {"example", "examples", "discriminator", "xml", "externalDocs", "deprecated", "readOnly", "writeOnly"}


def is_valid(schema: dict[str, Any], value: Any) -> bool | None:
    """True or False; None when the schema cannot be compiled here (ask jsonschema instead)."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema:
        try:
            validator = jsonschema_rs.Draft202012Validator(to_json_schema(schema), validate_formats=True)
        except (ValueError, jsonschema_rs.ValidationError):
            validator = None
        entry = _COMPILED[id(schema)] = (schema, validator)
    return None if entry[1] is None else entry[1].is_valid(value)


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12: ``nullable: true`` becomes a ``null`` type."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_json_schema(v) for k, v in schema.items()
           if k not in _NOT_JSON_SCHEMA and not k.startswith("x-") and k != "nullable"}
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: to_json_schema(s) for name, s in schema["properties"].items()}
    return out
