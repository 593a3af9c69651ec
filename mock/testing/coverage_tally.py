"""The test double's coverage across a whole session: every exchange the journal records is also counted
here, so the fixture's resets between tests (which empty the journal) lose nothing.

Bounded: one counter per (project, operation, status, scenario) seen, with at most ``MAX_PROJECTS``
projects (the requests of any further project count in the total only) and ``MAX_SCENARIOS`` scenario
names (further names count as ``OTHER_SCENARIOS``): at most projects × operations × statuses × scenarios
counters, whatever the number of requests.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from ..contract import scenario_shown
from ..engine import Journal

MAX_PROJECTS = 100
MAX_SCENARIOS = 256
OTHER_SCENARIOS = "(other scenarios)"


class SessionTally:
    def __init__(self) -> None:
        self._counts: Counter = Counter()  # (project or None, operation, status, scenario) -> answers
        self._projects: set[str] = set()
        self._scenarios: set[str | None] = set()
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        """Count a journal entry as given to ``Journal.add`` (raw): hang-ups and exchanges outside the
        contract count for nothing."""
        operation, status = entry.get("operation"), entry.get("status")
        if not operation or not isinstance(status, int):
            return
        project, scenario = entry.get("project_id"), scenario_shown(entry.get("scenario"))
        with self._lock:
            if project not in self._projects:
                if len(self._projects) < MAX_PROJECTS and project is not None:
                    self._projects.add(project)
                else:
                    project = None
            if scenario not in self._scenarios:
                if len(self._scenarios) < MAX_SCENARIOS:
                    self._scenarios.add(scenario)
                else:
                    scenario = OTHER_SCENARIOS
            self._counts[(project, operation, status, scenario)] += 1

    def counts(self, project_id: str | None = None) -> list[tuple[str, int, str | None, int]]:
        """(operation, status, scenario, answers), of one project or all."""
        with self._lock:
            return [(operation, status, scenario, n) for (project, operation, status, scenario), n
                    in self._counts.items() if project_id is None or project == project_id]

    def __len__(self) -> int:
        return len(self._counts)


class TalliedJournal:
    """A journal that also counts each exchange it is given in a :class:`SessionTally`, and takes the
    scenario that answered it out of ``waiting`` (the ``respond()`` stubs that have not answered yet)."""

    def __init__(self, journal: Journal, tally: SessionTally):
        self._journal, self.tally = journal, tally
        self.waiting: set[str] = set()

    async def add(self, entry: dict[str, Any], size: int | None = None) -> None:
        self.tally.add(entry)
        if self.waiting:
            self.waiting.discard(entry.get("scenario"))
        await self._journal.add(entry, size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)
