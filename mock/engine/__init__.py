"""The scenario engine: the world (per-project state), scenarios (loaded, checked, compiled), templates,
the rule chain that turns a request context into an outcome, and the journal. Imports no HTTP framework."""

from .core import Engine, Outcome, RequestContext, RequestError, build_engine

__all__ = ["Engine", "Outcome", "RequestContext", "RequestError", "build_engine"]
