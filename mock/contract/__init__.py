"""The contract: the built OpenAPI document as the mock uses it (operations, the route index, schema checks,
the API's error body). Imports no HTTP framework."""

from .coverage import counts_of, coverage_of, coverage_percent, coverage_table, scenario_shown
from .document import Contract, ContractError, Operation, resolve_refs
from .errors import error_document, error_json
from .routes import Match, RouteIndex, path_segment
from .schemas import field_path, is_valid, schema_errors

__all__ = ["Contract", "ContractError", "Match", "Operation", "RouteIndex", "counts_of", "coverage_of", "coverage_percent",
           "coverage_table", "error_document", "error_json", "field_path", "is_valid", "path_segment", "resolve_refs",
           "scenario_shown", "schema_errors"]
