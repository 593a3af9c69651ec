"""Run the mock with uvicorn: in the foreground (CLI) or in a background thread (tests, pytest plugin)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from ..internals import server_started

UVICORN_DEFAULTS = {"log_level": "warning", "access_log": False, "ws": "none", "lifespan": "on"}


def run_foreground(app, host: str, port: int, workers: int = 1) -> None:
    """Serve until stopped (``serve``): ``app`` is the app, or with ``workers`` > 1 the import
    string of a factory each worker process calls."""
    options = {**UVICORN_DEFAULTS, "log_level": "info", "host": host, "port": port}
    if workers > 1:
        uvicorn.run(app, factory=True, workers=workers, **options)
    else:
        uvicorn.run(app, **options)


class BackgroundServer:
    """A real HTTP server on a free port, started in a thread and ready when :meth:`start` returns."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, **config):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))  # port 0: the kernel picks a free one, no race
        self.host, self.port = self.sock.getsockname()[:2]
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, **{**UVICORN_DEFAULTS, **config}))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name=f"cloud-backup-mock-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
