"""The contract: the built OpenAPI document as the mock uses it (operations, the route index, schema checks,
the API's error body). Imports no HTTP framework."""

from .document import Contract, ContractError, Operation, resolve_refs
from .errors import error_document, error_json
from .routes import Match, RouteIndex, path_segment
from .schemas import field_path, is_valid, schema_errors

__all__ = ["Contract", "ContractError", "Match", "Operation", "RouteIndex", "error_document", "error_json",
           "field_path", "is_valid", "path_segment", "resolve_refs", "schema_errors"]
