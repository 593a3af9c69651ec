"""Does a value fit an OpenAPI 3.0 schema, and if not, why: the one place schemas are compiled.

Each schema is compiled once (kept by identity, with the schema itself so the key stays valid).
jsonschema-rs decides; openapi-schema-validator (jsonschema) is built only when a value does not
fit, to explain why, and a value is accepted when either accepts it. Every request check
(parameters, bodies) and every answer check (scenario responses) goes through here.
"""

from __future__ import annotations

from typing import Any, Iterable

import jsonschema_rs

_NOT_JSON_SCHEMA = {"example", "examples", "discriminator", "xml", "externalDocs", "deprecated", "readOnly", "writeOnly"}


class _Compiled:
    __slots__ = ("schema", "fast", "explainer")

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema  # kept alive: the cache is keyed by its id
        try:
            self.fast = jsonschema_rs.Draft202012Validator(to_json_schema(schema), validate_formats=True)
        except (ValueError, jsonschema_rs.ValidationError):
            self.fast = None
        self.explainer = None

    def explain(self, value: Any) -> list[Any]:
        if self.explainer is None:
            # Imported on the first value that does not fit: a mock that meets only valid values never loads it.
            from jsonschema import FormatChecker
            from openapi_schema_validator import OAS30Validator

            self.explainer = OAS30Validator(self.schema, format_checker=FormatChecker())
        return sorted(self.explainer.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])


_CACHE: dict[int, _Compiled] = {}


def _compiled(schema: dict[str, Any]) -> _Compiled:
    entry = _CACHE.get(id(schema))
    if entry is None or entry.schema is not schema:
        entry = _CACHE[id(schema)] = _Compiled(schema)
    return entry


def is_valid(schema: dict[str, Any], value: Any) -> bool:
    return not schema_errors(schema, value)


def schema_errors(schema: dict[str, Any], value: Any, root: str = "body") -> list[str]:
    """Readable problems of ``value`` against an OpenAPI 3.0 schema (refs resolved), each
    ``field.path: message`` (``root`` names the value itself); [] when it fits."""
    compiled = _compiled(schema)
    try:
        if compiled.fast is not None and compiled.fast.is_valid(value):
            return []
    except (ValueError, UnicodeEncodeError):  # jsonschema-rs takes no lone surrogates: jsonschema decides
        pass
    problems = []
    for error in compiled.explain(value):
        problems.extend(_chosen(error, root) or [f"{field_path(error.absolute_path, root)}: {error.message}"])
    return problems


def _chosen(error: Any, root: str) -> list[str]:
    """For a value that fits none of a ``oneOf``'s objects told apart by one member's ``enum`` (a JSON Patch
    operation's ``path``), the problems of the object its member names, or that member's allowed values."""
    alternatives = error.schema.get(error.validator) if error.validator in ("oneOf", "anyOf") else None
    if not isinstance(alternatives, list) or not isinstance(error.instance, dict):
        return []
    def values(alternative: Any, key: str) -> list[Any] | None:
        spec = ((alternative.get("properties") or {}) if isinstance(alternative, dict) else {}).get(key)
        return spec.get("enum") if isinstance(spec, dict) else None

    first = alternatives[0].get("properties") if isinstance(alternatives[0], dict) else None
    # The member that tells the objects apart: one each has, with values no other object has.
    keys = [key for key in (first or {}) if all(values(a, key) is not None for a in alternatives)
            and len({v for a in alternatives for v in values(a, key)}) == sum(len(values(a, key)) for a in alternatives)]
    if len(keys) != 1:
        return []
    key = keys[0]
    allowed = [value for alternative in alternatives for value in alternative["properties"][key]["enum"]]
    chosen = [i for i, alternative in enumerate(alternatives)
              if error.instance.get(key) in alternative["properties"][key]["enum"]]
    if not chosen:
        return [f"{field_path([*error.absolute_path, key], root)}: {error.instance.get(key)!r} is not one of "
                f"{', '.join(map(str, allowed))}"]
    return [f"{field_path(sub.absolute_path, root)}: {sub.message}" for sub in error.context
            if sub.schema_path and sub.schema_path[0] == chosen[0]]


def field_path(parts: Iterable[Any], root: str = "body") -> str:
    """``["host", "os", "name"]`` -> ``host.os.name``; list indexes as ``links[0]``; ``root`` when empty."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return text or root


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
