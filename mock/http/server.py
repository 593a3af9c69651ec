"""Run the mock with uvicorn: in the foreground (CLI) or in a background thread (tests, pytest plugin).

Every server runs uvicorn's httptools protocol with the connection bounds of :class:`Limits`
(``connections.py``) and leaves logging to the process: uvicorn's own lines go through the
root logger, so the bounded, non-blocking writer of ``logs.py`` carries them like every other line.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time
from typing import Any

import uvicorn

from ..config import CONFIG_ENVIRONMENT_VARIABLE, Limits, MockConfig
from ..internals import server_started
from .connections import guarded_protocol

UVICORN_DEFAULTS = {"log_level": "warning", "access_log": False, "ws": "none", "lifespan": "on", "log_config": None}


def uvicorn_options(limits: Limits, protocol: type | None = None) -> dict[str, Any]:
    return {**UVICORN_DEFAULTS, "http": protocol or guarded_protocol(limits),
            "timeout_keep_alive": limits.idle_timeout, "timeout_graceful_shutdown": limits.shutdown_timeout}


def __getattr__(name: str) -> Any:
    """``WorkerProtocol``: the guarded protocol of ``serve --workers``, built in each worker process
    from ``$CLOUD_BACKUP_MOCK_CONFIG`` (uvicorn hands its configuration to workers by pickling, and a
    class pickles by name)."""
    if name != "WorkerProtocol":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..engine import limits_of

    protocol = guarded_protocol(limits_of(MockConfig.from_json(os.environ[CONFIG_ENVIRONMENT_VARIABLE])))
    protocol.__module__, protocol.__qualname__ = __name__, "WorkerProtocol"
    globals()["WorkerProtocol"] = protocol
    return protocol


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one). OSError when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # worker processes serve on it too
    return sock


def freeze_start_up_heap() -> None:
    """Leave what start-up made (the contract and its schemas, the app: most of a server's objects) out
    of the garbage collector's full collections from now on: each would walk them all, holding up every
    request for tens of milliseconds, and none of them becomes garbage while the server runs. Without a
    collection first: it would delay listening by as long, for the few dozen objects start-up leaves in
    cycles. For ``serve`` only: the test double never does this to its test's process."""
    gc.freeze()


def run_foreground(app, sock: socket.socket, limits: Limits, workers: int = 1) -> None:
    """Serve on ``sock`` until stopped (``serve``): ``app`` is the app, or with ``workers`` > 1 the import
    string of a factory each worker process calls."""
    host, port = sock.getsockname()[:2]
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        options = {**uvicorn_options(limits, __getattr__("WorkerProtocol")), "log_level": "info"}
        config = uvicorn.Config(app, factory=True, workers=workers, host=host, port=port, **options)
        Multiprocess(config, sockets=[sock]).run()
    else:
        config = uvicorn.Config(app, host=host, port=port, **{**uvicorn_options(limits), "log_level": "info"})
        freeze_start_up_heap()
        uvicorn.Server(config).run(sockets=[sock])


class _LoopKeepingServer(uvicorn.Server):
    """uvicorn's server, keeping the event loop it serves on (``serve`` runs on it)."""

    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets=sockets)


class BackgroundServer:
    """A real HTTP server on a free port, started in a thread and ready when :meth:`start` returns.
    ``loop`` is the event loop that serves it (the test double's transports run requests there too)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, **config):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))  # port 0: the kernel picks a free one, no race
        self.host, self.port = self.sock.getsockname()[:2]
        self.app = app
        limits = getattr(getattr(app, "engine", None), "limits", None) or Limits()
        self.server = _LoopKeepingServer(uvicorn.Config(app, **{**uvicorn_options(limits), **config}))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name=f"cloud-backup-mock-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.server.loop

    def start(self, timeout: float = 15.0) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not server_started(self.server):
            if not self.thread.is_alive():
                raise RuntimeError("the mock's server stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the mock's server did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
