"""The mock as a test double: a real server in a background thread, and handles on its state.

Usable without pytest::

    with MockServer() as mock:
        httpx.get(mock.url + "/v2/110011/agents/...", headers={"X-Auth-Token": DOCS_TOKEN})
        assert mock.calls("getAgent")

The pytest plugin (``cloud_backup_mock.testing.plugin``) hands the same object to tests.
"""

from __future__ import annotations

import copy
from typing import Any

from ..config import MockConfig
from ..engine.world import ProjectWorld
from ..http.app import create_app
from ..http.server import BackgroundServer
from . import DOCS_PROJECT


class MockServer:
    def __init__(self, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(config or MockConfig())
        self.engine, self.journal = self.app.engine, self.app.journal
        self._server = BackgroundServer(self.app, host=host, port=port)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> "MockServer":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "MockServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- scenarios and state
    def reset(self, project_id: str | None = None) -> None:
        """Forget state, active scenarios and journal entries (of one project, or all)."""
        self.engine.reset(project_id)
        self.journal.clear(project_id)

    def use(self, *scenarios: str, project_id: str = DOCS_PROJECT) -> None:
        """Make these scenarios answer first for ``project_id`` (``"name;key=value"`` sets a parameter);
        no names restores the default world."""
        self.engine.set_project_scenarios(project_id, list(scenarios))

    def world(self, project_id: str = DOCS_PROJECT) -> ProjectWorld:
        return self.engine.world.project(project_id)

    def register_agent(self, project_id: str = DOCS_PROJECT, *, encrypted: bool = False,
                       fingerprint: str = "arbitrary-string-determined-by-agent", **fields: Any) -> dict[str, Any]:
        """Put an agent in the world directly (as ``registerAgent`` would) and return its record,
        password and fingerprint included."""
        body = copy.deepcopy(self.engine.contract.operation("registerAgent").request_example)
        body["host"]["fingerprint"] = fingerprint
        body.update(fields)
        world = self.world(project_id)
        with world.lock:
            agent = world.apply("register_agent", {"body": body, "base_url": self.url})
            if encrypted:
                world.apply("set_vault_encrypted", {"agent_id": agent["id"], "encrypted": True})
        return copy.deepcopy(agent)

    def encrypt_vault(self, agent_id: str, project_id: str = DOCS_PROJECT, encrypted: bool = True) -> None:
        world = self.world(project_id)
        with world.lock:
            world.apply("set_vault_encrypted", {"agent_id": agent_id, "encrypted": encrypted})

    # ---- the journal, for assertions
    def requests(self, operation: str | None = None, project_id: str | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        """The journal's entries, oldest first: secret headers masked, bodies as the test sent them (the
        admin API masks body fields such as ``password`` too)."""
        return self.journal.entries(project_id=project_id, operation=operation, status=status, unmasked_bodies=True)

    def calls(self, operation: str, project_id: str | None = None) -> list[dict[str, Any]]:
        """Requests made to one operation (by operationId), oldest first."""
        return self.requests(operation, project_id)

    def last_body(self, operation: str, project_id: str | None = None) -> Any:
        """The body of the latest request to ``operation``; AssertionError when there was none."""
        calls = self.calls(operation, project_id)
        if not calls:
            seen = sorted({e["operation"] or f"{e['method']} {e['path']}" for e in self.requests()})
            raise AssertionError(f"no request to {operation} was recorded; seen: {', '.join(seen) or 'nothing'}")
        return calls[-1]["body"]
