"""Each reach into a third-party library's internals (``cloud_backup_mock/internals.py``), checked
against the installed library: an upgrade that changes one fails here, not in a user's sandbox."""

import asyncio
import socket
import subprocess
import sys

import httpx
import pytest

from cloud_backup_mock import internals
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN


def test_connexion_routed_middlewares_read_our_routing_context():
    internals.import_connexion_quietly()  # first in a session of its own: Connexion's import warns
    from connexion.middleware.abstract import ROUTING_CONTEXT

    assert internals.ROUTING_CONTEXT == ROUTING_CONTEXT
    scope = {"type": "http"}
    internals.set_routing_context(scope, "/base", "someOperation")
    assert scope["extensions"][ROUTING_CONTEXT] == {"api_base_path": "/base", "operation_id": "someOperation"}
    assert internals.routed_operation_id(scope) == "someOperation"


def test_connexion_spec_check_is_skipped_only_inside_the_block():
    from connexion.spec import OpenAPISpecification

    not_openapi = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}, "bogus": 1}
    with pytest.raises(Exception):
        OpenAPISpecification(not_openapi)  # Connexion's own check refuses the unknown top-level key
    with internals.connexion_spec_check_skipped():
        OpenAPISpecification(not_openapi)
    with pytest.raises(Exception):
        OpenAPISpecification(not_openapi)
    assert "/oas/3.0/" in internals.openapi_30_schema()["id"]


def test_connexion_imports_without_warnings_through_internals():
    import subprocess
    import sys

    probe = "from cloud_backup_mock.internals import import_connexion_quietly; import_connexion_quietly()"
    out = subprocess.run([sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]


def test_uvicorn_receive_holds_the_transport_so_a_drop_closes_the_connection(mock):
    """A scenario that drops the connection: the client sees the connection closed, no status."""
    mock.use("connection-dropped")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{mock.url}/v2/110011/agents/{DOCS_AGENT}", headers={"X-Auth-Token": DOCS_TOKEN}, timeout=10)


def test_hang_up_refuses_a_receive_without_a_transport():
    async def receive():
        return {}

    assert internals.hang_up(receive) is False


def test_uvicorn_server_started_turns_true_when_listening():
    import uvicorn

    async def app(scope, receive, send):
        return None

    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    assert internals.server_started(server) is False
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))

    async def run():
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        for _ in range(200):
            if internals.server_started(server):
                break
            await asyncio.sleep(0.01)
        started = internals.server_started(server)
        server.should_exit = True
        await task
        return started

    assert asyncio.run(run()) is True
    sock.close()


def test_jinja_expression_parsing_context_and_rendering():
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment()
    expression = internals.parse_expression(env, "a + 1")
    assert isinstance(expression, nodes.Add)
    with pytest.raises(TemplateSyntaxError, match="chunk after expression"):
        internals.parse_expression(env, "a b")
    variables = {"a": 41}
    context = internals.shared_context(env, variables)
    variables["b"] = "later"  # the context reads the dict itself, not a copy
    template = env.from_string("{{ a + 1 }} {{ b }}")
    assert "".join(internals.render_chunks(template, context)) == "42 later"


def test_lean_log_records_stops_thread_process_and_caller_lookup():
    # global to the logging module: checked in a process of its own
    code = (
        "import logging, threading\n"
        "from cloud_backup_mock.internals import lean_log_records\n"
        "seen = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): seen.append(record)\n"
        "log = logging.getLogger('x'); log.addHandler(Keep()); log.setLevel(logging.INFO)\n"
        "log.info('before'); lean_log_records(); log.info('after')\n"
        "before, after = seen\n"
        "assert before.funcName == '<module>' and before.thread == threading.get_ident() and before.process\n"
        "assert after.funcName != '<module>' and after.lineno == 0, (after.funcName, after.lineno)\n"
        "assert after.thread is None and after.process is None and after.processName is None\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
