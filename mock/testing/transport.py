"""The mock without a socket, for clients built on httpx: :class:`MockTransport` (an ``httpx.BaseTransport``)
and :class:`AsyncMockTransport` (an ``httpx.AsyncBaseTransport``) hand each request to the same ASGI app as
the server, so the same layers answer it (routing, validation, bounds, the engine) and the same journal
records it. Only what belongs to a connection is left out: ``max_connections`` and the timeouts.

Both run the request on the server's own event loop, as its socket's requests are run: the sync one
waits for it, so it works from any thread, the thread of a running event loop included (but the
server's); the async one awaits it, on an asyncio loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, AsyncIterator, Callable, Iterator

import httpx

from ..http.exchange import HANG_UP_EXTENSION

_CLIENT = ("127.0.0.1", 0)


class _HungUp(Exception):
    """The mock closed the connection without answering (a dropping scenario)."""


async def _exchange(app: Any, request: httpx.Request, next_chunk: Callable[[], Any]) -> tuple[int, list, bytes]:
    """One request through the app: (status, headers, body). ``next_chunk()`` is awaited for each piece
    of the request body as the app asks for it (None once there is no more), so a body over the limit
    is read no further than a socket's would be."""
    url = request.url
    hung_up: list[bool] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
        "scheme": url.scheme, "path": url.path, "raw_path": url.raw_path.split(b"?")[0], "query_string": url.query,
        "root_path": "", "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": _CLIENT, "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
        "extensions": {HANG_UP_EXTENSION: lambda: hung_up.append(True)},
    }
    answered = asyncio.Event()
    finished = False
    status, headers, body = 0, [], bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal finished
        if finished:  # the whole body was read: what comes next is the client going away
            await answered.wait()
            return {"type": "http.disconnect"}
        chunk = await next_chunk()
        if chunk is None:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": bytes(chunk), "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if hung_up:
            return
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            if request.method != "HEAD":
                body.extend(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    await app(scope, receive, send)
    if hung_up:
        raise _HungUp()
    return status, headers, bytes(body)


def _response(request: httpx.Request, answer: tuple[int, list, bytes]) -> httpx.Response:
    status, headers, body = answer
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request)


def _read_timeout(request: httpx.Request) -> float | None:
    return (request.extensions.get("timeout") or {}).get("read")


_DROPPED = "Server disconnected without sending a response."  # what httpx says over a socket


class _ServerLoop:
    """Runs exchanges on the server's event loop, as its socket's requests are run."""

    def __init__(self, app: Any, loop: Callable[[], asyncio.AbstractEventLoop | None]):
        self.app, self._loop = app, loop

    def submit(self, request: httpx.Request, next_chunk: Callable[[], Any]) -> concurrent.futures.Future:
        loop = self._loop()
        if loop is None or loop.is_closed():
            raise RuntimeError("mock.transport needs the MockServer started (use it as a context manager, or "
                               "the cloud_backup_mock fixture)")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("mock.transport was called on the mock's own event loop (from a respond() "
                               "handler?): it would wait for itself; call the mock's methods instead")
        return asyncio.run_coroutine_threadsafe(_exchange(self.app, request, next_chunk), loop)


def _whole_body(request: httpx.Request) -> Callable[[], Any] | None:
    """For a body given whole (bytes, JSON, a form), a ``next_chunk`` that hands it over at once."""
    try:
        pieces = [request.content]
    except httpx.RequestNotRead:  # a stream: read as the app asks for it
        return None

    async def next_chunk() -> bytes | None:
        return pieces.pop() if pieces else None

    return next_chunk


class MockTransport(httpx.BaseTransport):
    """``httpx.Client(transport=mock.transport, base_url=mock.url)``: requests reach the mock in process.
    A client that stops waiting (its read timeout) gets ``httpx.ReadTimeout``, and the mock finishes the
    answer as it would for a socket."""

    def __init__(self, app: Any, loop: Callable[[], asyncio.AbstractEventLoop | None]):
        self._server = _ServerLoop(app, loop)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        next_chunk = _whole_body(request)
        if next_chunk is None:
            chunks: Iterator[bytes] = iter(request.stream)  # type: ignore[arg-type]

            async def next_chunk() -> bytes | None:
                return next(chunks, None)

        future = self._server.submit(request, next_chunk)
        try:
            answer = future.result(_read_timeout(request))
        except concurrent.futures.TimeoutError:
            raise httpx.ReadTimeout("the mock did not answer within the read timeout", request=request) from None
        except _HungUp:
            raise httpx.RemoteProtocolError(_DROPPED, request=request) from None
        return _response(request, answer)


class AsyncMockTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=mock.async_transport, base_url=mock.url)``, in an asyncio test: as
    :class:`MockTransport`, awaited. A streamed request body is read from the caller's loop."""

    def __init__(self, app: Any, loop: Callable[[], asyncio.AbstractEventLoop | None]):
        self._server = _ServerLoop(app, loop)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        next_chunk = _whole_body(request)
        if next_chunk is None:
            caller = asyncio.get_running_loop()
            chunks: AsyncIterator[bytes] = request.stream.__aiter__()  # type: ignore[union-attr]

            async def next_chunk() -> bytes | None:  # on the server's loop: the stream is the caller's
                return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(anext(chunks, None), caller))

        answer = asyncio.shield(asyncio.wrap_future(self._server.submit(request, next_chunk)))
        try:
            return _response(request, await asyncio.wait_for(answer, _read_timeout(request)))
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout("the mock did not answer within the read timeout", request=request) from None
        except _HungUp:
            raise httpx.RemoteProtocolError(_DROPPED, request=request) from None
