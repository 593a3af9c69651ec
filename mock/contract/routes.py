"""The one path index: which operation a method and path reach, or why none does.

Routing, 404, 405 with ``Allow`` and the operation the journal records all ask :meth:`RouteIndex.match`,
so they cannot disagree. Where several templates match a path (``/v2/{project_id}/agents/tokens`` and
``/v2/{project_id}/agents/{agent_id}``), the most specific one decides: the one with the most literal
segments. ``GET …/agents/tokens`` is therefore a 405 (``Allow: POST``), never ``getAgent`` with the
agent id ``tokens``. Repeated slashes count as one (``/v2/110011//backups``, as one of the docs'
example requests prints it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_PARAMETER = re.compile(r"\{([^{}/]+)\}")
_SLASHES = re.compile(r"//+")


def base_path_of(document: dict[str, Any]) -> str:
    """The path part of the document's first server URL, without a trailing slash ('' for ``/``)."""
    servers = document.get("servers") or [{}]
    url = servers[0].get("url", "") if isinstance(servers[0], dict) else ""
    return urlsplit(str(url)).path.rstrip("/")


@dataclass(frozen=True)
class Route:
    template: str  # the full path template, base path included
    api: str  # which served document it comes from ("contract", "admin")
    base_path: str
    operations: dict[str, str]  # METHOD -> operationId; HEAD answers as GET
    literal: int  # literal segments: the more, the more specific
    regex: re.Pattern[str] = field(repr=False, compare=False)
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """What a method and path reach: an operation (``found``), a path without that method
    (``allowed`` lists the methods it has) or nothing."""

    route: Route | None = None
    operation_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.operation_id is not None

    @property
    def method_not_allowed(self) -> bool:
        return self.operation_id is None and bool(self.allowed)


NO_MATCH = Match()


class RouteIndex:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        # Each parameter stands for one segment, so only templates with as many slashes as the path can
        # match it: routes by slash count, each list most specific first.
        self._by_depth: dict[int, list[Route]] = {}

    def add(self, document: dict[str, Any], base_path: str = "", api: str = "contract") -> None:
        for path, item in (document.get("paths") or {}).items():
            operations = {m.upper(): spec.get("operationId") for m, spec in (item or {}).items()
                          if m in METHODS and isinstance(spec, dict)}
            if "GET" in operations:
                operations.setdefault("HEAD", operations["GET"])
            template = base_path + path
            names = tuple(_PARAMETER.findall(template))
            pattern = "^" + _PARAMETER.sub("\0", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
            regex = re.compile(pattern.replace("\0", "([^/]+)"))
            literal = sum(1 for part in template.split("/") if part and not _PARAMETER.fullmatch(part))
            self._routes.append(Route(template, api, base_path, operations, literal, regex, names))
        self._routes.sort(key=lambda r: -r.literal)  # most specific first
        self._by_depth = {}
        for route in self._routes:
            self._by_depth.setdefault(route.template.count("/"), []).append(route)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def match(self, method: str, path: str, raw_path: str | None = None) -> Match:
        """``path`` decoded (as the server gives it); with ``raw_path`` (the path as sent), path values are
        taken from it and decoded here, bytes that are not UTF-8 kept apart as surrogates (PEP 383), so
        two different values never become one ("caf%E9" and "caf%FF" are two projects). Segments are those
        of the decoded path: an encoded slash (``%2F``) separates them too.

        An empty segment (``//``) counts for nothing where it follows a path value (the docs print
        ``/v2/110011//backups``); after a literal segment it is a missing value, and the path reaches no
        operation (``…/agents//vault-encryption-requests`` is not ``getAgent``)."""
        if "//" in path:
            found = self._match(method, _SLASHES.sub("/", path), raw_path)
            if found.route is not None and not _empty_segments_follow_values(path, found.route.template):
                return NO_MATCH
            return found
        return self._match(method, path, raw_path)

    def _match(self, method: str, path: str, raw_path: str | None) -> Match:
        best: int | None = None
        allowed: set[str] = set()
        first_route = None
        for route in self._by_depth.get(path.count("/"), ()):
            if best is not None and route.literal < best:
                break
            found = route.regex.match(path)
            if found is None:
                continue
            best = route.literal
            operation_id = route.operations.get(method)
            if operation_id is not None:
                values = found.groups()
                sent = route.regex.match(_SLASHES.sub("/", raw_path)) if raw_path and "%" in raw_path else None
                if sent is not None:
                    values = [_decoded(v) for v in sent.groups()]
                return Match(route, operation_id, dict(zip(route.names, values)), tuple(route.operations))
            allowed.update(route.operations)
            first_route = first_route or route
        if first_route is None:
            return NO_MATCH
        return Match(first_route, None, {}, tuple(sorted(allowed)))


def _empty_segments_follow_values(path: str, template: str) -> bool:
    parts = template.split("/")
    position = 0  # the template segment the last non-empty segment of the path stood for
    for segment in path.split("/")[1:]:
        if segment:
            position += 1
        elif position == 0 or position >= len(parts) or not _PARAMETER.fullmatch(parts[position]):
            return False
    return True


def _decoded(segment: str) -> str:
    return unquote_to_bytes(segment).decode("utf-8", "surrogateescape") if "%" in segment else segment


def path_segment(value: object) -> str:
    """A path value as one URL segment, percent-encoded from its bytes: a value that came in as bytes
    other than UTF-8 (kept as surrogates by :meth:`RouteIndex.match`) goes back out as the same bytes."""
    return quote(str(value).encode("utf-8", "surrogateescape"), safe="")
