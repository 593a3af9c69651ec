"""Read one operation page of the Cloud Backup API reference (reStructuredText).

Two formats exist: the older one generated from WADL (flat parameter tables, empty
type columns, no request body example) and the newer one (dotted parameter names,
``*(Required)*`` markers, JSON examples). Both are parsed with docutils into a
:class:`Page`; nothing here knows about OpenAPI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.utils import SystemMessage

_DOCUTILS_SETTINGS = {
    "doctitle_xform": False,
    "report_level": 5,
    "halt_level": 4,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "input_encoding": "utf-8",
}
_METHOD_PATH = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(/\S*)$")
_REQUEST_LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)(?:\s+HTTP/\d(?:\.\d)?)?$")
_STATUS_LINE = re.compile(r"^(\d{3})(?:\s+\((.*)\))?\s*$")
_HEADER_LINE = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")
_CODE_IN_PROSE = re.compile(r"\b([1-5]\d\d)\b(?:\s*\(([A-Za-z ]+)\))?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class PageError(ValueError):
    """A page that cannot be parsed: names the file, the line and the reason."""

    def __init__(self, source: str, line: int | None, reason: str):
        self.source, self.line, self.reason = source, line, reason
        super().__init__(f"{source}{f':{line}' if line else ''}: {reason}")


@dataclass
class Param:
    name: str
    type: str
    description: str
    required: bool
    line: int | None = None


@dataclass
class Example:
    title: str
    line: int | None
    method: str | None = None
    url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False

    @property
    def is_request(self) -> bool:
        return self.method is not None


@dataclass
class ResponseCode:
    code: int
    name: str
    description: str


@dataclass
class Page:
    source: str
    title: str
    method: str
    path: str
    description: list[str]
    conditions: list[tuple[int, str]]
    response_codes: list[ResponseCode]
    uri_params: list[Param]
    request_params: list[Param]
    response_params: list[Param]
    examples: list[Example]
    accepts_body: bool = True

    @property
    def request_example(self) -> Example | None:
        return next((e for e in self.examples if e.is_request), None)

    @property
    def response_examples(self) -> list[Example]:
        return [e for e in self.examples if e.status is not None]


def parse_page(path: str | Path) -> Page:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(str(path), None, f"not a UTF-8 text file (byte {exc.start}); give a reference page (.rst)") from None
    except OSError as exc:
        raise PageError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    return parse_text(text, str(path))


def parse_text(text: str, source: str = "<page>") -> Page:
    try:
        doc = publish_doctree(text, source_path=source, settings_overrides=_DOCUTILS_SETTINGS)
    except SystemMessage as exc:
        raise PageError(source, _message_line(exc), f"reStructuredText error: {exc}") from None
    # Informational messages (e.g. a lone "\\" read as a possible title overline) are not content.
    for message in list(doc.findall(nodes.system_message)):
        message.parent.remove(message)
    return _PageReader(doc, source).read()


def _message_line(exc: SystemMessage) -> int | None:
    match = re.search(r":(\d+):", str(exc))
    return int(match.group(1)) if match else None


def _text(node: nodes.Node) -> str:
    return " ".join(node.astext().split())


def _line(node: nodes.Node) -> int | None:
    """The source line of ``node``: a section's title line, a literal block's first line."""
    if isinstance(node, nodes.section) and node.children and isinstance(node[0], nodes.title):
        node = node[0]
    if isinstance(node, nodes.title) and node.line:
        return node.line - 1  # docutils reports a title's underline
    if isinstance(node, nodes.literal_block) and node.line:
        return node.line - len(node.astext().splitlines()) + 1  # docutils reports the last line
    while node is not None:
        if getattr(node, "line", None):
            return node.line
        node = node.parent
    return None


class _PageReader:
    def __init__(self, doc: nodes.document, source: str):
        self.doc, self.source = doc, source

    def fail(self, node: nodes.Node | None, reason: str) -> PageError:
        return PageError(self.source, _line(node) if node is not None else None, reason)

    def read(self) -> Page:
        section = next(iter(self.doc.findall(nodes.section)), None)
        if section is None:
            raise self.fail(None, "no section title: an operation page starts with a titled section")
        title = _text(section[0])
        method, path, endpoint = self._endpoint(section)
        description, conditions, accepts_body = self._prose(section, endpoint)
        codes: list[ResponseCode] = []
        uri: list[Param] = []
        req: list[Param] = []
        resp: list[Param] = []
        for table in section.findall(nodes.table):
            head_cells = [_text(e) for e in next(table.findall(nodes.thead)).findall(nodes.entry)]
            if len(head_cells) != 3:
                raise self.fail(table, f"expected a three-column table, found columns {head_cells}")
            rows = [[e for e in row.findall(nodes.entry)] for row in next(table.findall(nodes.tbody)).findall(nodes.row)]
            if head_cells[0].lower().startswith("response code"):
                codes.extend(self._codes(rows))
            elif head_cells[0].lower() == "name":
                params = self._params(rows)
                where = self._subsection(table)
                if params and params[0].name.startswith("{"):
                    uri.extend(params)
                elif where == "response":
                    resp.extend(params)
                else:
                    req.extend(params)
            else:
                raise self.fail(table, f"unknown table with header {head_cells} (expected 'Response code' or 'Name')")
        if not codes:
            raise self.fail(section, "no response code table")
        return Page(
            source=self.source, title=title, method=method, path=path, description=description,
            conditions=conditions, response_codes=codes, uri_params=uri, request_params=req,
            response_params=resp, examples=self._examples(section, endpoint), accepts_body=accepts_body,
        )

    def _endpoint(self, section: nodes.section) -> tuple[str, str, nodes.Node]:
        for block in section.findall(nodes.literal_block):
            match = _METHOD_PATH.match(block.astext().strip())
            if match:
                return match.group(1), match.group(2), block
        raise self.fail(section, "no code block with the operation's method and path (e.g. 'POST /v2/{project_id}/agents')")

    def _subsection(self, node: nodes.Node) -> str:
        while node is not None:
            if isinstance(node, nodes.section) and node.parent is not None and isinstance(node.parent, nodes.section):
                return _text(node[0]).lower()
            node = node.parent
        return ""

    def _prose(self, section: nodes.section, endpoint: nodes.Node) -> tuple[list[str], list[tuple[int, str]], bool]:
        """Description paragraphs before the first table, and the error conditions they name."""
        description: list[str] = []
        conditions: list[tuple[int, str]] = []
        accepts_body = True
        for child in section.children[1:]:
            if isinstance(child, (nodes.table, nodes.section)):
                break
            if child is endpoint or isinstance(child, (nodes.target, nodes.comment, nodes.literal_block)):
                continue
            text = _text(child)
            if not text or text.lower().startswith("the following table") or text.lower().startswith("this table shows"):
                continue
            if isinstance(child, nodes.bullet_list):
                for item in child.children:
                    conditions.extend(self._conditions(_text(item)))
                    description.append(f"* {_text(item)}")
                continue
            description.append(text)
            for sentence in _SENTENCE_END.split(text):
                conditions.extend(self._conditions(sentence))
        for para in section.findall(nodes.paragraph):
            if _text(para).lower() == "this operation does not accept a request body.":
                accepts_body = False
        return description, conditions, accepts_body

    @staticmethod
    def _conditions(sentence: str) -> list[tuple[int, str]]:
        return [(int(m.group(1)), sentence) for m in _CODE_IN_PROSE.finditer(sentence) if 400 <= int(m.group(1)) <= 599]

    def _codes(self, rows: list[list[nodes.entry]]) -> list[ResponseCode]:
        codes = []
        for row in rows:
            code = _text(row[0])
            if not code.isdigit() or len(code) != 3:
                raise self.fail(row[0], f"response code {code!r} is not a three-digit HTTP status")
            codes.append(ResponseCode(int(code), _text(row[1]), _text(row[2])))
        return codes

    def _params(self, rows: list[list[nodes.entry]]) -> list[Param]:
        params = []
        for row in rows:
            # Names may be wrapped over lines and partly bold ("host.\ **addresses**.\ " / "**addr**"):
            # the cell's plain text without any whitespace is the dotted name.
            name = "".join(row[0].astext().split())
            if not name:
                raise self.fail(row[0], "parameter row without a name")
            if not re.fullmatch(r"\{?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\}?", name):
                raise self.fail(row[0], f"parameter name {name!r} is not a (dotted) identifier")
            emphasis = [_text(e) for e in row[2].findall(nodes.emphasis)]
            required = "(Required)" in emphasis
            description = _text(row[2]).replace("(Required)", "", 1).strip() if required else _text(row[2])
            params.append(Param(name, _text(row[1]), description, required, _line(row[0])))
        return params

    def _examples(self, section: nodes.section, endpoint: nodes.Node) -> list[Example]:
        examples: list[Example] = []
        current: Example | None = None
        for node in section.findall(lambda n: isinstance(n, (nodes.paragraph, nodes.literal_block))):
            if isinstance(node, nodes.paragraph):
                if node.children and isinstance(node.children[0], nodes.strong) and _text(node).startswith("Example"):
                    current = Example(title=_text(node), line=_line(node))
                    examples.append(current)
                continue
            if node is endpoint or current is None:
                continue
            self._read_block(node, current)
        return examples

    def _read_block(self, block: nodes.literal_block, example: Example) -> None:
        lines = block.astext().strip("\n").splitlines()
        first = lines[0].strip() if lines else ""
        rest = lines
        request = _REQUEST_LINE.match(first)
        status = _STATUS_LINE.match(first)
        if request or status:
            if request:
                example.method, example.url = request.group(1), request.group(2)
            else:
                example.status = int(status.group(1))
            rest = lines[1:]
            while rest and rest[0].strip():
                header = _HEADER_LINE.match(rest[0].strip())
                if not header:
                    raise self.fail(block, f"example header line {rest[0].strip()!r} is not 'Name: value'")
                example.headers[header.group(1)] = header.group(2).strip()
                rest = rest[1:]
        body = "\n".join(rest).strip()
        if not body:
            return
        if example.has_body:
            raise self.fail(block, f"example {example.title!r} has two bodies")
        try:
            example.body = json.loads(body)
        except json.JSONDecodeError as exc:
            offset = len(lines) - len(rest)
            line = (_line(block) or 1) + offset + exc.lineno - 1
            raise PageError(self.source, line, f"example {example.title!r}: body is not valid JSON ({exc.msg})") from None
        example.has_body = True
