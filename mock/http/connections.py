"""The connection layer: uvicorn's httptools protocol with the connection bounds of :class:`Limits`.

At most ``max_connections`` open connections (one more is answered 503 with ``Retry-After`` and
closed), of which one client address holds at most ``address_share``; request bodies being received
hold at most ``max_bodies_bytes`` all together (the connection whose bytes pass it is answered 503,
unless its body is the only one being received); a connection that sends nothing for ``idle_timeout``
is closed; a request's line and headers must arrive within ``header_timeout`` (else 408) and within
``max_header_bytes`` (else 431), counted as they arrive, so nothing larger is ever held; its body
within ``body_timeout`` (else 408). A timer runs only while a request is incomplete after a chunk:
most requests arrive whole and need none.

:class:`ConnectionBounds` keeps one connection's bounds, :class:`Budget` what a server's connections
hold together; :class:`GuardedHttpToolsProtocol` is uvicorn's protocol calling them from the hooks it
overrides. What it needs of uvicorn's protocol beyond those hooks it asks through ``internals``.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any, Callable

from ..config import Limits
from ..contract import error_json
from ..internals import all_answered, answering, httptools_protocol_class, pipelined

# refusal(status, message, errors, headers): the bytes of a whole answer
Refusal = Callable[[int, str, list[str], dict[str, str]], bytes]
LINGER_SECONDS = 0.5


def refusal(status: int, message: str, errors: list[str], headers: dict[str, str]) -> bytes:
    """A whole HTTP/1.1 answer in the API's error shape, for the connection layer to write and close."""
    body = error_json(message, errors)
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Budget:
    """What all the connections of one server hold together: the connections let in (in all, and per
    client address) and the bytes of request bodies being received. A refused connection holds no
    place while its refusal is written. Its connections run on one event loop (each ``serve --workers``
    process has its own budget), so it needs no lock."""

    def __init__(self, limits: Limits):
        self.connections = 0
        self.by_address: dict[str, int] = {}
        self.body_bytes = 0
        self.per_address = max(1, int(limits.max_connections * limits.address_share))

    def let_in(self, address: str | None) -> None:
        self.connections += 1
        if address is not None:
            self.by_address[address] = self.by_address.get(address, 0) + 1

    def left(self, address: str | None) -> None:
        self.connections -= 1
        if address is not None:
            held = self.by_address[address] = self.by_address[address] - 1
            if not held:
                del self.by_address[address]


class ConnectionBounds:
    """The bounds of one connection: what of its current request has arrived, the one timer, and a
    refusal. Methods that decide given ``protocol``, the uvicorn protocol serving the connection, to
    ask what it is answering; none keeps it (a protocol holding its bounds would be a cycle)."""

    def __init__(self, transport: asyncio.Transport, limits: Limits, answer: Refusal, budget: Budget):
        self.transport, self.limits, self.answer, self.budget = transport, limits, answer, budget
        self.loop = asyncio.get_running_loop()  # the loop calling the protocol
        self.head_bytes, self.in_head, self.complete, self.refused = 0, True, True, False
        self.body_bytes = 0  # of the request being received, counted in the budget until it is complete
        self.timer: asyncio.TimerHandle | None = None
        self.after_response: bytes | None = None
        peer = transport.get_extra_info("peername")
        self.address: str | None = peer[0] if isinstance(peer, tuple) and peer else None  # None: a Unix socket
        self.let_in = False  # counted among the budget's connections

    def opened(self, protocol: Any) -> None:
        """The connection was just made: let in, or refused when the server or its address has no place."""
        budget = self.budget
        if budget.connections >= self.limits.max_connections:
            self.refuse(protocol, 503, "The mock has as many open connections as it keeps; retry shortly.",
                        [f"max_connections: {self.limits.max_connections}"], {"Retry-After": "1"})
            return
        if self.address is not None and budget.by_address.get(self.address, 0) >= budget.per_address:
            self.refuse(protocol, 503, "This client address holds as many open connections as one address "
                        "may; retry shortly.", [f"address_share: {self.limits.address_share} of max_connections "
                                                f"{self.limits.max_connections} ({budget.per_address} "
                                                "connections from one address)"], {"Retry-After": "1"})
            return
        budget.let_in(self.address)
        self.let_in = True
        self.timer = self.loop.call_later(self.limits.idle_timeout, self.timed_out, protocol)

    def closed(self) -> None:
        """The connection is gone: what it held is given back (its body's bytes only now: until the app
        learns of the disconnection, it holds them)."""
        self.cancel_timer()
        self.release_body()
        if self.let_in:
            self.budget.left(self.address)
            self.let_in = False

    def body_arrived(self, size: int) -> None:
        """``size`` bytes of the current request's body were parsed (uvicorn holds them for the app)."""
        self.body_bytes += size
        self.budget.body_bytes += size

    def release_body(self) -> None:
        self.budget.body_bytes -= self.body_bytes
        self.body_bytes = 0

    def receiving(self, data: bytes) -> bool:
        """Before ``data`` is parsed: whether to parse it (not after a refusal)."""
        if self.refused:
            return False
        if self.in_head:
            self.head_bytes += len(data)
        if self.timer is not None and self.head_bytes == len(data) and self.in_head:
            self.cancel_timer()  # the first bytes of a request end the idle wait
        return True

    def received(self, protocol: Any) -> None:
        """After a chunk was parsed (a chunk is at most asyncio's read size: what is held stays bounded)."""
        if self.refused:
            return
        if self.in_head and self.head_bytes > self.limits.max_header_bytes:
            self.refuse(protocol, 431, "The request's line and headers are larger than the mock takes.",
                        [f"max_header_bytes: {self.limits.max_header_bytes}"])
        elif self.body_bytes and self.budget.body_bytes > self.limits.max_bodies_bytes \
                and self.budget.body_bytes > self.body_bytes:
            # This chunk took the bodies being received past the budget, and others hold some of it: this
            # one is refused (a body alone gets max_body_bytes, whatever the budget).
            self.refuse(protocol, 503, "The mock is receiving as many request bodies as it holds at once; "
                        "retry shortly.", [f"max_bodies_bytes: {self.limits.max_bodies_bytes}"], {"Retry-After": "1"})
        elif self.timer is None and self.in_head and self.head_bytes:
            # A request began and its headers are not all here: they have header_timeout to arrive.
            self.timer = self.loop.call_later(self.limits.header_timeout, self.timed_out, protocol)
        elif self.timer is None and not self.in_head and not self.complete:
            # Its body is not all here: it has body_timeout to arrive.
            self.timer = self.loop.call_later(self.limits.body_timeout, self.timed_out, protocol)

    def headers_complete(self) -> None:
        self.in_head, self.complete = False, False
        self.cancel_timer()

    def message_complete(self) -> None:
        self.in_head, self.head_bytes, self.complete = True, 0, True
        self.release_body()  # received: no longer in the budget of bodies being received
        self.cancel_timer()

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def timed_out(self, protocol: Any) -> None:
        self.timer = None
        if self.in_head and self.head_bytes:
            self.refuse(protocol, 408, "The request's line and headers did not arrive in time.",
                        [f"header_timeout: {self.limits.header_timeout} s"])
        elif not self.in_head and not self.complete:
            self.refuse(protocol, 408, "The request body did not arrive in time.",
                        [f"body_timeout: {self.limits.body_timeout} s"])
        elif all_answered(protocol):
            self.transport.close()  # idle: nothing asked, nothing to answer

    def refuse(self, protocol: Any, status: int, message: str, errors: list[str],
               headers: dict[str, str] | None = None) -> None:
        """Answer and close. What the client still sends meanwhile is read and dropped for a moment
        (closing with unread input would reset the connection and lose the answer)."""
        self.refused = True
        self.cancel_timer()
        answer = self.answer(status, message, errors, headers or {})
        if answering(protocol) or pipelined(protocol):
            self.after_response = answer  # an earlier request is still being answered: this comes after
            return
        self.write_and_close(answer)

    def response_complete(self) -> None:
        """An answer was written: a refusal that waited for it goes now."""
        answer, self.after_response = self.after_response, None
        if answer is not None:
            self.write_and_close(answer)

    def write_and_close(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.loop.call_later(LINGER_SECONDS, self.transport.close)


class GuardedHttpToolsProtocol(httptools_protocol_class()):
    """uvicorn's httptools protocol, each connection with its :class:`ConnectionBounds`. The hooks
    overridden are asyncio's (``connection_made``, ``data_received``, ``connection_lost``), httptools'
    parser callbacks (``on_headers_complete``, ``on_body``, ``on_message_complete``, called from
    ``data_received``) and uvicorn's ``on_response_complete`` (called when an answer is written)."""

    limits: Limits = Limits()
    refusal: Refusal = staticmethod(refusal)
    budget: Budget = Budget(Limits())

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._bounds = ConnectionBounds(transport, self.limits, self.refusal, self.budget)
        self._bounds.opened(self)

    def data_received(self, data: bytes) -> None:
        if self._bounds.receiving(data):
            super().data_received(data)
            self._bounds.received(self)

    def on_headers_complete(self) -> None:
        self._bounds.headers_complete()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._bounds.body_arrived(len(body))
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._bounds.message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._bounds.response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._bounds.closed()
        super().connection_lost(exc)


def guarded_protocol(limits: Limits, answer: Refusal = refusal) -> type:
    """The protocol class of a server with the bounds ``limits`` and a budget of its own (uvicorn makes
    one protocol per connection from the class it is given)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"limits": limits, "refusal": staticmethod(answer), "budget": Budget(limits), "__module__": __name__})
