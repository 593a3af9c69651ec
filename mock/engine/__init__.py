"""The scenario engine: the world (per-project state), scenarios (loaded, checked, compiled), templates,
the rule chain that turns a request into an outcome, where state and the journal are kept. Imports no
HTTP framework. This is its face: the other layers import from here."""

from .build import build_engine, limits_of
from .engine import INVALID_TOKEN, Engine
from .journal import Journal
from .request import Outcome, Request, RequestError
from .scenarios import ScenarioError
from .store import RETRY_AFTER_SECONDS, Store, StoreUnavailable, cluster_seed, complete, shown_url
from .verification import UnknownOperation, known_operation, short_json, verify

__all__ = ["INVALID_TOKEN", "RETRY_AFTER_SECONDS", "Engine", "Journal", "Outcome", "Request", "RequestError",
           "ScenarioError", "Store", "StoreUnavailable", "UnknownOperation", "build_engine", "cluster_seed", "complete",
           "known_operation", "limits_of", "short_json", "shown_url", "verify"]
