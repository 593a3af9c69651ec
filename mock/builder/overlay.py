"""Apply an OpenAPI Overlay 1.0 document (https://spec.openapis.org/overlay/v1.0.0.html).

Each action selects nodes with a JSONPath ``target`` and either removes them
(``remove: true``) or merges ``update`` into them: objects merge recursively, any other
value replaces; when the target is an array the update is appended to it.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonpath_ng import DatumInContext, Fields, Index
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath


class OverlayError(ValueError):
    """An overlay that cannot be applied; names the action and why."""


def apply_overlay(document: dict[str, Any], overlay: dict[str, Any], source: str = "overlay") -> dict[str, Any]:
    if not str(overlay.get("overlay", "")).startswith("1."):
        raise OverlayError(f"{source}: not an Overlay 1.x document (missing 'overlay: 1.0.0')")
    result = copy.deepcopy(document)
    for number, action in enumerate(overlay.get("actions") or [], start=1):
        where = f"{source}: action {number} ({action.get('description') or action.get('target')})"
        _apply_action(result, action, where)
    return result


def _apply_action(document: dict[str, Any], action: dict[str, Any], where: str) -> None:
    target = action.get("target")
    if not target:
        raise OverlayError(f"{where}: no target")
    try:
        matches = parse_jsonpath(target).find(document)
    except (JsonPathParserError, Exception) as exc:  # jsonpath-ng raises plain Exceptions for lexer errors
        raise OverlayError(f"{where}: invalid JSONPath {target!r}: {exc}") from None
    if not matches:
        raise OverlayError(f"{where}: target {target!r} selects nothing")
    if action.get("remove"):
        for match in reversed(matches):
            _remove(match, where)
        return
    if "update" not in action:
        raise OverlayError(f"{where}: neither 'update' nor 'remove: true'")
    for match in matches:
        node = match.value
        if isinstance(node, list):
            node.append(copy.deepcopy(action["update"]))
        elif isinstance(node, dict) and isinstance(action["update"], dict):
            merge(node, action["update"])
        else:
            raise OverlayError(f"{where}: cannot merge {type(action['update']).__name__} into {type(node).__name__}")


def merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _remove(match: DatumInContext, where: str) -> None:
    parent = match.context.value if match.context is not None else None
    if isinstance(match.path, Fields) and isinstance(parent, dict):
        for field in match.path.fields:
            parent.pop(field, None)
    elif isinstance(match.path, Index) and isinstance(parent, list):
        # jsonpath-ng 1.7 holds an Index's positions in ``indices``; earlier releases, one in ``index``
        for index in sorted(getattr(match.path, "indices", None) or (match.path.index,), reverse=True):
            del parent[index]
    else:
        raise OverlayError(f"{where}: cannot remove the document root or {match.path}")
