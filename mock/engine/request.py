"""What the engine is asked and what it answers: one :class:`Request` per exchange, made by the outermost
HTTP layer and filled in by the layers below it, and the :class:`Outcome` the engine gives for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..contract import Match, Operation
from .scenarios import DEFAULT_SCENARIO


class RequestError(ValueError):
    """The request asks the mock for something it cannot do (unknown scenario, bad Prefer): a 400."""

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message)
        self.message, self.errors = message, errors


@dataclass
class Outcome:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    scenario: str | None = DEFAULT_SCENARIO  # what answered (None: no scenario, e.g. authentication)
    rule: str | None = None
    drop: bool = False


@dataclass(eq=False)
class Request:
    """One request, from the moment it arrives until it is journaled. Who writes what:

    - the exchange layer: ``method``, ``path``, ``match`` (the route index's), ``time``, ``head_bytes``,
      ``raw_body``, and for the contract's operations ``operation``, ``project_id``, ``path_params``,
      ``query``, ``headers`` (lower-case names), ``base_url``;
    - the security layer: ``token``, the ``X-Auth-Token`` as sent (the first one);
    - the validation layer: ``body`` (the parsed JSON), or ``refusal``, the error that refuses the request
      (raised by the engine once the token is checked, so a caller without one learns nothing more);
    - the engine: ``token_record``; the dispatcher: ``outcome``; the error layer: ``store_unavailable`` (then it is not journaled).
    """

    operation: Operation | None = None  # None: not an operation of the contract
    project_id: str = ""
    path_params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    base_url: str = ""
    token: str | None = None
    token_record: dict[str, Any] | None = None  # the token as the engine found it valid
    method: str = "GET"
    path: str = "/"
    match: Match | None = None
    time: float = 0.0
    head_bytes: int = 0
    raw_body: bytes | None = None
    refusal: BaseException | None = None
    outcome: Outcome | None = None
    store_unavailable: bool = False

    @property
    def dropped(self) -> bool:
        return self.outcome is not None and self.outcome.drop
