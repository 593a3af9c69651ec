"""Where projects' state is kept: the :class:`Store` interface the engine uses, implemented in this
process (``memory_store.MemoryStore``, the default) and in Redis (``redis_store.RedisStore``).

The engine reads a project's state with :meth:`project`, and changes it only inside
:meth:`transaction`: a function applied to the state as one step. In memory the step runs under the
project's lock. In a shared store it runs on this process's copy and is then written back only if
nobody else wrote the project meanwhile; otherwise the copy is read again and the step runs again.
So a step must do nothing but change the state it is given (and return a value).
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine, Iterable, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .journal import Journal
from .world import ProjectWorld

T = TypeVar("T")
RETRY_AFTER_SECONDS = 1  # what a client is told to wait when the shared store cannot be reached
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}  # --state schemes naming a Redis Cluster


def shown_url(url: str) -> str:
    """The Redis URL without its password, for logs and the health answer."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"
                                            + (f":{parts.port}" if parts.port else "")))


def cluster_seed(url: str) -> str | None:
    """For a Redis Cluster URL (``redis+cluster://HOST:PORT``), the plain URL of its seed node (any
    node: the client learns the others from it); None for a single Redis."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    return f"{plain}{sep}{rest}" if plain and sep else None


class StoreUnavailable(RuntimeError):
    """The shared store cannot be reached (or answers too slowly): the request is answered 503."""


class Store(Protocol):
    """Where every project's state (:class:`ProjectWorld`) and the journal are kept.

    Reading a project never changes it; changing one is :meth:`transaction` only. ``peek`` makes no
    state: a project nobody changed is None there, and the seed's world to :meth:`project`."""

    async def project(self, project_id: str) -> ProjectWorld:
        """The project's current state (the seed's world if it has none)."""

    async def peek(self, project_id: str) -> ProjectWorld | None:
        """The project's state if it has any; never makes one."""

    async def transaction(self, world: ProjectWorld, step: Callable[[ProjectWorld], T]) -> tuple[ProjectWorld, T]:
        """Apply ``step`` to the project's state as one change: its result, and the state it was applied
        to. ``step`` changes only the state it is given and records what it touched (it may run again,
        on newer state, when another process changed the project first)."""

    async def reserve_added(self, project_id: str, count: int) -> bool:
        """Count ``count`` more added scenarios (negative: fewer); False when that passes the bound."""

    async def reset(self, project_id: str | None = None) -> None:
        """Forget a project's state (or every project's)."""

    async def health(self) -> dict[str, Any]:
        """``{"kind", "status": "ok" | "unavailable", ...}``: what a health check shows of the store."""

    def journal(self, mask: Iterable[str]) -> Journal:
        """The journal kept beside the state, with these names masked too."""

    async def close(self) -> None:
        """Let go of what the store holds open."""


def complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits, run here and now: the memory store's operations,
    called from synchronous code (``MockServer``, tests) whether or not an event loop is running."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("this operation waits for a shared store; await it instead")
