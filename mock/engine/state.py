"""Where projects' state is kept: in this process (:class:`MemoryStore`, the default) or in Redis
(:mod:`.redis_store`), behind one interface the engine uses.

The engine reads a project's state with :meth:`project`, and changes it only inside
:meth:`transaction`: a function applied to the state as one step. In memory the step runs under the
project's lock. In a shared store it runs on this process's copy and is then written back only if
nobody else wrote the project meanwhile; otherwise the copy is read again and the step runs again.
So a step must do nothing but change the state it is given (and return a value).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Coroutine, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ..config import Limits
from .world import Clock, ProjectWorld, Seed, World

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1  # what a client is told to wait when the shared store cannot be reached


def shown_url(url: str) -> str:
    """The Redis URL without its password, for logs and the health answer."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"
                                            + (f":{parts.port}" if parts.port else "")))


class StoreUnavailable(RuntimeError):
    """The shared store cannot be reached (or answers too slowly): the request is answered 503."""


class MemoryStore:
    """Every project's state in this process, at most ``max_projects``: the least recently used is
    forgotten first, all of it (world, selections, added scenarios, counts)."""

    kind = "memory"

    def __init__(self, seed: Seed, clock: Clock, limits: Limits):
        self.limits = limits
        self.world = World(seed, clock, limits.max_projects, on_forget=self._forgot)
        self._added = 0  # scenarios added at run time, all projects together
        self._lock = threading.Lock()

    async def project(self, project_id: str) -> ProjectWorld:
        return self.world.project(project_id)

    async def peek(self, project_id: str) -> ProjectWorld | None:
        """The project's state if it has any; never makes one."""
        return self.world.peek(project_id)

    async def transaction(self, world: ProjectWorld, step: Callable[[ProjectWorld], T]) -> tuple[ProjectWorld, T]:
        with world.lock:
            try:
                return world, step(world)
            finally:
                world.changed.clear()

    async def reserve_added(self, project_id: str, count: int) -> bool:
        """Count ``count`` more added scenarios (negative: fewer); False when that passes the bound."""
        with self._lock:
            if count > 0 and self._added + count > self.limits.max_added_scenarios_total:
                return False
            self._added += count
            return True

    async def reset(self, project_id: str | None = None) -> None:
        with self._lock:
            if project_id is None:
                self._added = 0
            else:
                world = self.world.peek(project_id)
                self._added -= len(world.added) if world is not None else 0
        self.world.reset(project_id)

    async def health(self) -> dict[str, Any]:
        return {"kind": self.kind, "status": "ok", "projects": len(self.world)}

    async def close(self) -> None:
        pass

    def _forgot(self, world: ProjectWorld) -> None:
        with self._lock:
            self._added -= len(world.added)


def complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits, run here and now: the memory store's operations,
    called from synchronous code (``MockServer``, tests) whether or not an event loop is running."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("this operation waits for a shared store; await it instead")
