"""Every project's state and the journal in this process: the default :class:`Store`."""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, TypeVar

from ..config import Limits
from .journal import MemoryJournal
from .world import Clock, ProjectWorld, Seed, World

T = TypeVar("T")


class MemoryStore:
    """Every project's state in this process, at most ``max_projects``: the least recently used is
    forgotten first, all of it (world, selections, added scenarios, counts). A project is kept from its
    first change: until then, reading it gives a world made from the seed that nothing holds."""

    def __init__(self, seed: Seed, clock: Clock, limits: Limits):
        self.limits, self.seed, self.clock = limits, seed, clock
        self.world = World(limits.max_projects, on_forget=self._forgot)
        self._added = 0  # scenarios added at run time, all projects together
        self._lock = threading.Lock()

    async def project(self, project_id: str) -> ProjectWorld:
        kept = self.world.seen(project_id)
        return kept if kept is not None else ProjectWorld(project_id, self.seed, self.clock)

    async def peek(self, project_id: str) -> ProjectWorld | None:
        return self.world.seen(project_id)

    async def transaction(self, world: ProjectWorld, step: Callable[[ProjectWorld], T]) -> tuple[ProjectWorld, T]:
        kept = self.world.peek(world.project_id)
        if kept is not None:
            world = kept  # the project's one world: a copy read before another change kept it is not
        with world.lock:
            try:
                result = step(world)
                if world.touched and kept is None:
                    kept = self.world.keep(world)
                    if kept is not world:  # another request kept the project first: the step goes there
                        world.touched.clear()
                        return await self.transaction(kept, step)
                return world, result
            finally:
                world.touched.clear()  # kept here as it is: nothing to write elsewhere

    async def reserve_added(self, project_id: str, count: int) -> bool:
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
        return {"kind": "memory", "status": "ok", "projects": len(self.world)}

    def journal(self, mask: Iterable[str]) -> MemoryJournal:
        limits = self.limits
        return MemoryJournal(limits.journal_entries, limits.journal_bytes, limits.journal_body_bytes, mask)

    async def close(self) -> None:
        pass

    def _forgot(self, world: ProjectWorld) -> None:
        with self._lock:
            self._added -= len(world.added)


