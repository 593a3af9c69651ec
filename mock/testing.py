"""The mock as a test double: a real server in a background thread, and handles on its state.

Usable without pytest::

    with MockServer() as mock:
        httpx.get(mock.url + "/v2/110011/agents/...", headers={"X-Auth-Token": DOCS_TOKEN})
"""

from __future__ import annotations

from typing import Any

from .app import MockConfig, create_app
from .server import BackgroundServer
from .world import ProjectWorld

DOCS_TOKEN = "0f6e9f63600142f0a970911583522217"
DOCS_PROJECT = "110011"
DOCS_AGENT = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"


class MockServer:
    def __init__(self, config: MockConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(config or MockConfig())
        self.engine = self.app.engine
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

    def reset(self, project_id: str | None = None) -> None:
        """Forget state and active scenarios (of one project, or all)."""
        self.engine.reset(project_id)

    def use(self, *scenarios: str, project_id: str = DOCS_PROJECT) -> None:
        """Make these scenarios answer first for ``project_id`` (``"name;key=value"`` sets a parameter)."""
        self.engine.set_project_scenarios(project_id, list(scenarios))

    def world(self, project_id: str = DOCS_PROJECT) -> ProjectWorld:
        return self.engine.world.project(project_id)
