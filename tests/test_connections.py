"""The connection layer (``http/connections.py``): what it reads of uvicorn's protocol, and its refusals.
The bounds themselves are served and checked in ``tests/test_sandbox_limits.py``."""

import ast
import json
from pathlib import Path

from cloud_backup_mock.http import connections

SOURCE = Path(connections.__file__)
HOOKS = {"connection_made", "data_received", "connection_lost", "on_headers_complete", "on_body",
         "on_message_complete", "on_response_complete"}


def test_the_protocol_reads_uvicorns_state_only_through_internals():
    """The subclass reads only what it adds (``_bounds`` and the class's ``limits``, ``refusal``, ``budget``) and
    calls only the hook it overrides on ``super()``; a ``protocol`` handed on is never read directly."""
    tree = ast.parse(SOURCE.read_text())
    subclass = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GuardedHttpToolsProtocol")
    for method in (n for n in subclass.body if isinstance(n, ast.FunctionDef)):
        assert method.name in HOOKS, method.name
        for node in ast.walk(method):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                assert node.attr in {"_bounds", "limits", "refusal", "budget"}, f"{method.name} reads self.{node.attr}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call) and \
                    isinstance(node.value.func, ast.Name) and node.value.func.id == "super":
                assert node.attr == method.name, f"{method.name} calls super().{node.attr}"
    read = [n.attr for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "protocol"]
    assert read == []


def test_a_refusal_is_a_whole_answer_in_the_apis_error_shape_that_closes():
    answer = connections.refusal(503, "Busy.", ["max_connections: 2"], {"Retry-After": "1"})
    head, body = answer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert lines[1:] == ["content-type: application/json", f"content-length: {len(body)}", "connection: close",
                         "Retry-After: 1"]
    assert json.loads(body) == {"message": "Busy.", "errors": ["max_connections: 2"]}


def test_each_server_has_its_own_bounds():
    from cloud_backup_mock.config import Limits

    small, large = connections.guarded_protocol(Limits(max_connections=2)), connections.guarded_protocol(Limits())
    assert issubclass(small, connections.GuardedHttpToolsProtocol) and small is not large
    assert (small.limits.max_connections, large.limits.max_connections) == (2, Limits().max_connections)
    assert small.refusal is connections.refusal
    assert small.budget is not large.budget and (small.budget.per_address, large.budget.per_address) == (1, 500)


def test_the_budget_counts_each_address_until_its_connections_close():
    from cloud_backup_mock.config import Limits

    budget = connections.Budget(Limits(max_connections=10, address_share=0.3))
    for address in ("127.0.0.2", "127.0.0.2", "127.0.0.3", None):  # None: a Unix socket, counted in all only
        budget.let_in(address)
    assert (budget.connections, budget.by_address, budget.per_address) == (4, {"127.0.0.2": 2, "127.0.0.3": 1}, 3)
    for address in ("127.0.0.2", "127.0.0.3", None, "127.0.0.2"):
        budget.left(address)
    assert (budget.connections, budget.by_address) == (0, {})
