"""The contract as the mock uses it: the built OpenAPI document, its operations by operationId, its routes."""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..shipped import SPEC_FILE
from ..yaml_files import YAMLError, load_yaml_file
from .routes import RouteIndex, base_path_of

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


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any] = field(repr=False)
    token_header: str | None = None  # the header of the apiKey the operation requires, if it requires one

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
    def request_media_type(self) -> str | None:
        """The JSON media type the request body is declared in (``application/json`` first)."""
        content = (self.spec.get("requestBody") or {}).get("content") or {}
        return next((t for t in sorted(content, key=lambda t: t != "application/json") if "json" in t), None)

    @property
    def request_schema(self) -> dict[str, Any] | None:
        media = ((self.spec.get("requestBody") or {}).get("content") or {}).get(self.request_media_type) or {}
        return media.get("schema")

    @property
    def request_example(self) -> Any:
        media = ((self.spec.get("requestBody") or {}).get("content") or {}).get(self.request_media_type) or {}
        return media.get("example")

    @property
    def docs_request(self) -> dict[str, Any] | None:
        return self.spec.get("x-docs-example-request")


class ContractError(ValueError):
    """A contract document the mock cannot serve: names the file and the problem, on one line."""


class Contract:
    def __init__(self, document: dict[str, Any], source: str = "openapi.yaml"):
        self.source = source
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            raise ContractError(f"{source}: not an OpenAPI document (no 'paths' mapping)")
        self.document = document
        try:
            self.resolved = resolve_refs(document)
        except (KeyError, ValueError, TypeError) as exc:
            raise ContractError(f"{source}: cannot resolve a $ref: {exc}") from None
        self.operations: dict[str, Operation] = {}
        for path, item in self.resolved["paths"].items():
            for method, spec in (item or {}).items():
                if method in METHODS:
                    operation_id = spec.get("operationId") if isinstance(spec, dict) else None
                    if not isinstance(operation_id, str) or not operation_id:
                        raise ContractError(f"{source}: {method.upper()} {path} has no operationId (a string)")
                    self.operations[operation_id] = Operation(operation_id, method.upper(), path,
                                                              _with_path_parameters(spec, item),
                                                              _token_header(spec, self.resolved))
        if not self.operations:
            raise ContractError(f"{source}: no operations under 'paths'; nothing to serve")
        self.base_path = base_path_of(document)

    @cached_property
    def routes(self) -> RouteIndex:
        """This document's operations alone, by path (the app builds its own index over this document
        and the admin API's, once, when it starts)."""
        routes = RouteIndex()
        routes.add(self.document, self.base_path, api="contract")
        return routes

    @classmethod
    def load(cls, path: str | Path = SPEC_FILE) -> "Contract":
        path = Path(path)
        try:
            return cls(load_yaml_file(path), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ContractError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML: "
                                f"{getattr(exc, 'problem', None) or exc}") from None

    def item_of(self, operation: Operation) -> Operation | None:
        """The GET operation at ``<operation's path>/{id}``: where what a POST to a collection makes is read."""
        for candidate in self.operations.values():
            if candidate.method == "GET" and candidate.path.startswith(operation.path.rstrip("/") + "/{") \
                    and candidate.path.count("/") == operation.path.rstrip("/").count("/") + 1 \
                    and candidate.path.endswith("}"):
                return candidate
        return None

    def read_at(self, path: str) -> Operation | None:
        """The GET operation at ``path``: where what a PUT, PATCH or DELETE there changes is read."""
        return next((candidate for candidate in self.operations.values()
                     if candidate.method == "GET" and candidate.path == path), None)

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            raise KeyError(self.unknown(operation_id)) from None

    def unknown(self, operation_id: str, also: tuple[str, ...] = ()) -> str:
        """What to say of an operationId the contract does not have: the nearest one, and every one
        (with ``also``, other names the caller takes)."""
        close = difflib.get_close_matches(operation_id, list(self.operations), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown operation {operation_id!r}{hint}; known: {', '.join([*sorted(self.operations), *also])}"


def _token_header(spec: dict[str, Any], document: dict[str, Any]) -> str | None:
    """The header an operation's security asks an API key in (its own requirements, else the document's);
    None when none does, or when one of its alternatives needs nothing."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    requirements = spec.get("security", document.get("security")) or []
    if any(not requirement for requirement in requirements):
        return None
    for requirement in requirements:
        for name in requirement:
            scheme = schemes.get(name) or {}
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return scheme.get("name")
    return None


def _with_path_parameters(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The operation with its path item's parameters, as OpenAPI defines them: the operation's own
    win where both give one of the same name and location."""
    shared = [p for p in item.get("parameters") or [] if isinstance(p, dict)]
    if not shared:
        return spec
    own = spec.get("parameters") or []
    names = {(p.get("name"), p.get("in")) for p in own if isinstance(p, dict)}
    return {**spec, "parameters": [p for p in shared if (p.get("name"), p.get("in")) not in names] + own}
