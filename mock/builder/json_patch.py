"""JSON Patch bodies made exact: a PATCH whose request body lists the members it may change
(``x-patchable``, from the page's example and the overlay) takes, for each member, one kind of operation
(``add``, ``replace`` or ``test``) with a value of that member's type, as the item's GET answer declares it.

So a schema-valid patch is one the API can apply: it changes only members that may change, each to a value
of its type. Removing, moving or copying a member is not part of the contract. The same body is taken as
``application/json`` too: the getting-started guide sends its patch so."""

from __future__ import annotations

import copy
from typing import Any

JSON_PATCH = "application/json-patch+json"
SETTING_OPS = ["add", "replace", "test"]


def precise(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every PATCH body that lists ``x-patchable`` members made exact (in place)."""
    for item in (document.get("paths") or {}).values():
        operation = (item or {}).get("patch")
        body = (operation or {}).get("requestBody") or {}
        members = body.get("x-patchable")
        media = (body.get("content") or {}).get(JSON_PATCH)
        if not members or media is None:
            continue
        read = _schema(document, ((((item.get("get") or {}).get("responses") or {}).get("200") or {})
                                  .get("content") or {}).get("application/json", {}).get("schema"))
        media["schema"] = schema = {"type": "array", "minItems": 1, "items": {"oneOf": [
            {"type": "object", "required": ["op", "path", "value"], "additionalProperties": False,
             "properties": {"op": {"type": "string", "enum": SETTING_OPS},
                            "path": {"type": "string", "enum": [member]},
                            "value": _member(document, read, member)}}
            for member in members]}}
        body["content"]["application/json"] = {"schema": copy.deepcopy(schema)}
    return document


def _member(document: dict[str, Any], schema: Any, pointer: str) -> dict[str, Any]:
    """The schema of ``pointer``'s member in ``schema`` (any value when the read answer does not say)."""
    for name in pointer.strip("/").split("/"):
        schema = _schema(document, schema)
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict) or name not in properties:
            return {}
        schema = properties[name]
    return copy.deepcopy(schema)


def _schema(document: dict[str, Any], schema: Any) -> Any:
    """A schema with a local ``$ref`` followed."""
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target: Any = document
        for part in schema["$ref"][2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        schema = target
    return schema
