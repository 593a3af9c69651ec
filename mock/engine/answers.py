"""The answers the contract documents: an operation's documented success (what answers when no rule
does), ``Prefer: code=NNN[, example=NAME]`` (Prism's convention), and the ``Location`` of what a request
made, on this server."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from ..contract import Contract, path_segment, schema_errors
from .request import Outcome, Request, RequestError
from .samples import sample_body, sample_header

DOCUMENTED = "(documented)"  # the scenario name of an answer no rule gave: the contract's own example
_PREFER_ITEM = re.compile(r"^\s*(code|example|dynamic)\s*=\s*([^\s,;]+)\s*$")


class DocumentedAnswers:
    def __init__(self, contract: Contract):
        self.contract = contract

    def preferred(self, request: Request, prefer: str) -> Outcome | None:
        """Prism's convention: ``Prefer: code=NNN[, example=NAME]`` answers the documented example."""
        wanted: dict[str, str] = {}
        for item in prefer.split(","):
            found = _PREFER_ITEM.match(item)
            if not found:
                raise RequestError(f"Malformed Prefer header {prefer!r}.",
                                   ["expected 'code=NNN', 'example=NAME' or both, separated by commas"])
            wanted[found.group(1)] = found.group(2)
        if "code" not in wanted and "example" not in wanted:
            return None
        op = request.operation
        statuses = op.statuses
        status = None
        if "code" in wanted:
            if not wanted["code"].isdigit() or int(wanted["code"]) not in statuses:
                raise RequestError(f"Prefer: code={wanted['code']} is not documented for {op.operation_id}.",
                                   [f"documented: {', '.join(map(str, statuses))}"])
            status = int(wanted["code"])
        return self.documented(request, status, wanted.get("example"), scenario=f"Prefer: {prefer.strip()}")

    def documented(self, request: Request, status: int | None = None, example: str | None = None,
                   scenario: str = DOCUMENTED) -> Outcome:
        """The answer the contract documents: ``status`` (default: the lowest success, else the lowest
        status documented) with its example body, or the ``example`` of that name, or a schema-valid
        body where the docs have none; headers from their examples, a ``Location`` on this server."""
        op = request.operation
        statuses = op.statuses
        if status is None:
            status = min((s for s in statuses if 200 <= s < 300), default=min(statuses, default=200))
        media = ((op.response(status) or {}).get("content") or {}).get("application/json")
        body, has_body = None, media is not None
        if example is not None:
            named = {**({"default": media["example"]} if media and "example" in media else {}),
                     **{k: v.get("value") for k, v in ((media or {}).get("examples") or {}).items()}}
            if example not in named:
                raise RequestError(f"Prefer: example={example} is not documented for {op.operation_id} {status}.",
                                   [f"documented examples: {', '.join(named) or 'none'}"])
            body = named[example]
        elif media is not None:
            body = media["example"] if "example" in media else sample_body(media.get("schema") or {}, status)
        headers = {}
        for name, spec in op.response_headers(status).items():
            if name.lower() == "location":
                headers[name] = self.location(request, spec.get("example"))
            elif name.lower() != "content-type":
                headers[name] = sample_header(name, spec, request.base_url)
        return Outcome(status, headers, body, has_body, scenario=scenario)

    def location(self, request: Request, documented: Any) -> str:
        """Where what the request made can be read on this server: the item operation of the path
        (``GET <this path>/{id}``) with the request's path values and the documented example's id (a
        new one where the example's does not fit the parameter), else the example's path here."""
        item = self.contract.item_of(request.operation)
        if item is not None:
            name = item.path.rsplit("{", 1)[1].rstrip("}")
            last = urlsplit(str(documented)).path.rstrip("/").rsplit("/", 1)[-1] if documented else ""
            parameter = next((p for p in item.spec.get("parameters", []) if p.get("name") == name), {})
            if not last or schema_errors(parameter.get("schema") or {"type": "string"}, last):
                last = str(uuid.uuid4())
            values = {**request.path_params, "project_id": request.project_id, name: last}
            return request.base_url + fill_path(item.path, values)
        if documented:
            parts = urlsplit(str(documented))
            return request.base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return request.base_url + fill_path(request.operation.path, request.path_params)


def fill_path(template: str, values: dict[str, Any]) -> str:
    """A path template with its parameters filled in, each percent-encoded as one segment."""
    return re.sub(r"\{([^{}/]+)\}", lambda m: path_segment(values.get(m.group(1), "")), template)
