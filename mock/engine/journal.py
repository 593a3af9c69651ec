"""The request journal: what clients sent and what the mock answered, in a bounded ring buffer."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from .world import iso

MASKED = "***"
SECRET_HEADERS = {"x-auth-token"}


class Journal:
    def __init__(self, size: int = 1000):
        if size < 1:
            raise ValueError(f"journal size must be at least 1, not {size}")
        self.size = size
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any], raw: bool = False) -> dict[str, Any]:
        """Keep ``entry``. ``raw``: its ``time`` is a POSIX timestamp, its ``headers`` ASGI pairs, its
        ``query`` and ``body`` bytes, as received; they are formatted, masked and decoded when the entry is
        first read, not on the request's path."""
        with self._lock:
            entry["id"] = next(self._ids)
            if raw:
                entry["_raw"] = True
            self._entries.append(entry)
        return entry

    def entries(self, project_id: str | None = None, operation: str | None = None, status: int | None = None,
                since: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests, oldest first, that match every filter given (``since``: an ISO time, inclusive)."""
        cutoff = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        with self._lock:
            entries = [_readable(e) for e in self._entries]
        return [e for e in entries
                if (project_id is None or e["project_id"] == project_id)
                and (operation is None or e["operation"] == operation)
                and (status is None or e["status"] == status)
                and (cutoff is None or datetime.fromisoformat(e["time"].replace("Z", "+00:00")) >= cutoff)]

    def clear(self, project_id: str | None = None) -> int:
        with self._lock:
            before = len(self._entries)
            kept = [e for e in self._entries if project_id is not None and e["project_id"] != project_id]
            self._entries.clear()
            self._entries.extend(kept)
            return before - len(kept)

    def __len__(self) -> int:
        return len(self._entries)


def _readable(entry: dict[str, Any]) -> dict[str, Any]:
    """A raw entry made readable, in place (once)."""
    if entry.pop("_raw", False):
        entry["time"] = iso(datetime.fromtimestamp(entry["time"], timezone.utc))
        entry["query"] = parse_qs(entry["query"].decode("latin-1"), keep_blank_values=True) if entry["query"] else {}
        entry["headers"] = masked_headers(entry["headers"])
        entry["body"] = _decoded(entry["body"])
    return entry


def _decoded(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")


def masked_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = MASKED if name in SECRET_HEADERS and value else (f"{out[name]}, {value}" if name in out else value)
    return out
