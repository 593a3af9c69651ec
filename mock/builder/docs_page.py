"""Read one operation page of the Cloud Backup API reference (reStructuredText).

Two formats exist: the older one generated from WADL (flat parameter tables, empty
type columns, no request body example) and the newer one (dotted parameter names,
``*(Required)*`` markers, JSON examples). Both are parsed with docutils into a
:class:`Page`; nothing here knows about OpenAPI.

A page is refused (:class:`PageError`) only when it has no method and path. Anything else
that cannot be read (a table of unknown shape, a row without a name, a status that is not
three digits, an example body that is not JSON) is left out and named in ``Page.warnings``
(file, line, what was skipped); example blocks that are not JSON are kept for what they
are: request or status lines and headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import roles
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
_OR_LINE = re.compile(r"^\s*or\s*$", re.I)
_DOTTED_NAME = re.compile(r"\{?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\}?")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_TABLE_INTRO = re.compile(r"\b(header|query|uri|path|body)\s+parameters?\b(?:\s+for\s+the\s+(request|response))?", re.I)
_CODE_IN_PROSE = re.compile(r"\b([1-5]\d\d)\b(?:\s*\(([A-Za-z ]+)\))?")
_NO_REQUEST_BODY = re.compile(r"\bdoes not accept a request body\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TITLED_TARGET = re.compile(r"^(.*?)\s*<[^<>]*>$", re.S)
# Sphinx's cross-reference roles: the pages link to one another with them (``:ref:`Title <label>```).
_SPHINX_ROLES = ("ref", "doc", "term", "any", "numref", "download")


def _cross_reference(name, rawtext, text, lineno, inliner, options=None, content=None):
    """A Sphinx cross-reference reads as its title (``Title <label>``), or as its label without one."""
    titled = _TITLED_TARGET.match(text)
    return [nodes.inline(rawtext, titled.group(1) if titled and titled.group(1) else text)], []


for _role in _SPHINX_ROLES:
    roles.register_local_role(_role, _cross_reference)


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
    query_params: list[Param] = field(default_factory=list)
    header_params: list[Param] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "file:line: what was skipped"

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
    # Informational messages (e.g. a lone "\\" read as a possible title overline) are not content;
    # errors (a malformed table) mean docutils left something out: they are warnings of the page.
    problems = []
    for message in list(doc.findall(nodes.system_message)):
        if message.get("level", 0) >= 3:
            where = f":{message['line']}" if message.get("line") else ""
            detail = " ".join(message.children[0].astext().split()) if message.children else "unreadable markup"
            problems.append(f"{source}{where}: skipped what docutils could not read: {detail}")
        message.parent.remove(message)
    page = _PageReader(doc, source, text).read()
    page.warnings[:0] = problems
    return page


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
    def __init__(self, doc: nodes.document, source: str, text: str = ""):
        self.doc, self.source, self.lines = doc, source, text.splitlines()

    def _entry_line(self, entry: nodes.entry) -> int | None:
        """The source line of a table cell: docutils gives cells no line of their own, only their table's."""
        estimate = _line(entry) or 1
        words = entry.astext().split()
        if not words:
            return estimate
        for number in range(estimate, len(self.lines) + 1):
            if "|" in self.lines[number - 1] and words[0] in self.lines[number - 1]:
                return number
        return estimate

    def _block_start(self, block: nodes.literal_block) -> int:
        """The source line of a code block's first line: docutils' own line numbers drift where a
        block holds blank or whitespace-only lines."""
        estimate = _line(block) or 1
        content = block.astext().strip("\n").splitlines()
        first = content[0].strip() if content else ""
        candidates = [i + 1 for i, line in enumerate(self.lines) if first and line.strip() == first]
        return min(candidates, key=lambda n: abs(n - estimate)) if candidates else estimate

    def fail(self, node: nodes.Node | None, reason: str) -> PageError:
        return PageError(self.source, _line(node) if node is not None else None, reason)

    def skip(self, node: nodes.Node | None, what: str) -> None:
        line = self._entry_line(node) if isinstance(node, nodes.entry) else (_line(node) if node is not None else None)
        self.warnings.append(f"{self.source}{f':{line}' if line else ''}: skipped {what}")

    def read(self) -> Page:
        self.warnings: list[str] = []
        section = next(iter(self.doc.findall(nodes.section)), None)
        if section is None:
            raise self.fail(None, "no section title: an operation page starts with a titled section")
        title = _text(section[0])
        method, path, endpoint = self._endpoint(section)
        description, conditions, accepts_body = self._prose(section, endpoint)
        codes: list[ResponseCode] = []
        found: dict[str, list[Param]] = {"uri": [], "query": [], "header": [], "request": [], "response": []}
        for table in section.findall(nodes.table):
            heads = list(table.findall(nodes.thead))
            head_cells = [_text(e) for e in heads[0].findall(nodes.entry)] if heads else []
            if len(head_cells) != 3:
                self.skip(table, f"a table with columns {head_cells} (expected three: 'Response code' or 'Name', ...)")
                continue
            rows = [[e for e in row.findall(nodes.entry)] for body in table.findall(nodes.tbody)
                    for row in body.findall(nodes.row)]
            if head_cells[0].lower().startswith("response code"):
                codes.extend(self._codes(rows))
            elif head_cells[0].lower() == "name":
                where = self._table_kind(table)
                if where == "request" and not accepts_body:
                    self.skip(table, "a body parameter table: the page says the operation accepts no request body")
                    continue
                found[where].extend(self._params(rows, headers=where == "header"))
            else:
                self.skip(table, f"a table with header {head_cells} (expected 'Response code' or 'Name')")
        return Page(
            source=self.source, title=title, method=method, path=path, description=description,
            conditions=conditions, response_codes=codes, uri_params=found["uri"], request_params=found["request"],
            response_params=found["response"], examples=self._examples(section, endpoint), accepts_body=accepts_body,
            query_params=found["query"], header_params=found["header"], warnings=self.warnings,
        )

    def _table_kind(self, table: nodes.table) -> str:
        """Which parameters a Name table lists: the sentence before it says ("the header parameters
        for the request"), else its first row (``{name}``: URI) and its subsection (Response)."""
        text = ""
        siblings = table.parent.children if table.parent is not None else []
        for sibling in reversed(siblings[: siblings.index(table)] if table in siblings else []):
            if isinstance(sibling, nodes.paragraph):
                text = _text(sibling)
                break
            if isinstance(sibling, (nodes.table, nodes.section, nodes.literal_block)):
                break
        said = _TABLE_INTRO.search(text)
        if said:
            kind, side = said.group(1).lower(), (said.group(2) or "").lower()
            if kind in ("uri", "path"):
                return "uri"
            if kind in ("header", "query"):
                return kind
            return "response" if side == "response" else "request"
        names = [e for e in table.findall(nodes.entry) if not isinstance(e.parent.parent, nodes.thead)]
        if names and "".join(names[0].astext().split()).startswith("{"):
            return "uri"
        return "response" if self._subsection(table) == "response" else "request"

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
            if _NO_REQUEST_BODY.search(_text(para)):
                accepts_body = False
        return description, conditions, accepts_body

    @staticmethod
    def _conditions(sentence: str) -> list[tuple[int, str]]:
        return [(int(m.group(1)), sentence) for m in _CODE_IN_PROSE.finditer(sentence) if 400 <= int(m.group(1)) <= 599]

    def _codes(self, rows: list[list[nodes.entry]]) -> list[ResponseCode]:
        codes = []
        for row in rows:
            code = _text(row[0])
            if not code.isdigit() or len(code) != 3 or not 100 <= int(code) <= 599:
                self.skip(row[0], f"response code {code!r}: not a three-digit HTTP status")
                continue
            codes.append(ResponseCode(int(code), _text(row[1]), _text(row[2]) if len(row) > 2 else ""))
        return codes

    def _params(self, rows: list[list[nodes.entry]], headers: bool = False) -> list[Param]:
        params = []
        for row in rows:
            # Names may be wrapped over lines and partly bold ("host.\ **addresses**.\ " / "**addr**"):
            # the cell's plain text without any whitespace is the dotted name. Bold that starts inside a
            # word ("host.addr**esses.**addr") is not markup to docutils and stays in the text: a name
            # never holds "*", so every "*" in it is left out.
            name = "".join(row[0].astext().split()).replace("*", "")
            if not name:
                self.skip(row[0], "a parameter row without a name")
                continue
            if not (_HEADER_NAME if headers else _DOTTED_NAME).fullmatch(name):
                kind = "a header name" if headers else "a (dotted) identifier"
                self.skip(row[0], f"parameter {name!r}: not {kind}")
                continue
            emphasis = [_text(e) for cell in row[1:3] for e in cell.findall(nodes.emphasis)]
            required = "(Required)" in emphasis
            description = _text(row[2]).replace("(Required)", "", 1).strip() if required else _text(row[2])
            kind = _text(row[1]).replace("(Required)", "", 1).strip()
            params.append(Param(name, kind, description, required, self._entry_line(row[0])))
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
            for extra in self._read_block(node, current):
                examples.append(extra)
                current = extra
        return examples

    def _read_block(self, block: nodes.literal_block, example: Example) -> list[Example]:
        """Read a code block into ``example``. A block may hold several messages (``204 ...`` ``or``
        ``404 ...``): each one after the first becomes an example of its own, returned."""
        start = self._block_start(block)
        messages: list[tuple[int, list[str]]] = []  # (first line's offset, lines)
        for offset, line in enumerate(block.astext().strip("\n").splitlines()):
            stripped = line.strip()
            if _OR_LINE.match(stripped):
                messages.append((offset + 1, []))
                continue
            if (_REQUEST_LINE.match(stripped) or _STATUS_LINE.match(stripped)) and messages and any(
                    x.strip() for x in messages[-1][1]):
                messages.append((offset, []))
            if not messages:
                messages.append((offset, []))
            messages[-1][1].append(line)
        extra: list[Example] = []
        for offset, lines in messages:
            if not any(x.strip() for x in lines):
                continue
            while not lines[0].strip():
                lines, offset = lines[1:], offset + 1
            target = example
            if target.method or target.status or target.has_body or target.headers:
                starts = _REQUEST_LINE.match(lines[0].strip()) or _STATUS_LINE.match(lines[0].strip())
                if starts:  # a second message: an example of its own, with the same title
                    target = Example(title=example.title, line=start + offset)
                    extra.append(target)
                    example = target
            self._read_message(lines, target, start + offset)
        return extra

    def _read_message(self, lines: list[str], example: Example, line: int) -> None:
        while lines and not lines[0].strip():
            lines, line = lines[1:], line + 1
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
                    break  # not a header: the body starts here
                example.headers[header.group(1)] = header.group(2).strip()
                rest = rest[1:]
        body = "\n".join(rest).strip()
        if not body:
            return
        body_line = line + (len(lines) - len(rest)) + next(i for i, x in enumerate(rest) if x.strip())
        if example.has_body:
            self.warnings.append(f"{self.source}:{body_line}: skipped a second body of example {example.title!r}")
            return
        try:
            example.body = json.loads(body, strict=False)  # strict=False: control characters inside strings
        except json.JSONDecodeError as exc:
            self.warnings.append(f"{self.source}:{body_line + exc.lineno - 1}: skipped the body of example "
                                 f"{example.title!r}: not JSON ({exc.msg})")
            return
        example.has_body = True
