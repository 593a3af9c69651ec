"""Turn a parsed reference :class:`~.docs_page.Page` into an OpenAPI 3.0.3 ``paths`` entry.

Only what the page says goes in. What the page leaves vague (formats, nullability, the
error schema, security) is added afterwards by the overlay (``spec/overlay.yaml``).
Where the page contradicts itself, the example wins over the table, because the
example is what real clients send; the table's word is kept in ``x-docs-type``.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from .docs_page import Example, Page, Param

_TYPES = {
    "string": "string", "xsd:string": "string", "boolean": "boolean", "xsd:boolean": "boolean",
    "integer": "integer", "int": "integer", "xsd:int": "integer", "xsd:integer": "integer",
    "number": "number", "xsd:double": "number", "object": "object", "array": "array",
}
_STOP_WORDS = {"a", "an", "the", "for", "to", "of", "s", "about", "on", "request"}
_LITERAL_EXAMPLE = re.compile(r"For example, (.+?)\.?$")
_PROSE_HEADERS = {"Retry-After": re.compile(r"\bwith the Retry-After header\b")}
# The formats an example value shows: a UUID, an RFC 3339 date and time.
_FORMATS = {
    "uuid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    "date-time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.I),
}


def operation_id(title: str) -> str:
    """A readable camelCase id from the page title ("Authenticate An Agent" -> "authenticateAgent")."""
    words = [w for w in re.findall(r"[A-Za-z]+", title.replace("'s", "")) if w.lower() not in _STOP_WORDS]
    if not words:
        raise ValueError(f"cannot derive an operationId from title {title!r}")
    return words[0].lower() + "".join(w.capitalize() for w in words[1:])


def page_to_path_item(page: Page) -> dict[str, Any]:
    """The ``{path: {method: operation}}`` entry the page documents."""
    return {page.path: {page.method.lower(): _operation(page)}}


def _operation(page: Page) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id(page.title),
        "summary": page.title,
        "description": "\n\n".join(page.description),
        "x-docs-source": page.source.rsplit("/", 1)[-1],
    }
    params = ([_parameter(p, "path") for p in page.uri_params] + [_parameter(p, "query") for p in page.query_params]
              + [_parameter(p, "header") for p in page.header_params])
    if params:
        op["parameters"] = params
    request = page.request_example
    if page.request_params or (request is not None and request.has_body):
        op["requestBody"] = _request_body(page, request)
    if request is not None:
        op["x-docs-example-request"] = {
            "method": request.method, "url": request.url, "headers": request.headers,
            **({"body": request.body} if request.has_body else {}),
        }
    op["responses"] = _responses(page) or {
        "default": {"description": "The page documents no response codes and shows no response example."}}
    return op


def _parameter(param: Param, location: str) -> dict[str, Any]:
    kind = _TYPES.get(param.type.lower(), "string")
    out: dict[str, Any] = {
        "name": param.name.strip("{}"), "in": location, "required": location == "path" or param.required,
        "description": param.description, "schema": {"type": kind},
    }
    match = _LITERAL_EXAMPLE.search(param.description)
    if match:
        # A literal wrapped over table lines ("8f135b4f-7a69-4b8a- 947f-...") is one value.
        out["example"] = _typed("".join(match.group(1).split()).strip("`"), kind)
        out["description"] = param.description[: match.start()].strip()
        shown = _format_of([out["example"]])
        if kind == "string" and shown:
            out["schema"]["format"] = shown
    return out


def _format_of(values: list[Any]) -> str | None:
    """The format every one of the example's values (nulls aside) shows, if any."""
    shown = [v for v in values if v is not None]
    if not shown or not all(isinstance(v, str) for v in shown):
        return None
    return next((name for name, pattern in _FORMATS.items() if all(pattern.fullmatch(v) for v in shown)), None)


def _typed(text: str, kind: str) -> Any:
    """An example value from prose, as its parameter's type (``100`` for an integer)."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


# RFC 6902: a JSON Patch document is an array of operations.
JSON_PATCH = "application/json-patch+json"
JSON_PATCH_SCHEMA = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["op", "path"], "properties": {
        "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": {"type": "string"}, "from": {"type": "string"}, "value": {}}},
}


def _request_body(page: Page, example: Example | None) -> dict[str, Any]:
    body = example.body if example is not None and example.has_body else None
    media_type = next((v for k, v in (example.headers.items() if example else ()) if k.lower() == "content-type"), "")
    if JSON_PATCH in media_type.lower():
        # A JSON Patch body: the table lists the fields it may change.
        media: dict[str, Any] = {"schema": JSON_PATCH_SCHEMA}
        if body is not None:
            media["example"] = body
        patchable = [p.name for p in page.request_params]
        # The members the example patches: what json_patch.precise turns into the body's exact schema.
        members = sorted({op["path"] for op in body if isinstance(op, dict) and str(op.get("path", "")).startswith("/")}
                         ) if isinstance(body, list) else []
        return {"required": True, "content": {JSON_PATCH: media},
                **({"x-docs-patchable": patchable} if patchable else {}),
                **({"x-patchable": members} if members else {})}
    schema = schema_from_params(page.request_params, body)
    media = {"schema": schema}
    if body is not None:
        media["example"] = body
    return {"required": True, "content": {"application/json": media}}


def _responses(page: Page) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    codes = {c.code: c for c in page.response_codes}
    for ex in page.response_examples:
        codes.setdefault(ex.status, None)
    for code in sorted(codes):
        documented = codes[code]
        reason = (documented.name if documented and documented.name else HTTPStatus(code).phrase)
        lines = [reason + (f": {documented.description}" if documented and documented.description else ".")]
        lines += [sentence for c, sentence in page.conditions if c == code]
        response: dict[str, Any] = {"description": "\n\n".join(lines)}
        example = next((e for e in page.response_examples if e.status == code), None)
        headers = _headers(code, example, page)
        if headers:
            response["headers"] = headers
        content = _content(code, example, page)
        if content:
            response["content"] = content
        responses[str(code)] = response
    return responses


def _headers(code: int, example: Example | None, page: Page) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for name, value in (example.headers.items() if example else ()):
        if name.lower() == "content-type":
            continue  # carried by the media type of ``content``
        headers[name] = {"schema": {"type": "string"}, "example": value}
    for name, pattern in _PROSE_HEADERS.items():
        for c, sentence in page.conditions:
            if c == code and pattern.search(sentence.replace("``", "")):
                headers.setdefault(name, {"schema": {"type": "string"}, "description": sentence})
    return headers


def _content(code: int, example: Example | None, page: Page) -> dict[str, Any]:
    media_type = "application/json"
    if example is not None:
        media_type = next((v for k, v in example.headers.items() if k.lower() == "content-type"), media_type)
    if 200 <= code < 300 and page.response_params:
        media: dict[str, Any] = {"schema": schema_from_params(page.response_params, example.body if example else None)}
        if example is not None and example.has_body:
            media["example"] = example.body
        return {media_type: media}
    if example is not None and example.has_body:
        return {media_type: {"schema": _schema_of_value(example.body), "example": example.body}}
    return {}


def schema_from_params(params: list[Param], example: Any = None) -> dict[str, Any]:
    """An object schema from a parameter table, reconciled with the page's example.

    Dotted names give nesting. A flat table (the older format: no dots, names repeated
    at several levels) is placed by walking the example in document order; a row that the
    example does not place (or every row, without an example) goes at the top level, unless
    a row there already has its name: such rows are listed in ``x-docs-unplaced`` instead of
    being guessed.
    """
    root: dict[str, Any] = {"type": "object", "properties": {}}
    flat = not any("." in p.name for p in params)
    if flat and isinstance(example, dict):
        paths = _place_flat_rows(params, example)
    else:
        paths = [tuple(p.name.split(".")) for p in params]
    unplaced: list[str] = []
    for param, path in zip(params, paths):
        if flat and (path is None or example is None):
            path = (param.name,)
            if _seen(root, path):
                unplaced.append(param.name)
                continue
        _add_property(root, path, param, example)
    if unplaced:
        root["x-docs-unplaced"] = unplaced
        root["description"] = (
            "The reference table is flat and repeats names that belong to nested objects; "
            f"these rows could not be placed: {', '.join(unplaced)}."
        )
    return root


def _seen(root: dict[str, Any], path: tuple[str, ...]) -> bool:
    return path[-1] in root["properties"]


def _place_flat_rows(params: list[Param], example: dict[str, Any]) -> list[tuple[str, ...] | None]:
    order = list(_walk(example, ()))
    placed: list[tuple[str, ...] | None] = []
    position = 0
    for param in params:
        hit = next((i for i in range(position, len(order)) if order[i][-1] == param.name), None)
        placed.append(order[hit] if hit is not None else None)
        if hit is not None:
            position = hit + 1
    return placed


def _walk(value: Any, path: tuple[str, ...]):
    if isinstance(value, list):
        value = value[0] if value and isinstance(value[0], dict) else {}
    if isinstance(value, dict):
        for key, child in value.items():
            yield path + (key,)
            yield from _walk(child, path + (key,))


def _example_at(example: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    value = example
    for key in path:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _values_at(example: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value the example has at ``path``, in each item of the arrays on the way."""
    values = [example]
    for key in path:
        items = [item for v in values for item in (v if isinstance(v, list) else [v])]
        values = [item[key] for item in items if isinstance(item, dict) and key in item]
    return values


def _add_property(root: dict[str, Any], path: tuple[str, ...], param: Param, example: Any) -> None:
    node = root
    for depth, key in enumerate(path[:-1]):
        prop = node["properties"].setdefault(key, {"type": "object", "properties": {}})
        found, value = _example_at(example, path[: depth + 1])
        if prop.get("type") != "array" and found and isinstance(value, list):
            _to_array(prop)
        if prop.get("type") == "array":
            prop = prop["items"]
        elif prop.get("type") != "object":
            prop.clear()
            prop.update({"type": "object", "properties": {}})
        prop.setdefault("properties", {})
        node = prop
    name = path[-1]
    schema = node["properties"].setdefault(name, {})
    declared = _TYPES.get(param.type.lower())
    found, value = _example_at(example, path)
    actual = _json_type(value) if found and value is not None else None
    if found and value is None:
        schema["nullable"] = True  # the example shows null: it wins over the table
    kind = actual or declared
    if kind == "object":
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
    elif kind == "array":
        _to_array(schema, value if found else None)
    elif kind:
        schema["type"] = kind
    if param.type and actual and declared != actual:
        schema["x-docs-type"] = param.type
    if param.description:
        schema["description"] = param.description
    shown = _format_of(_values_at(example, path)) if schema.get("type") == "string" else None
    if shown:
        schema["format"] = shown
    if param.required:
        required = node.setdefault("required", [])
        if name not in required:
            required.append(name)


def _to_array(schema: dict[str, Any], example: Any = None) -> None:
    """``schema`` as an array: of the plain values its example holds, else of objects."""
    if isinstance(example, list) and example and not isinstance(example[0], (dict, list)) and example[0] is not None:
        schema.pop("properties", None)
        items = _schema_of_value(example[0])
        shown = _format_of(example) if items.get("type") == "string" else None
        if shown:
            items["format"] = shown
        schema.update({"type": "array", "items": items})
        return
    items = {"type": "object", "properties": schema.pop("properties", {})}
    if "required" in schema:
        items["required"] = schema.pop("required")
    schema.update({"type": "array", "items": items})


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _schema_of_value(value: Any) -> dict[str, Any]:
    """A schema for an example body that no table describes (e.g. a 403 message)."""
    kind = _json_type(value) if value is not None else None
    if kind == "object":
        return {"type": "object", "properties": {k: _schema_of_value(v) for k, v in value.items()}}
    if kind == "array":
        return {"type": "array", "items": _schema_of_value(value[0]) if value else {}}
    shown = _format_of([value]) if kind == "string" else None
    return ({"type": kind, "format": shown} if shown else {"type": kind}) if kind else {"nullable": True}
