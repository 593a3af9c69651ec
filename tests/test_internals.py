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


async def serve_probe(protocol, app, talk):
    """Run uvicorn with the protocol class ``protocol`` around ``app`` and return ``await talk(port)``,
    all in this event loop."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, http=protocol, ws="none", lifespan="off", log_level="warning"))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not internals.server_started(server):
            await asyncio.sleep(0.01)
        return await talk(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


async def exchange(port, *chunks, pause=0.1):
    """Send ``chunks`` on one connection, ``pause`` apart, and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(pause)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def answer_ok(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_uvicorn_httptools_protocol_calls_the_parser_hooks_inside_data_received():
    """The head's and the message's callbacks come from inside the ``data_received`` that read them;
    ``on_response_complete``, overridden, is called once the answer is written."""
    seen = []

    class Probe(internals.httptools_protocol_class()):
        def data_received(self, data):
            seen.append("data")
            super().data_received(data)
            seen.append("/data")

        def on_headers_complete(self):
            seen.append("headers")
            super().on_headers_complete()

        def on_body(self, body):
            seen.append(f"body {len(body)}")
            super().on_body(body)

        def on_message_complete(self):
            seen.append("message")
            super().on_message_complete()

        def on_response_complete(self):
            seen.append("response")
            super().on_response_complete()

    head = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nconnection: close\r\n\r\n"
    answer = asyncio.run(serve_probe(Probe, answer_ok, lambda port: exchange(port, head, b"body")))
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok")
    assert seen == ["data", "headers", "/data", "data", "body 4", "message", "/data", "response"]
    assert issubclass(Probe, asyncio.Protocol)


def test_uvicorn_protocol_tells_answering_all_answered_and_pipelined():
    protocols, seen = [], []

    class Probe(internals.httptools_protocol_class()):
        def connection_made(self, transport):
            super().connection_made(transport)
            protocols.append(self)

        def on_response_complete(self):
            super().on_response_complete()
            seen.append(("written", internals.answering(self), internals.all_answered(self)))

    def state():
        protocol = protocols[-1]
        return internals.answering(protocol), internals.all_answered(protocol), internals.pipelined(protocol)

    async def app(scope, receive, send):
        await receive()
        seen.append((scope["path"], "asked", *state()))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        seen.append((scope["path"], "started", *state()))
        await send({"type": "http.response.body", "body": b"ok"})

    def request(path, close=False):
        return f"GET {path} HTTP/1.1\r\nhost: x\r\n{'connection: close' if close else 'x: y'}\r\n\r\n".encode()

    async def talk(port):
        alone = await exchange(port, request("/alone", close=True))
        together = await exchange(port, request("/first") + request("/second", close=True))
        return alone, together

    alone, together = asyncio.run(serve_probe(Probe, app, talk))
    assert alone.count(b"200 OK") == 1 and together.count(b"200 OK") == 2
    # (path, when, answering, all_answered, pipelined); answering and all_answered read the latest request
    assert seen == [
        ("/alone", "asked", False, False, False),
        ("/alone", "started", True, False, False),
        ("written", False, True),
        ("/first", "asked", False, False, True),  # /second, read with it, waits: the latest is unanswered
        ("/first", "started", False, False, True),
        ("written", False, False),
        ("/second", "asked", False, False, False),
        ("/second", "started", True, False, False),
        ("written", False, True),
    ]


def test_uvicorn_protocol_leaves_the_names_our_subclass_adds_free():
    """The connection layer's subclass keeps its own state in names uvicorn's protocol does not use."""
    from cloud_backup_mock.http.connections import GuardedHttpToolsProtocol

    protocols = []

    class Probe(internals.httptools_protocol_class()):
        def connection_made(self, transport):
            super().connection_made(transport)
            protocols.append(self)

    asyncio.run(serve_probe(Probe, answer_ok, lambda port: exchange(
        port, b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")))
    base = internals.httptools_protocol_class()
    hooks = {"connection_made", "data_received", "connection_lost", "on_headers_complete", "on_body",
             "on_message_complete", "on_response_complete"}
    ours = {name for name in vars(GuardedHttpToolsProtocol) if not name.startswith("__")} - hooks | {"_bounds"}
    assert hooks <= set(dir(base))
    assert not ours & (set(dir(base)) | set(vars(protocols[0]))), ours & (set(dir(base)) | set(vars(protocols[0])))


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


def test_redis_py_connections_keep_their_streams_where_internals_reads_them(redis_server):
    """The Redis store's sender writes on a pooled connection's streams and parses the replies with
    hiredis: they are there once connected, and new ones after the connection is opened again."""
    import hiredis
    import redis.asyncio

    async def ping_on_streams(connection) -> list:
        reader, writer = internals.redis_streams(connection)
        assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)
        writer.write(hiredis.pack_command(("PING",)) + hiredis.pack_command(("ECHO", "streams")))
        parser, replies = hiredis.Reader(), []
        while len(replies) < 2:
            reply = parser.gets()
            if reply is False:
                parser.feed(await reader.read(4096))
            else:
                replies.append(reply)
        return replies

    async def exchange():
        client = redis.asyncio.Redis.from_url(redis_server.url())
        connection = await client.connection_pool.get_connection()
        first = internals.redis_streams(connection)
        assert await ping_on_streams(connection) == [b"PONG", b"streams"]
        await connection.disconnect()
        assert not connection.is_connected
        await connection.connect()
        assert internals.redis_streams(connection)[0] is not first[0]
        assert await ping_on_streams(connection) == [b"PONG", b"streams"]
        await client.connection_pool.release(connection)
        assert await client.echo("after") == b"after"  # the pool's own use of it is unharmed
        await client.aclose()

    asyncio.run(exchange())


def test_redis_reply_errors_become_the_exceptions_redis_py_raises():
    import redis.exceptions

    assert isinstance(internals.redis_reply_error("NOSCRIPT No matching script."), redis.exceptions.NoScriptError)
    loading = internals.redis_reply_error("LOADING Redis is loading the dataset in memory")
    assert isinstance(loading, redis.exceptions.ConnectionError)  # the store takes it for Redis unreachable
    other = internals.redis_reply_error("ERR something else")
    assert type(other) is redis.exceptions.ResponseError and str(other) == "something else"
