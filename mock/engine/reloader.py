"""``serve --reload``: pick up edited scenario files without a restart, keeping the last good set."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .engine import Engine
from .scenarios import ScenarioError, load_directory

log = logging.getLogger("cloud_backup_mock")


class ScenarioReloader:
    def __init__(self, engine: Engine, directory: Path, extra_files: list[Path] = (), interval: float = 0.5):
        self.engine, self.directory, self.extra_files, self.interval = engine, Path(directory), list(extra_files), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario-reloader", daemon=True)
        self._seen = self._snapshot()

    def _snapshot(self) -> dict[str, tuple[float, int]]:
        files = list(self.directory.glob("*.yaml")) + self.extra_files
        snapshot = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            snapshot[str(path)] = (stat.st_mtime, stat.st_size)
        return snapshot

    def check(self, force: bool = False) -> bool | None:
        """Reload if anything changed (or ``force``): True when reloaded, False when the new set was
        refused, None if unchanged."""
        snapshot = self._snapshot()
        if snapshot == self._seen and not force:
            return None
        self._seen = snapshot
        try:
            scenarios = load_directory(self.directory, self.engine.contract, self.extra_files)
        except ScenarioError as exc:
            log.error("scenario files changed but cannot be used; keeping the last good set:\n%s", exc)
            return False
        except Exception as exc:  # never let a broken file take the server down
            log.error("scenario reload failed; keeping the last good set: %s: %s", type(exc).__name__, exc)
            return False
        self.engine.replace_scenarios(scenarios)
        log.warning("reloaded %d scenarios from %s", len(scenarios), self.directory)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def start(self) -> "ScenarioReloader":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
