"""Real servers for the shared-state tests: a ``redis-server`` on a free port (no persistence), a Redis
Cluster of three masters, and ``cloud-backup-mock serve --state redis://…`` processes, as one process,
with workers, or as replicas.

``RemoteMock`` drives a served mock through its admin API the way the in-process ``MockServer`` is
driven, so the acceptance tests run unchanged against every way of serving.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud_backup_mock.testing import DOCS_PROJECT

REQUIRE_REDIS = "CLOUD_BACKUP_MOCK_REQUIRE_REDIS"  # set by .ci/run: a missing redis-server fails, never skips


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server); the shared-state tests need it"
        if os.environ.get(REQUIRE_REDIS) or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def redis_client(url: str):
    """A synchronous redis-py client of a ``--state`` URL: a cluster client for ``redis+cluster://``."""
    import redis

    if url.startswith("redis+cluster://"):
        return redis.RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"))
    return redis.Redis.from_url(url)


def _info(url: str, section: str) -> list[dict[str, Any]]:
    """``INFO section`` of the Redis, or of every master of the cluster."""
    client = redis_client(url)
    try:
        if not hasattr(client, "get_primaries"):
            return [client.info(section)]
        return [client.info(section, target_nodes=node) for node in client.get_primaries()]
    finally:
        client.close()


def command_calls(url: str, command: str | None = None) -> int:
    """How many times Redis ran ``command`` (lower case; every command when None, those run inside
    scripts too) since it started, from ``INFO commandstats``: every master's, added up, on a cluster."""
    return sum(int(value.get("calls", 0)) for stats in _info(url, "commandstats") for name, value in stats.items()
               if command is None or name == f"cmdstat_{command}")


class RedisServer:
    """A real redis-server on a free loopback port, no persistence; stop and start it again on the same port."""

    def __init__(self):
        self.binary = redis_binary()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cbm-redis-")
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--databases", "64"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _answers_ping(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _free_cluster_ports(count: int) -> list[int]:
    """Free loopback ports whose cluster bus ports (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + 10000 > 65535 or port in ports:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        ports.append(port)
    return ports


class RedisClusterServer:
    """A real Redis Cluster of ``masters`` redis-server processes in cluster mode (no replicas, no
    persistence) on free loopback ports, the slots split between them by ``redis-cli --cluster create``."""

    def __init__(self, masters: int = 3):
        self.binary = redis_binary()
        self.cli = shutil.which("redis-cli")
        if self.cli is None:
            pytest.fail("redis-cli is not installed (Debian: apt-get install redis-tools); the cluster tests need it")
        self.ports = _free_cluster_ports(masters)
        self.dir = tempfile.mkdtemp(prefix="cbm-redis-cluster-")
        self.processes: list[subprocess.Popen] = []

    def url(self, node: int = 0) -> str:
        """The ``--state`` URL naming one node as the seed (any node will do)."""
        return f"redis+cluster://127.0.0.1:{self.ports[node]}"

    def start(self) -> "RedisClusterServer":
        self.processes = [self._node(port) for port in self.ports]
        self._wait_for_pings()
        created = subprocess.run([self.cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                                  "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True,
                                 timeout=60)
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        self.wait_until_ok()
        return self

    def _node(self, port: int) -> subprocess.Popen:
        # Its node id and the cluster's layout are kept in nodes-PORT.conf: a node started again rejoins.
        return subprocess.Popen(
            [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", "2000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait_for_pings(self) -> None:
        deadline = time.monotonic() + 10
        while not all(_answers_ping(port) for port in self.ports):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server in cluster mode did not start on ports {self.ports}")
            time.sleep(0.05)

    def wait_until_ok(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not all("cluster_state:ok" in self.command(port, "CLUSTER", "INFO") for port in self.ports):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the cluster on ports {self.ports} did not become ok")
            time.sleep(0.1)

    def stop_node(self, node: int) -> None:
        """Stop one master (its slots are then served by nobody: the cluster is down)."""
        self.processes[node].terminate()
        self.processes[node].wait(10)

    def start_node(self, node: int) -> None:
        """Start a stopped master again on its port; it rejoins with its slots (empty: no persistence)."""
        self.processes[node] = self._node(self.ports[node])
        self._wait_for_pings()
        self.wait_until_ok()

    def command(self, port: int, *words: str) -> str:
        return subprocess.run([self.cli, "-p", str(port), *words], capture_output=True, text=True, timeout=10).stdout

    def flush(self) -> None:
        """Empty every master (a test's own, empty cluster; Redis Cluster has one database)."""
        for port in self.ports:
            self.command(port, "FLUSHALL")

    def keys(self) -> dict[int, list[str]]:
        """Every key, by the port of the master holding it."""
        return {port: sorted(self.command(port, "--scan").split()) for port in self.ports}

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        self.processes = []


class Served:
    """``cloud-backup-mock serve`` in a subprocess on a free port; its stderr in a file."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None):
        self.args, self.port = args, port
        self.env = {**os.environ, **(env or {})}
        self.log = Path(tempfile.mkstemp(prefix="cbm-serve-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Served":
        self.port = self.port or free_port()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cloud_backup_mock", "serve", "--port", str(self.port), *self.args],
                stdout=out, stderr=out, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/__mock/health", timeout=1).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"serve did not answer within {timeout} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None


class Alternating(httpx.BaseTransport):
    """Sends each request to the next of several servers, the Host header unchanged (as a load balancer does)."""

    def __init__(self, urls: list[str]):
        self.targets = [httpx.URL(url) for url in urls]
        self.turn = 0
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = self.targets[self.turn % len(self.targets)]
        self.turn += 1
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class Sandbox:
    """One or more ``serve`` processes sharing one Redis database."""

    def __init__(self, redis_url: str, replicas: int = 1, workers: int = 1, *extra: str):
        args = ["--state", redis_url, "--auto-report-after", "never", *extra]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.servers = [Served(*args) for _ in range(replicas)]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def start(self) -> "Sandbox":
        for server in self.servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def client(self, **options: Any) -> httpx.Client:
        """A client whose requests take turns among the servers."""
        return httpx.Client(base_url=self.urls[0], transport=Alternating(self.urls), timeout=30, **options)


class RemoteMock:
    """What the acceptance tests use of ``MockServer``, done through a served mock's admin API."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.url = sandbox.urls[0]
        self.admin = sandbox.client()

    def use(self, *scenarios: str, project_id: str = DOCS_PROJECT) -> None:
        answer = self.admin.put(f"/__mock/projects/{project_id}/scenarios", json={"active": list(scenarios)})
        if answer.status_code != 200:
            raise ValueError(answer.json()["message"])

    def reset(self) -> None:
        assert self.admin.post("/__mock/reset").status_code == 200
        assert self.admin.delete("/__mock/requests").status_code == 200

    def requests(self, operation: str | None = None, project_id: str | None = None) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("operation", operation), ("project_id", project_id)) if v is not None}
        return self.admin.get("/__mock/requests", params={**query, "limit": 1000}).json()["requests"]

    def calls(self, operation: str, project_id: str | None = None) -> list[dict[str, Any]]:
        return self.requests(operation, project_id)

    def advance(self, seconds: float, project_id: str = DOCS_PROJECT) -> dict[str, Any]:
        answer = self.admin.post(f"/__mock/projects/{project_id}/clock", json={"advance": seconds})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self.admin.close()
