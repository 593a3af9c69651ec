"""The contract as the mock uses it: the built OpenAPI document, indexed by operationId."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .fast_schema import is_valid
from .paths import SPEC_FILE
from .yaml_files import load_yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def resolve_refs(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with every local ``$ref`` inlined (the contract has no cycles)."""

    def lookup(ref: str) -> Any:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                if ref in seen:
                    raise ValueError(f"circular $ref {ref}")
                return walk(copy.deepcopy(lookup(ref)), seen + (ref,))
            return {k: walk(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    return walk(document, ())


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """Readable validation errors of ``value`` against an OpenAPI 3.0 schema (refs already resolved)."""
    if is_valid(schema, value):
        return []
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        # Imported here, for the messages of a value that does not fit: it costs a tenth of start-up.
        from openapi_schema_validator import OAS30Validator, oas30_format_checker

        entry = _VALIDATORS[id(schema)] = (schema, OAS30Validator(schema, format_checker=oas30_format_checker))
    return [_describe(e) for e in sorted(entry[1].iter_errors(value), key=lambda e: list(e.absolute_path))]


_VALIDATORS: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema kept alive, validator)


def _describe(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "body"
    return f"{where}: {error.message}"


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any] = field(repr=False)

    @cached_property
    def path_regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$")

    @property
    def statuses(self) -> list[int]:
        return sorted(int(code) for code in self.spec["responses"] if code.isdigit())

    @property
    def requires_auth(self) -> bool:
        return self.spec.get("security") != []

    def response(self, status: int) -> dict[str, Any] | None:
        return self.spec["responses"].get(str(status))

    def response_schema(self, status: int) -> dict[str, Any] | None:
        media = ((self.response(status) or {}).get("content") or {}).get("application/json") or {}
        return media.get("schema")

    def response_example(self, status: int) -> Any:
        media = ((self.response(status) or {}).get("content") or {}).get("application/json") or {}
        return media.get("example")

    def response_headers(self, status: int) -> dict[str, Any]:
        return (self.response(status) or {}).get("headers") or {}

    @property
    def request_schema(self) -> dict[str, Any] | None:
        media = ((self.spec.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
        return media.get("schema")

    @property
    def request_example(self) -> Any:
        media = ((self.spec.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
        return media.get("example")

    @property
    def docs_request(self) -> dict[str, Any] | None:
        return self.spec.get("x-docs-example-request")


class Contract:
    def __init__(self, document: dict[str, Any], source: str = "openapi.yaml"):
        self.source = source
        self.document = document
        self.resolved = resolve_refs(document)
        self.operations: dict[str, Operation] = {}
        for path, item in self.resolved["paths"].items():
            for method, spec in item.items():
                if method in METHODS:
                    self.operations[spec["operationId"]] = Operation(spec["operationId"], method.upper(), path, spec)

    @classmethod
    def load(cls, path: str | Path = SPEC_FILE) -> "Contract":
        path = Path(path)
        return cls(load_yaml(path.read_text(encoding="utf-8")), str(path))

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            known = ", ".join(sorted(self.operations))
            raise KeyError(f"unknown operation {operation_id!r}; known: {known}") from None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations.values():
            found = op.path_regex.match(path)
            if found and op.method == method.upper():
                return op, found.groupdict()
        return None
