"""The mock as a test double: :class:`MockServer` (a real server in a background thread, with handles on
its state and journal), :class:`MockConfig`, and the pytest plugin (``plugin``).

Importing this package is cheap: ``MockServer`` (and with it Connexion, Starlette and uvicorn) loads on
first use, so the pytest plugin costs a user's test session nothing until a test asks for the fixture.
"""

from __future__ import annotations

from typing import Any

from ..config import MockConfig

DOCS_TOKEN = "0f6e9f63600142f0a970911583522217"  # the token the docs' example requests carry
DOCS_PROJECT = "110011"  # the project id in the docs' example URLs
DOCS_AGENT = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"  # the agent the docs' examples show

__all__ = ["DOCS_AGENT", "DOCS_PROJECT", "DOCS_TOKEN", "MockConfig", "MockServer"]


def __getattr__(name: str) -> Any:
    if name == "MockServer":
        from .mock_server import MockServer

        return MockServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
