"""The request journal: what clients sent and what the mock answered, bounded for weeks of shared use.

Bounds: at most ``max_entries`` entries and ``max_bytes`` bytes (all projects together); a body is kept up
to ``body_bytes`` (the rest is cut, and the entry says how long it was). When either bound is passed, the
oldest entry of the project that holds the most is dropped, so a noisy project drops its own entries
before anyone else's. Entries are kept as received and made readable (decoded, JSON-safe) once, when
first read; reads filter a project through its own index and return pages (``limit``, ``after``).
The admin API's reads (:meth:`Journal.page`) are bounded by bytes too, and made in slices: between
two slices (``SLICE_ENTRIES`` or ``SLICE_BYTES`` of entries looked at) the event loop serves others.

What is shown is always JSON: a value that JSON cannot carry (NaN, an infinite number, a lone
surrogate) is shown as a marked placeholder. Secret headers (``X-Auth-Token``, ``X-Admin-Token``,
``Authorization``, ``Cookie``, ``Proxy-Authorization``) and body fields (``password``), plus any names
given, are masked as ``***`` in what :meth:`Journal.read` returns unless ``unmasked_bodies`` asks
for bodies as sent (the test double in the test's own process).

:class:`Journal` is the one interface; the store in use gives its implementation (``Store.journal``):
:class:`MemoryJournal` here, ``RedisJournal`` in ``redis_store.py``. Both keep the bounds and show
entries through :class:`JournalFormat`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import heapq
import itertools
import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol
from urllib.parse import parse_qs

from .world import iso

MASKED = "***"
SECRET_HEADERS = frozenset({"x-auth-token", "x-admin-token", "authorization", "cookie", "proxy-authorization"})
SECRET_FIELDS = frozenset({"password", "token"})  # token: authenticateAgent's answer holds the X-Auth-Token
ENTRY_OVERHEAD = 512  # bytes an entry costs beyond what it holds (its dict and fields)
MAX_PAGE = 1000
# A page's read gives the event loop a turn after SLICE_ENTRIES entries or SLICE_BYTES of them (as kept),
# whichever comes first: a small entry costs more per byte (its JSON is parsed, masked and measured).
SLICE_ENTRIES = 16
SLICE_BYTES = 64 * 1024


@dataclass
class JournalPage:
    entries: list[dict[str, Any]]
    next_after: int | None  # the last entry's id when more entries match (a reader's next ``after``), else None


def unshowable(what: str) -> str:
    return f"[not representable in JSON: {what}]"


class Journal(Protocol):
    """What was sent and answered, bounded; every call may wait for the store that keeps it."""

    size: int  # entries kept at most
    secret_headers: frozenset[str]
    secret_fields: frozenset[str]

    async def add(self, entry: dict[str, Any], size: int | None = None) -> None:
        """Keep a raw entry: ``time`` a POSIX timestamp, ``headers`` ASGI pairs, ``query`` and ``body``
        bytes, as received (made readable when first read). ``size``: what it holds, when counted already."""

    async def read(self, project_id: str | None = None, operation: str | None = None, status: int | None = None,
                   since: str | None = None, limit: int | None = None, after: int | None = None,
                   unmasked_bodies: bool = False, unmasked_headers: bool = False) -> list[dict[str, Any]]:
        """Recorded requests, oldest first, that match every filter given (``since``: an ISO time,
        inclusive; ``after``: only entries with a larger id; ``limit``: at most that many)."""

    async def page(self, project_id: str | None = None, operation: str | None = None, status: int | None = None,
                   since: str | None = None, limit: int | None = None, after: int | None = None,
                   max_bytes: int | None = None, unmasked_bodies: bool = False,
                   unmasked_headers: bool = False) -> JournalPage:
        """:meth:`read`'s entries, at most ``limit`` of them and ``max_bytes`` as JSON (but always one,
        however large), read in slices that give the event loop its turn between them."""

    async def remove(self, project_id: str | None = None) -> int:
        """Forget a project's entries (or all); how many there were."""

    async def stats(self) -> dict[str, int]:
        """``{"entries": N, "bytes": N}`` kept, all projects together."""


class JournalFormat:
    """The bounds and masks of a journal, and how its entries are weighed, filtered and shown."""

    def __init__(self, max_entries: int = 1000, max_bytes: int = 16 * 1024 * 1024, body_bytes: int = 64 * 1024,
                 mask: Iterable[str] = ()):
        if max_entries < 1:
            raise ValueError(f"journal size must be at least 1, not {max_entries}")
        self.size, self.max_bytes, self.body_bytes = max_entries, max_bytes, body_bytes
        extra = {name.lower() for name in mask}
        self.secret_headers, self.secret_fields = SECRET_HEADERS | extra, frozenset(SECRET_FIELDS | set(mask))

    def weigh(self, entry: dict[str, Any], raw: bool, size: int | None) -> int:
        """What keeping ``entry`` costs, in bytes, after its body is cut to ``body_bytes``."""
        body = entry.get("body")
        if raw and isinstance(body, (bytes, bytearray)) and len(body) > self.body_bytes:
            entry["body_size"], entry["body"] = len(body), bytes(body[: self.body_bytes])
            size = None
        return ENTRY_OVERHEAD + (size if size is not None else _weight(entry))

    def select(self, candidates: list[Any], operation: str | None = None, status: int | None = None,
               since: str | None = None, limit: int | None = None, after: int | None = None,
               unmasked_bodies: bool = False, unmasked_headers: bool = False,
               load: Callable[[Any], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The entries of ``candidates`` (ordered by id) that match the filters, as :meth:`entries` shows them,
        at once. ``load``: what makes a candidate an entry (candidates are entries without it)."""
        matching = self._matching(candidates, operation, status, since, after, unmasked_bodies, unmasked_headers, load)
        return list(itertools.islice((shown for _, shown in matching if shown is not None), limit))

    async def paged(self, candidates: list[Any], operation: str | None = None, status: int | None = None,
                    since: str | None = None, limit: int | None = None, after: int | None = None,
                    max_bytes: int | None = None, unmasked_bodies: bool = False, unmasked_headers: bool = False,
                    load: Callable[[Any], dict[str, Any]] | None = None,
                    lock: ContextManager[Any] | None = None) -> JournalPage:
        """:meth:`select` as a page (``limit`` entries, ``max_bytes`` of JSON, one entry at least), made in
        slices; ``lock`` is held while a slice is made, never across a turn of the loop."""
        matching = self._matching(candidates, operation, status, since, after, unmasked_bodies, unmasked_headers, load)
        found: list[dict[str, Any]] = []
        size = 2  # "[]"
        while True:
            looked_at = entries = 0
            with lock or contextlib.nullcontext():
                for weight, shown in matching:
                    looked_at += weight
                    entries += 1
                    if shown is not None:
                        cost = len(json.dumps(shown)) + 2 if max_bytes is not None else 0  # ", " before it
                        if found and ((limit is not None and len(found) >= limit)
                                      or (max_bytes is not None and size + cost > max_bytes)):
                            return JournalPage(found, found[-1]["id"])  # a matching entry is left for the next page
                        found.append(shown)
                        size += cost
                    if looked_at >= SLICE_BYTES or entries >= SLICE_ENTRIES:
                        break
                else:
                    return JournalPage(found, None)
            await asyncio.sleep(0)

    def _matching(self, candidates: list[Any], operation: str | None, status: int | None, since: str | None,
                  after: int | None, unmasked_bodies: bool, unmasked_headers: bool,
                  load: Callable[[Any], dict[str, Any]] | None) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """Each candidate after ``after``: what it weighs (as kept), and how it is shown when it matches (else None)."""
        cutoff = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        start = 0
        if after:
            start = bisect.bisect_right(candidates, after, key=(lambda c: c[0]) if load else (lambda e: e["id"]))
        for candidate in itertools.islice(candidates, start, None):
            entry = load(candidate) if load else candidate
            weight = entry.get("_weight") or ENTRY_OVERHEAD
            if entry.get("_gone"):
                continue
            if operation is not None and entry.get("operation") != operation:
                yield weight, None
                continue
            if status is not None and entry.get("status") != status:
                yield weight, None
                continue
            readable = _readable(entry)
            if cutoff is not None and datetime.fromisoformat(readable["time"].replace("Z", "+00:00")) < cutoff:
                yield weight, None
            elif unmasked_headers and unmasked_bodies:
                yield weight, {k: v for k, v in readable.items() if not k.startswith("_")}
            else:
                yield weight, self._shown(readable, unmasked_bodies)

    def _shown(self, entry: dict[str, Any], unmasked_bodies: bool) -> dict[str, Any]:
        shown = {k: v for k, v in entry.items() if not k.startswith("_")}
        shown["headers"] = self._masked_headers(entry.get("headers") or {})
        secret = self.secret_fields | self.secret_headers
        shown["query"] = {k: ([MASKED] * len(v) if k.lower() in secret or k in secret else v)
                          for k, v in (entry.get("query") or {}).items()}
        if not unmasked_bodies:
            shown["body"] = _mask_fields(entry.get("body"), self.secret_fields)
        if entry.get("response"):
            response = shown["response"] = dict(entry["response"])
            response["headers"] = self._masked_headers(response["headers"])
            if not unmasked_bodies:
                response["body"] = _mask_fields(response["body"], self.secret_fields)
        return shown

    def _masked_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: (MASKED if (k in self.secret_headers or k == "set-cookie") and v else v) for k, v in headers.items()}


class MemoryJournal(JournalFormat):
    """The journal in this process: entries by id, and per project for the fair eviction."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._order: list[dict[str, Any]] = []  # by id; dropped entries stay until compacted (marked "_gone")
        self._gone = 0
        self._projects: dict[str | None, deque[dict[str, Any]]] = {}
        self._weights: dict[str | None, int] = {}
        self._heaviest: list[tuple[int, int, str | None]] = []  # (-weight, tie, project), refreshed lazily
        self._tie = itertools.count()
        self._count = self._bytes = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # ---- writing (the request path)
    async def add(self, entry: dict[str, Any], size: int | None = None) -> None:
        self.record(entry, raw=True, size=size)

    def record(self, entry: dict[str, Any], raw: bool = False, size: int | None = None) -> dict[str, Any]:
        """:meth:`add`, at once; an entry that is not ``raw`` is readable already."""
        weight = self.weigh(entry, raw, size)
        with self._lock:
            entry["id"] = next(self._ids)
            entry["_weight"] = weight
            if raw:
                entry["_raw"] = True
            project = entry.get("project_id")
            self._order.append(entry)
            self._projects.setdefault(project, deque()).append(entry)
            self._weights[project] = self._weights.get(project, 0) + weight
            if len(self._projects) == 2 and len(self._projects[project]) == 1:
                # A second project: pushes stopped while one was alone, so index both afresh.
                self._heaviest = [(-w, next(self._tie), p) for p, w in self._weights.items()]
                heapq.heapify(self._heaviest)
            elif len(self._projects) > 1:  # with one project, it is the heaviest: no heap needed
                heapq.heappush(self._heaviest, (-self._weights[project], next(self._tie), project))
            self._count += 1
            self._bytes += weight
            while self._count > self.size or (self._bytes > self.max_bytes and self._count > 1):
                self._drop_from_heaviest()
            if self._gone > 64 and self._gone * 2 > len(self._order):
                self._order = [e for e in self._order if not e.get("_gone")]
                self._gone = 0
            if len(self._heaviest) > 4 * len(self._projects) + 64:
                self._heaviest = [(-w, next(self._tie), p) for p, w in self._weights.items()]
                heapq.heapify(self._heaviest)
        return entry

    def _drop_from_heaviest(self) -> None:
        if len(self._projects) == 1:
            project = next(iter(self._projects))
        else:
            while True:
                if not self._heaviest:  # pushes stop while one project is alone: index them all again
                    self._heaviest = [(-w, next(self._tie), p) for p, w in self._weights.items()]
                    heapq.heapify(self._heaviest)
                weight, _, project = heapq.heappop(self._heaviest)
                if self._weights.get(project) == -weight:
                    break
        old = self._projects[project].popleft()
        old["_gone"] = True
        self._gone += 1
        self._count -= 1
        self._bytes -= old["_weight"]
        self._weights[project] -= old["_weight"]
        if self._projects[project]:
            if len(self._projects) > 1:
                heapq.heappush(self._heaviest, (-self._weights[project], next(self._tie), project))
        else:
            del self._projects[project], self._weights[project]

    # ---- reading (admin API, test double)
    async def read(self, project_id: str | None = None, operation: str | None = None, status: int | None = None,
                   since: str | None = None, limit: int | None = None, after: int | None = None,
                   unmasked_bodies: bool = False, unmasked_headers: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            if project_id is not None:
                candidates: list[dict[str, Any]] = list(self._projects.get(project_id, ()))
            else:
                candidates = self._order
            return self.select(candidates, operation, status, since, limit, after, unmasked_bodies, unmasked_headers)

    async def page(self, project_id: str | None = None, **filters: Any) -> JournalPage:
        with self._lock:
            candidates = list(self._projects.get(project_id, ())) if project_id is not None else self._order
        # Records go on between slices: appended to self._order (read on, with larger ids) or, once it is
        # compacted, to a new list (this read keeps the one it started with).
        return await self.paged(candidates, lock=self._lock, **filters)

    async def remove(self, project_id: str | None = None) -> int:
        with self._lock:
            if project_id is None:  # everything (ids go on: a reader's `after` stays valid)
                deleted = self._count
                self._order, self._projects, self._weights, self._heaviest = [], {}, {}, []
                self._count = self._bytes = self._gone = 0
                return deleted
            entries = self._projects.pop(project_id, deque())
            for entry in entries:
                entry["_gone"] = True
            self._gone += len(entries)
            self._count -= len(entries)
            self._bytes -= self._weights.pop(project_id, 0)
            return len(entries)

    async def stats(self) -> dict[str, int]:
        return {"entries": self._count, "bytes": self._bytes}


def _weight(entry: dict[str, Any]) -> int:
    headers = entry.get("headers") or []
    size = sum(len(k) + len(v) for k, v in headers) if isinstance(headers, list) else len(json.dumps(headers))
    for body in (entry.get("body"), (entry.get("response") or {}).get("body")):
        size += len(body) if isinstance(body, (bytes, bytearray, str)) else len(json.dumps(body, default=str)) if body else 0
    return size + len(entry.get("path") or "") + len(entry.get("query") or b"")


def _readable(entry: dict[str, Any]) -> dict[str, Any]:
    """A raw entry made readable and JSON-safe, in place (once)."""
    if entry.pop("_raw", False):
        entry["time"] = iso(datetime.fromtimestamp(entry["time"], timezone.utc))
        query = entry["query"].decode("latin-1") if entry["query"] else ""
        entry["query"] = {k: [_safe_text(v) for v in vs] for k, vs in parse_qs(query, keep_blank_values=True).items()}
        entry["headers"] = _headers(entry["headers"])
        entry["body"] = _decoded(entry["body"])
        entry["path"] = _safe_text(entry["path"])
        response = entry.get("response")
        if response is not None:  # what the mock answered: status, headers, body, and the rule that answered
            entry["response"] = {"status": entry["status"], "headers": _headers(response["headers"]),
                                 "body": _decoded(response["body"]), "scenario": entry.get("scenario"),
                                 "rule": entry.get("rule")}
        if entry.get("project_id") is not None:
            entry["project_id"] = _safe_text(entry["project_id"])
    return entry


def _decoded(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return _json_safe(json.loads(body, parse_constant=lambda name: unshowable(name)))
    except (ValueError, RecursionError):
        return _safe_text(body.decode("utf-8", "replace"))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return unshowable(repr(value))
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {_safe_text(k): _json_safe(v) for k, v in value.items()}
    return value


def _safe_text(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # lone surrogates
        return unshowable(text.encode("utf-8", "backslashreplace").decode("ascii", "replace"))


def _headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _mask_fields(body: Any, names: frozenset[str] | set[str]) -> Any:
    """Secret fields masked: in parsed JSON by key, anywhere; in a body kept as text (not JSON, or cut
    short), every ``"name": value`` of those names."""
    if isinstance(body, str):
        return _mask_text(body, names)
    if isinstance(body, dict):
        return {k: (MASKED if k in names and v is not None else _mask_fields(v, names)) for k, v in body.items()}
    if isinstance(body, list):
        return [_mask_fields(v, names) for v in body]
    return body


@functools.lru_cache(maxsize=32)
def _secret_key(names: frozenset[str]) -> re.Pattern[str]:
    return re.compile(rf'"(?:{"|".join(re.escape(n) for n in sorted(names))})"\s*:\s*')


def _mask_text(text: str, names: frozenset[str]) -> str:
    """Each ``"name": value`` of a secret name masked in text that is not JSON: a string to its closing
    quote, a number or word to its end, an object or array and everything after it (it cannot be
    told apart from the rest)."""
    out, position = [], 0
    for found in _secret_key(names).finditer(text):
        if found.start() < position:
            continue
        out.append(text[position:found.end()])
        rest = text[found.end():]
        if rest.startswith('"'):
            end = re.match(r'"(?:[^"\\]|\\.)*"?', rest).end()
        elif rest[:1] in ("{", "["):
            end = len(rest)
        else:
            end = re.match(r'[^,}\]\s]*', rest).end()
        out.append(f'"{MASKED}"')
        position = found.end() + end
    out.append(text[position:])
    return "".join(out)
