"""Side-by-side performance of cloud-backup-mock, Prism and WireMock on this machine.

Run from the repository root:  .venv/bin/python benchmarks/compare.py  (see benchmarks/README.md)

One run installs Prism and WireMock into benchmarks/.cache/ when missing, starts each server in
turn on a free loopback port, measures start-up, latency, throughput and memory on the same
request mix, prints a Markdown table with the ratios to Prism and WireMock and the issue's
goals, and writes it to benchmarks/results.md. It exits 1 when any request got a wrong answer
(2 when a tool is missing or a server does not start).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
CACHE = BENCH / ".cache"
SPEC = ROOT / "spec" / "openapi.yaml"
WORLD = ROOT / "scenarios" / "world.yaml"
RESULTS = BENCH / "results.md"

# The anchors, pinned (versions that work here with Node 20 and Java 17).
PRISM_PACKAGE, PRISM_VERSION = "@stoplight/prism-cli", "5.16.0"
WIREMOCK_PACKAGE, WIREMOCK_VERSION = "wiremock", "3.13.2"
PRISM_BIN = CACHE / "node_modules" / ".bin" / "prism"
WIREMOCK_JAR = CACHE / "node_modules" / "wiremock" / "build" / f"wiremock-standalone-{WIREMOCK_VERSION}.jar"
WIREMOCK_ROOT = CACHE / "wiremock"

# The docs' example project, agent and token (the mock's default world knows them).
PROJECT_ID = "110011"
AGENT_ID = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"
TOKEN = "0f6e9f63600142f0a970911583522217"
HOST = "127.0.0.1"  # every byte of traffic stays on loopback

WRK_CONNECTIONS = 16
WRK_THREADS = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc's CPU times are in these


class BenchError(Exception):
    """A tool is missing or a server did not start: the run cannot go on (exit 2)."""


# ----------------------------------------------------------------------------------------------
# The request mix, from the contract


@dataclass
class Req:
    name: str  # operationId
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    expected: int  # status our mock and the WireMock stubs answer


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path template, operation)."""
    found = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


def fill(template: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def request_mix(spec: dict[str, Any]) -> list[Req]:
    ops = operations(spec)
    auth = {"X-Auth-Token": TOKEN}
    json_type = {"Content-Type": "application/json"}
    method, path, op = ops["authenticateAgent"]
    token_body = op["requestBody"]["content"]["application/json"]["example"]
    mix = [Req("authenticateAgent", method, fill(path, project_id=PROJECT_ID), dict(json_type),
               json.dumps(token_body).encode(), 200)]
    method, path, op = ops["requestVaultPasswordVerification"]
    mix.append(Req("requestVaultPasswordVerification", method, fill(path, project_id=PROJECT_ID, agent_id=AGENT_ID),
                   {**json_type, **auth}, json.dumps(op["x-docs-example-request"]["body"]).encode(), 202))
    method, path, op = ops["getAgent"]
    mix.append(Req("getAgent", method, fill(path, project_id=PROJECT_ID, agent_id=AGENT_ID), dict(auth), None, 200))
    return mix


# ----------------------------------------------------------------------------------------------
# Checking answers


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def check_exact(req: Req, ans: Answer) -> str | None:
    """Our mock's and the WireMock stubs' answers: the default world's status, and its shape."""
    if ans.status != req.expected:
        return f"{req.name}: status {ans.status}, expected {req.expected}: {ans.body[:200]!r}"
    try:
        if req.name == "authenticateAgent":
            token = json.loads(ans.body)["token"]
            if not (isinstance(token["id"], str) and token["id"] and isinstance(token["expires"], str)):
                return f"{req.name}: no token id/expires in {ans.body[:200]!r}"
        elif req.name == "requestVaultPasswordVerification":
            location = ans.headers.get("location", "")
            if f"/v2/{PROJECT_ID}/agents/{AGENT_ID}/vault-password-verification-requests/" not in location:
                return f"{req.name}: Location {location!r} is not the verification request's URL"
        elif req.name == "getAgent":
            if json.loads(ans.body).get("id") != AGENT_ID:
                return f"{req.name}: body is not agent {AGENT_ID}: {ans.body[:200]!r}"
    except (ValueError, KeyError, TypeError) as exc:
        return f"{req.name}: unexpected body ({exc}): {ans.body[:200]!r}"
    return None


def check_2xx(req: Req, ans: Answer) -> str | None:
    """Prism answers from the examples: any 2xx it documents is right."""
    if not 200 <= ans.status < 300:
        return f"{req.name}: status {ans.status}, expected a 2xx: {ans.body[:200]!r}"
    return None


def send(conn: http.client.HTTPConnection, req: Req) -> Answer:
    conn.request(req.method, req.path, body=req.body, headers=req.headers)
    resp = conn.getresponse()
    body = resp.read()
    return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)


# ----------------------------------------------------------------------------------------------
# Installing the anchors


def ensure_anchors() -> None:
    if PRISM_BIN.exists() and WIREMOCK_JAR.exists() and _installed(PRISM_PACKAGE) == PRISM_VERSION \
            and _installed(WIREMOCK_PACKAGE) == WIREMOCK_VERSION:
        return
    npm = shutil.which("npm")
    if not npm:
        raise BenchError("npm is needed to install Prism and WireMock (Node 20 + npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"installing {PRISM_PACKAGE}@{PRISM_VERSION} and {WIREMOCK_PACKAGE}@{WIREMOCK_VERSION} into {CACHE} ...",
          file=sys.stderr, flush=True)
    # --ignore-scripts: nothing runs at install time (one dependency has a telemetry postinstall).
    env = {**os.environ, "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
    subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--ignore-scripts",
                    "--loglevel=error", f"{PRISM_PACKAGE}@{PRISM_VERSION}", f"{WIREMOCK_PACKAGE}@{WIREMOCK_VERSION}"],
                   check=True, env=env, stdout=sys.stderr)
    if not PRISM_BIN.exists() or not WIREMOCK_JAR.exists():
        raise BenchError(f"npm install did not give {PRISM_BIN} and {WIREMOCK_JAR}")


def _installed(package: str) -> str | None:
    try:
        return json.loads((CACHE / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


# ----------------------------------------------------------------------------------------------
# WireMock stubs generated from the contract, equivalent to the mock's default answers


def _json_schema(node: Any, spec: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema (draft 4): refs inlined, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [_json_schema(v, spec) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _json_schema(copy.deepcopy(target), spec)
    out = {k: _json_schema(v, spec) for k, v in node.items()
           if k not in ("nullable", "example", "examples", "description", "readOnly", "writeOnly")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def wiremock_mappings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Stubs for the three operations of the mix, from the contract:

    - the request side keeps what the mock checks: method and path template, the X-Auth-Token of the
      docs (an always-valid token of the default world) where the operation needs one, a JSON
      Content-Type and a body that matches the request schema (WireMock's matchesJsonSchema);
    - the response side is the mock's default answer: the documented status, the documented example
      (getAgent: the default world's agent is the docs' example), and WireMock templates for what the
      default world makes up per request (token id and expiry, the new request's Location).
    """
    ops = operations(spec)
    settings = (yaml.safe_load(WORLD.read_text()) or {}).get("settings", {}) if WORLD.exists() else {}
    ttl = int(settings.get("token_ttl_seconds", 86400))
    auth_header = spec["components"]["securitySchemes"]["AuthToken"]["name"]
    mappings = []

    def request_side(operation_id: str, path_values: dict[str, str]) -> dict[str, Any]:
        method, path, op = ops[operation_id]
        # WireMock 3's urlPathTemplate takes the OpenAPI form /v2/{project_id}/...
        request: dict[str, Any] = {"method": method, "urlPathTemplate": path}
        if path_values:
            request["pathParameters"] = {k: {"equalTo": v} for k, v in path_values.items()}
        headers = {}
        if op.get("security", spec.get("security")) not in ([], None):
            headers[auth_header] = {"equalTo": TOKEN}
        media = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
        if media:
            headers["Content-Type"] = {"contains": "application/json"}
            request["bodyPatterns"] = [{"matchesJsonSchema": _json_schema(media["schema"], spec), "schemaVersion": "V4"}]
        if headers:
            request["headers"] = headers
        return request

    # authenticateAgent: 200 {"token": {"id", "expires"}} — a fresh token each time, as the default world issues.
    _, _, op = ops["authenticateAgent"]
    example = copy.deepcopy(op["responses"]["200"]["content"]["application/json"]["example"])
    example["token"]["id"] = "{{randomValue length=32 type='HEXADECIMAL'}}"
    example["token"]["expires"] = f"{{{{now offset='{ttl} seconds'}}}}"  # ISO 8601, UTC
    mappings.append({"name": "authenticateAgent (default world: 200)",
                     "request": request_side("authenticateAgent", {}),
                     "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                                  "jsonBody": example, "transformers": ["response-template"]}})

    # requestVaultPasswordVerification: 202, no body, Location of the new request's read operation.
    _, read_path, _ = ops["getVaultPasswordVerification"]
    location = "{{request.baseUrl}}" + fill(read_path, project_id="{{request.path.project_id}}",
                                             agent_id="{{request.path.agent_id}}",
                                             request_id="{{randomValue type='UUID'}}")
    mappings.append({"name": "requestVaultPasswordVerification (default world: 202)",
                     "request": request_side("requestVaultPasswordVerification", {}),
                     "response": {"status": 202, "headers": {"Location": location},
                                  "transformers": ["response-template"]}})

    # getAgent: 200 with the docs' agent (the default world's agent of the docs' example).
    _, _, op = ops["getAgent"]
    mappings.append({"name": "getAgent (default world: 200, the docs' agent)",
                     "request": request_side("getAgent", {"agent_id": AGENT_ID}),
                     "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                                  "jsonBody": op["responses"]["200"]["content"]["application/json"]["example"]}})
    return mappings


def write_wiremock_root(spec: dict[str, Any]) -> Path:
    mappings_dir = WIREMOCK_ROOT / "mappings"
    if WIREMOCK_ROOT.exists():
        shutil.rmtree(WIREMOCK_ROOT)
    mappings_dir.mkdir(parents=True)
    (WIREMOCK_ROOT / "__files").mkdir()
    for i, mapping in enumerate(wiremock_mappings(spec)):
        (mappings_dir / f"{i:02d}.json").write_text(json.dumps(mapping, indent=2))
    return WIREMOCK_ROOT


# ----------------------------------------------------------------------------------------------
# Servers


@dataclass
class Server:
    key: str
    label: str
    command: Callable[[int], list[str]]
    check: Callable[[Req, Answer], str | None]
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    redis: "RedisServer | None" = None  # the Redis it keeps state in: emptied before each start, measured beside it


class RedisServer:
    """A redis-server of this run (no persistence, loopback, a free port), for the shared-state row."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchError("redis-server is needed for the --state redis row: apt-get install -y redis-server")
        self.port = free_port()
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", HOST, "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.command(b"PING") != b"+PONG":
            if time.monotonic() > deadline:
                raise BenchError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def command(self, *words: bytes) -> bytes:
        try:
            with socket.create_connection((HOST, self.port), timeout=5) as sock:
                sock.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
                return sock.recv(256).strip()
        except OSError:
            return b""

    def counts(self) -> tuple[int, int]:
        """Since Redis started: round trips (``total_reads_processed``: each time it read what a client
        sent, a pipeline being one), less this call's own; and scripts run (``cmdstat_evalsha``)."""
        with socket.create_connection((HOST, self.port), timeout=5) as sock:
            sock.sendall(b"*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n")
            data = b""
            while b"\r\n" not in data or len(data) < data.index(b"\r\n") + 2 + int(data[1:data.index(b"\r\n")]):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        reads = re.search(rb"total_reads_processed:(\d+)", data)
        scripts = re.search(rb"cmdstat_evalsha:calls=(\d+)", data)
        return int(reads.group(1)) - 1, int(scripts.group(1)) if scripts else 0

    def flush(self) -> None:
        if self.command(b"FLUSHALL") != b"+OK":
            raise BenchError("could not empty the benchmark's Redis")

    def cpu_ticks(self) -> int:
        rest = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Running:
    """One started server process (in its own process group, so the whole tree is stopped)."""

    def __init__(self, server: Server, port: int):
        self.server, self.port = server, port
        if server.redis is not None:
            server.redis.flush()  # every start begins from an empty shared state
        self.log = tempfile.TemporaryFile()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(server.command(port), cwd=server.cwd, env={**os.environ, **server.env},
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, probe: Req, timeout: float = 90.0) -> float:
        """Seconds from process start to the first correct answer to ``probe``."""
        deadline = self.started + timeout
        last = "no answer"
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.server.label} exited with {self.proc.returncode} while starting:\n{self.output()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                answer = send(conn, probe)
                problem = self.server.check(probe, answer)
                if problem is None:
                    return time.perf_counter() - self.started
                last = problem
            except OSError as exc:
                last = repr(exc)
            finally:
                conn.close()
            time.sleep(0.005)
        raise BenchError(f"{self.server.label} gave no correct answer within {timeout:.0f} s (last: {last})\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:].decode("utf-8", "replace")

    def rss_bytes(self) -> int:
        """RSS of the process and all its descendants (uvicorn's workers, node children, ...)."""
        return sum(_rss(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # the group may outlive its leader (workers): make sure nothing of it is left
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ----------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Result:
    startup_s: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    latency_by_op: dict[str, list[float]] = field(default_factory=dict)
    rps: float | None = None
    wrk_requests: int = 0
    rss_bytes: int | None = None
    other_cpu: float | None = None  # share of all CPUs used by other processes during latency + throughput
    redis_cpu: float | None = None  # share of all CPUs Redis used meanwhile (the shared-state row)
    redis_rss_bytes: int | None = None  # Redis's RSS after the load
    redis_trips_sequential: float | None = None  # Redis round trips per request, one request at a time
    redis_trips_load: float | None = None  # Redis round trips per request under wrk's load
    redis_scripts_load: float | None = None  # scripts Redis ran per request under wrk's load
    redis_cpu_us: float | None = None  # Redis's CPU time per request under wrk's load, µs
    failures: list[str] = field(default_factory=list)
    rounds: list["Result"] = field(default_factory=list)  # when pooled from several rounds

    @property
    def startup_median_ms(self) -> float:
        return statistics.median(self.startup_s) * 1000

    def pct(self, p: float, values: list[float] | None = None) -> float:
        values = sorted(self.latency_ms if values is None else values)
        if not values:
            return float("nan")
        return values[max(0, min(len(values) - 1, -(-len(values) * p // 100) - 1))]


def pooled(rounds: list[Result]) -> Result:
    """One server's rounds as one result: starts and latencies pooled, the median round's throughput
    and memory, the most other processes took."""
    if len(rounds) == 1:
        return rounds[0]
    out = Result(rounds=rounds)
    for r in rounds:
        out.startup_s += r.startup_s
        out.latency_ms += r.latency_ms
        for op, values in r.latency_by_op.items():
            out.latency_by_op.setdefault(op, []).extend(values)
        out.wrk_requests += r.wrk_requests
        out.failures += r.failures
    for name, pick in (("rps", statistics.median), ("rss_bytes", statistics.median), ("other_cpu", max),
                       ("redis_cpu", statistics.median), ("redis_rss_bytes", statistics.median),
                       ("redis_trips_sequential", statistics.median), ("redis_trips_load", statistics.median),
                       ("redis_scripts_load", statistics.median), ("redis_cpu_us", statistics.median)):
        values = [getattr(r, name) for r in rounds if getattr(r, name) is not None]
        setattr(out, name, pick(values) if values else None)
    return out


def measure_latency(run: Running, mix: list[Req], count: int, warmup: int, result: Result) -> None:
    """``count`` sequential requests of the mix, one keep-alive connection, wall time per request."""
    conn = http.client.HTTPConnection(HOST, run.port, timeout=30)
    try:
        for i in range(warmup + count):
            req = mix[i % len(mix)]
            t0 = time.perf_counter()
            answer = send(conn, req)
            elapsed = (time.perf_counter() - t0) * 1000
            problem = run.server.check(req, answer)
            if problem:
                result.failures.append(f"latency run: {problem}")
                if len(result.failures) > 20:
                    break
            if answer.headers.get("connection", "").lower() == "close":
                conn.close()  # http.client reconnects on the next request
            if i >= warmup:
                result.latency_ms.append(elapsed)
                result.latency_by_op.setdefault(req.name, []).append(elapsed)
    finally:
        conn.close()


WRK_SCRIPT = r"""
-- The request mix in turn on every connection; every answer outside 2xx is counted as bad.
local bodies = %(bodies)s
local requests = {}
local threads = {}
bad = 0
first_bad = ""
counter = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i, r in ipairs(bodies) do
    requests[i] = wrk.format(r.method, r.path, r.headers, r.body)
  end
end

function request()
  counter = counter + 1
  return requests[(counter %% #requests) + 1]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200) end
  end
end

function done(summary, latency, requests)
  local total, first = 0, ""
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  io.write(string.format("BENCH_BAD %%d\n", total))
  if first ~= "" then io.write("BENCH_FIRST_BAD " .. first .. "\n") end
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_wrk_script(mix: list[Req]) -> Path:
    items = []
    for req in mix:
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in req.headers.items())
        body = _lua_string(req.body.decode()) if req.body is not None else "nil"
        items.append(f"  {{method = {_lua_string(req.method)}, path = {_lua_string(req.path)}, "
                     f"headers = {{{headers}}}, body = {body}}}")
    path = CACHE / "mix.lua"
    path.write_text(WRK_SCRIPT % {"bodies": "{\n" + ",\n".join(items) + "\n}"})
    return path


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """``--duration`` and ``--wrk-warmup``: the wrk load behind a throughput figure (see :func:`measure_load`)."""
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured wrk load (10)")
    parser.add_argument("--wrk-warmup", type=int, default=5, help="seconds of unmeasured wrk load before it (5)")


def measure_load(run: Running, script: Path, args: argparse.Namespace, result: Result) -> None:
    """A throughput figure: ``args.wrk_warmup`` s unmeasured (the JVM and V8 warm up), then ``args.duration`` s."""
    if args.wrk_warmup:
        measure_throughput(run, script, args.wrk_warmup, result, record=False)
    measure_throughput(run, script, args.duration, result)


def measure_throughput(run: Running, script: Path, duration: int, result: Result, record: bool = True) -> None:
    """wrk's requests/s over ``duration`` s; ``record=False`` for the warm-up (answers are still checked)."""
    wrk = shutil.which("wrk")
    cmd = [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--timeout", "5s", "-s", str(script),
           f"http://{HOST}:{run.port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        result.failures.append(f"wrk exited {out.returncode}: {text[-500:]}")
        return
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    bad = re.search(r"BENCH_BAD (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if not rps or not total or not bad:
        result.failures.append(f"could not read wrk's output: {text[-500:]}")
        return
    if record:
        result.rps, result.wrk_requests = float(rps.group(1)), int(total.group(1))
    if int(bad.group(1)):
        first = re.search(r"BENCH_FIRST_BAD (.*)", text)
        result.failures.append(f"wrk: {bad.group(1)} answers outside 2xx (first: {first.group(1) if first else '?'})")
    if non2xx and int(non2xx.group(1)):
        result.failures.append(f"wrk: {non2xx.group(1)} non-2xx/3xx responses")
    if sock and any(int(n) for n in sock.groups()):
        result.failures.append(f"wrk: socket errors: {sock.group(0)}")


def benchmark(server: Server, mix: list[Req], args: argparse.Namespace, script: Path) -> Result:
    result = Result()
    probe = mix[-1]  # the GET: answered only once the contract, security and the world are loaded
    for i in range(args.starts):
        run = Running(server, free_port())
        try:
            result.startup_s.append(run.wait_ready(probe))
            if i < args.starts - 1:
                continue
            print(f"  {server.label}: start-up {', '.join(f'{s * 1000:.0f}' for s in result.startup_s)} ms",
                  file=sys.stderr, flush=True)
            # the last start stays up for the rest
            for req in mix:  # one correct answer of each kind before the timings
                conn = http.client.HTTPConnection(HOST, run.port, timeout=30)
                try:
                    problem = server.check(req, send(conn, req))
                finally:
                    conn.close()
                if problem:
                    result.failures.append(f"first answer: {problem}")
            # Someone else's load on two cores spoils a measurement: measure again (same process) when
            # other processes took more than --max-other-cpu, and keep the attempt they disturbed least.
            best: Result | None = None
            for attempt in range(1 + args.retries):
                if attempt:
                    print(f"  {server.label}: other processes took {best.other_cpu:.0%} of the CPUs; measuring again",
                          file=sys.stderr, flush=True)
                    wait_for_quiet(server.label, args.quiet_timeout / 2, [], exclude=run.proc.pid)
                trial = Result(failures=result.failures)
                redis = server.redis
                others = OtherLoad(run.proc.pid, (redis.proc.pid,) if redis else ())
                redis_start = (redis.cpu_ticks(), _cpu_ticks()[1]) if redis else None
                counts = redis.counts() if redis else (0, 0)
                measure_latency(run, mix, args.requests, args.warmup, trial)
                print(f"  {server.label}: latency p50 {trial.pct(50):.2f} ms, p99 {trial.pct(99):.2f} ms",
                      file=sys.stderr, flush=True)
                if redis is not None:
                    trial.redis_trips_sequential = (redis.counts()[0] - counts[0]) / (args.requests + args.warmup)
                if args.wrk_warmup:
                    measure_throughput(run, script, args.wrk_warmup, trial, record=False)
                counts, ticks = (redis.counts(), redis.cpu_ticks()) if redis else ((0, 0), 0)
                measure_throughput(run, script, args.duration, trial)
                if redis is not None and trial.wrk_requests:
                    trips, scripts = redis.counts()
                    trial.redis_trips_load = (trips - counts[0]) / trial.wrk_requests
                    trial.redis_scripts_load = (scripts - counts[1]) / trial.wrk_requests
                    trial.redis_cpu_us = (redis.cpu_ticks() - ticks) * 1e6 / CLOCK_TICKS / trial.wrk_requests
                    print(f"  {server.label}: Redis round trips per request {trial.redis_trips_sequential:.2f} "
                          f"one at a time, {trial.redis_trips_load:.2f} under load ({trial.redis_scripts_load:.2f} "
                          f"scripts); Redis CPU {trial.redis_cpu_us:.0f} µs per request", file=sys.stderr, flush=True)
                trial.other_cpu = others.share()
                trial.rss_bytes = run.rss_bytes()
                if redis is not None:
                    ticks, total = redis.cpu_ticks(), _cpu_ticks()[1]
                    trial.redis_cpu = (ticks - redis_start[0]) / max(1, total - redis_start[1])
                    trial.redis_rss_bytes = _rss(redis.proc.pid)
                print(f"  {server.label}: {trial.rps or 0:.0f} req/s, RSS {(trial.rss_bytes or 0) / 2**20:.1f} MiB"
                      + f", other processes {trial.other_cpu:.0%} of the CPUs"
                      + (f"; FAILURES: {result.failures[:3]}" if result.failures else ""), file=sys.stderr, flush=True)
                if best is None or trial.other_cpu < best.other_cpu:
                    best = trial
                if best.other_cpu <= args.max_other_cpu or result.failures:
                    break
            result.latency_ms, result.latency_by_op = best.latency_ms, best.latency_by_op
            result.rps, result.wrk_requests = best.rps, best.wrk_requests
            result.rss_bytes, result.other_cpu = best.rss_bytes, best.other_cpu
            result.redis_cpu, result.redis_rss_bytes = best.redis_cpu, best.redis_rss_bytes
            result.redis_trips_sequential, result.redis_trips_load = best.redis_trips_sequential, best.redis_trips_load
            result.redis_scripts_load, result.redis_cpu_us = best.redis_scripts_load, best.redis_cpu_us
        finally:
            run.stop()
    return result


def _cpu_ticks() -> tuple[int, int, dict[int, int]]:
    """(idle, total) jiffies of all CPUs and utime+stime per process, from /proc."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    per_pid = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                rest = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                per_pid[int(entry.name)] = int(rest[11]) + int(rest[12])
            except (OSError, IndexError, ValueError):
                continue
    return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields[:8]), per_pid


class OtherLoad:
    """CPU time used by processes other than this script (and its wrk runs) and the server under test,
    from now to :meth:`share`, as a share of all CPUs: someone else's load on a two-core machine."""

    def __init__(self, server_pid: int, helpers: tuple[int, ...] = ()):
        self.server_pid, self.helpers = server_pid, helpers  # helpers: the server's own Redis, not someone else's
        self.start = self._sample()

    def _sample(self) -> tuple[int, int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy, total = sum(fields[:3]), sum(fields[:8])  # user, nice, system: what processes are charged with
        _, _, per_pid = _cpu_ticks()
        ours = sum(per_pid.get(pid, 0) for pid in set(_tree(self.server_pid)) | {os.getpid(), *self.helpers})
        own = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
        ours += int(own[13]) + int(own[14])  # cutime + cstime: the wrk runs, once reaped
        return busy, total, ours

    def share(self) -> float:
        busy, total, ours = self._sample()
        busy0, total0, ours0 = self.start
        return max(0.0, (busy - busy0) - (ours - ours0)) / max(1, total - total0)


def cpu_busy(seconds: float = 1.0, exclude: int | None = None) -> tuple[float, str]:
    """Share of all CPUs that processes other than the tree of ``exclude`` kept busy over ``seconds``
    (0..1), and the busiest of them."""
    def sample() -> tuple[int, int, dict[int, int]]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        _, _, per_pid = _cpu_ticks()
        return sum(fields[:3]), sum(fields[:8]), per_pid

    busy0, total0, pids0 = sample()
    time.sleep(seconds)
    busy1, total1, pids1 = sample()
    skip = set(_tree(exclude)) if exclude else set()
    used = {p: pids1[p] - pids0.get(p, pids1[p]) for p in pids1}
    mine = sum(v for p, v in used.items() if p in skip)
    others = {p: v for p, v in used.items() if p not in skip}
    who = ""
    if others and max(others.values()) > 0:
        busiest = max(others, key=others.get)
        try:
            who = Path(f"/proc/{busiest}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:100]
        except OSError:
            pass
    return max(0.0, busy1 - busy0 - mine) / max(1, total1 - total0), who


def wait_for_quiet(label: str, timeout: float, notes: list[str], threshold: float = 0.10,
                   exclude: int | None = None) -> None:
    """The machine has two cores: a run next to someone else's load says little. Wait for idle CPUs."""
    deadline = time.monotonic() + timeout
    busy, who = cpu_busy(exclude=exclude)
    while busy > threshold and time.monotonic() < deadline:
        print(f"  waiting: other processes keep the CPUs {busy:.0%} busy (busiest: {who}) ...", file=sys.stderr, flush=True)
        time.sleep(4)
        busy, who = cpu_busy(exclude=exclude)
    if busy > threshold:
        notes.append(f"before {label} other processes kept the CPUs {busy:.0%} busy ({who})")


# ----------------------------------------------------------------------------------------------
# Report


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, {mem} RAM, {platform.system()} {platform.release()}"


def versions() -> str:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0] \
        if shutil.which("java") else "?"
    wrk = run(["wrk", "-v"]).split(" [")[0] if shutil.which("wrk") else "?"
    return (f"Python {platform.python_version()}, Node {run(['node', '--version'])}, {java}, {wrk}; "
            f"Prism {PRISM_VERSION}, WireMock {WIREMOCK_VERSION}")


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


KEYS = ("mock", "mock2", "mock1r", "mock2r", "prism", "wiremock")
# The ratio columns: (heading, server, anchor).
RATIOS = [("mock ÷ Prism", "mock", "prism"), ("mock ÷ WireMock", "mock", "wiremock"),
          ("mock 2w ÷ WireMock", "mock2", "wiremock"), ("mock 2w redis ÷ Prism", "mock2r", "prism"),
          ("mock 2w redis ÷ WireMock", "mock2r", "wiremock")]


def report(results: dict[str, Result], labels: dict[str, str], args: argparse.Namespace,
           notes: list[str]) -> tuple[str, bool]:
    mock, mock2, mock1r, mock2r, prism, wire = (results.get(k) for k in KEYS)
    keys = [k for k in KEYS if k in results]

    def row(name: str, get: Callable[[Result], float | None], digits: int = 1) -> str:
        cells = [fmt(get(results[k]) if results[k].startup_s else None, digits) for k in keys]
        value = (lambda r: get(r) if r and r.startup_s else None)
        ratios = [ratio(value(results.get(a)), value(results.get(b))) for _, a, b in RATIOS]
        return f"| {name} | " + " | ".join(cells + ratios) + " |"

    def plain_row(name: str, get: Callable[[Result], float | None], digits: int = 1) -> str:
        return f"| {name} | " + " | ".join(fmt(get(results[k]), digits) for k in keys) + " |" + " |" * len(RATIOS)

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## cloud-backup-mock vs Prism and WireMock — {now}",
        "",
        f"Machine: {machine()}.  ",
        f"Software: {versions()}.  ",
        f"Mix: POST …/agents/tokens (docs' example body), POST …/vault-password-verification-requests (docs' example "
        f"body, X-Auth-Token), GET …/agents/{{id}} (X-Auth-Token), in turn. Start-up: median of {args.starts} starts, "
        f"process start to first correct GET. Latency: {args.requests} sequential requests on one keep-alive "
        f"connection after {args.warmup} warm-up. Throughput: wrk, {WRK_THREADS} threads, {WRK_CONNECTIONS} "
        f"connections, {args.duration} s after {args.wrk_warmup} s unmeasured. Memory: RSS of the process tree "
        f"after the load (Redis's own in its row)."
        + (f" {args.rounds} rounds, the servers in turn in each: starts and latencies pooled over the rounds, "
           f"throughput and memory of the median round." if args.rounds > 1 else ""),
        "",
        "| figure | " + " | ".join(labels[k] for k in keys) + " | " + " | ".join(h for h, _, _ in RATIOS) + " |",
        "|---|" + "---:|" * (len(keys) + len(RATIOS)),
        row("start-up, ms", lambda r: r.startup_median_ms, 0),
        row("latency p50, ms", lambda r: r.pct(50), 2),
        row("latency p99, ms", lambda r: r.pct(99), 2),
        row("throughput, req/s", lambda r: r.rps, 0),
        row("memory (RSS) after load, MiB", lambda r: r.rss_bytes / 2**20 if r.rss_bytes else None, 1),
        plain_row("Redis: CPU during latency + throughput, % of all CPUs",
                  lambda r: 100 * r.redis_cpu if r.redis_cpu is not None else None, 0),
        plain_row("Redis: RSS after load, MiB", lambda r: r.redis_rss_bytes / 2**20 if r.redis_rss_bytes else None, 1),
        plain_row("Redis: round trips per request, one at a time", lambda r: r.redis_trips_sequential, 2),
        plain_row("Redis: round trips per request under load", lambda r: r.redis_trips_load, 2),
        plain_row("Redis: scripts per request under load", lambda r: r.redis_scripts_load, 2),
        plain_row("Redis: CPU per request under load, µs", lambda r: r.redis_cpu_us, 0),
        plain_row("other processes' CPU during latency + throughput, % of all CPUs",
                  lambda r: 100 * r.other_cpu if r.other_cpu is not None else None, 0),
        "",
        "p50 latency by operation, ms:",
        "",
        "| operation | " + " | ".join(labels[k] for k in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for op in ("authenticateAgent", "requestVaultPasswordVerification", "getAgent"):
        lines.append(f"| {op} | " + " | ".join(
            fmt(results[k].pct(50, results[k].latency_by_op[op]), 2) if results[k].latency_by_op.get(op) else "—"
            for k in keys) + " |")

    def goal(text: str, ok: bool | None) -> str:
        return f"- {'PASS' if ok else ('FAIL' if ok is not None else 'n/a ')} — {text}"

    def cmp(a: Result | None, b: Result | None, get, op) -> tuple[bool | None, str]:
        if not a or not b or get(a) is None or get(b) is None:
            return None, "not measured"
        return op(get(a), get(b)), f"{get(a):,.2f} vs {get(b):,.2f}"

    start_up = (lambda r: r.startup_median_ms if r.startup_s else None)
    p50, p99 = (lambda r: r.pct(50) if r.latency_ms else None), (lambda r: r.pct(99) if r.latency_ms else None)
    rps, rss = (lambda r: r.rps), (lambda r: r.rss_bytes / 2**20 if r.rss_bytes else None)
    checks = [  # (what, unit, server, anchor, measure, test)
        ("start-up ≤ 0.5 × Prism's", "ms", mock, prism, start_up, lambda a, b: a <= 0.5 * b),
        ("throughput, one process ≥ 2 × Prism's", "req/s", mock, prism, rps, lambda a, b: a >= 2 * b),
        ("throughput, --workers 2 ≥ 1.2 × WireMock's", "req/s", mock2, wire, rps, lambda a, b: a >= 1.2 * b),
        ("throughput, --workers 2 --state redis ≥ WireMock's", "req/s", mock2r, wire, rps, lambda a, b: a >= b),
        ("throughput, --workers 2 --state redis ≥ 1.0 × one memory process's", "req/s", mock2r, mock, rps,
         lambda a, b: a >= b),
        ("p50 latency ≤ 0.5 × Prism's", "ms", mock, prism, p50, lambda a, b: a <= 0.5 * b),
        ("p99 latency ≤ 0.5 × Prism's", "ms", mock, prism, p99, lambda a, b: a <= 0.5 * b),
        ("p50 latency, --workers 2 --state redis ≤ Prism's", "ms", mock2r, prism, p50, lambda a, b: a <= b),
        ("p99 latency, --workers 2 --state redis ≤ Prism's", "ms", mock2r, prism, p99, lambda a, b: a <= b),
        ("memory ≤ 0.5 × Prism's", "MiB", mock, prism, rss, lambda a, b: a <= 0.5 * b),
    ]
    outcomes, goal_lines = [], []
    for what, unit, a, b, get, test in checks:
        ok, shown = cmp(a, b, get, test)
        outcomes.append(ok)
        measured = f" {unit}: {ratio(get(a), get(b))}" if ok is not None else ""
        goal_lines.append(goal(f"{what} ({shown}{measured})", ok))
    # A bound, not a ratio: Redis round trips per request of the mix under load.
    per_request = mock2r.redis_trips_load if mock2r else None
    outcomes.append(None if per_request is None else per_request <= 1.2)
    goal_lines.append(goal("Redis round trips per request of the mix under load, --workers 2 --state redis ≤ 1.2 "
                           f"({'not measured' if per_request is None else f'{per_request:.2f}'})", outcomes[-1]))
    all_pass = all(outcomes)
    lines += ["", "Goals (the performance and shared-state issues), as ratios from this run:", "", *goal_lines]
    if mock and prism and mock.rounds and len(mock.rounds) == len(prism.rounds):
        lines += ["", "Ratios in each round:", ""]
        for i in range(len(mock.rounds)):
            each = {k: results[k].rounds[i] for k in keys if len(results[k].rounds) > i}
            m, p, w = each.get("mock"), each.get("prism"), each.get("wiremock")
            m2, m2r = each.get("mock2"), each.get("mock2r")
            lines.append(f"- round {i + 1}: start-up {ratio(m.startup_median_ms, p.startup_median_ms)}, "
                         f"p50 {ratio(m.pct(50), p.pct(50))}, throughput {ratio(m.rps, p.rps)}, "
                         f"2w ÷ WireMock {ratio(m2.rps if m2 else None, w.rps if w else None)}, "
                         f"2w redis ÷ WireMock {ratio(m2r.rps if m2r else None, w.rps if w else None)}, "
                         f"memory {ratio(m.rss_bytes, p.rss_bytes)}")
    failures = [(labels[k], f) for k in keys for f in results[k].failures]
    notes = notes + [f"{labels[k]} was measured while other processes used {100 * results[k].other_cpu:.0f} % of "
                     f"the CPUs (after {args.retries} retries): its figures are pessimistic"
                     for k in keys if (results[k].other_cpu or 0) > args.max_other_cpu]
    if notes:
        lines += ["", "Notes:", *[f"- {n}" for n in notes]]
    lines += ["", f"Requests failed: {'none' if not failures else len(failures)}"]
    lines += [f"- {label}: {f}" for label, f in failures[:30]]
    return "\n".join(lines) + "\n", all_pass


# ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="starts per server for the start-up median (5)")
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests for latency (2000)")
    parser.add_argument("--warmup", type=int, default=150, help="unmeasured requests before them (150)")
    add_load_options(parser)
    parser.add_argument("--retries", type=int, default=2,
                        help="measure a server again when other processes disturbed it (2)")
    parser.add_argument("--max-other-cpu", type=float, default=0.05,
                        help="share of the CPUs other processes may take during a measurement (0.05)")
    parser.add_argument("--quiet-timeout", type=float, default=180,
                        help="wait up to this long for other processes to leave the CPUs idle before each server (180)")
    parser.add_argument("--only", action="append", choices=list(KEYS),
                        help="measure only these (repeatable; default all six)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every server this many times, in turn; figures pooled over the rounds (1)")
    parser.add_argument("--strict", action="store_true", help="also exit 1 when a goal fails")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the table (benchmarks/results.md)")
    args = parser.parse_args()

    redis: RedisServer | None = None
    try:
        if not shutil.which("wrk"):
            raise BenchError("wrk is needed for the throughput figures: apt-get install -y wrk")
        if not shutil.which("java"):
            raise BenchError("java (17+) is needed to run WireMock")
        ensure_anchors()
        # Python caches compiled modules on first import, unless PYTHONDONTWRITEBYTECODE is set (as on
        # some CI machines and containers): compile the package once, as any first run would.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mock")], check=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        spec = load_spec()
        mix = request_mix(spec)
        write_wiremock_root(spec)
        script = write_wrk_script(mix)
        mock_bin = ROOT / ".venv" / "bin" / "cloud-backup-mock"
        if not mock_bin.exists():
            mock_bin = Path(shutil.which("cloud-backup-mock") or mock_bin)
        node_env = {"SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
        redis = RedisServer() if not args.only or {"mock1r", "mock2r"} & set(args.only) else None
        servers = [
            Server("mock", "cloud-backup-mock", lambda p: [str(mock_bin), "serve", "--host", HOST, "--port", str(p)],
                   check_exact),
            Server("mock2", "cloud-backup-mock --workers 2",
                   lambda p: [str(mock_bin), "serve", "--host", HOST, "--port", str(p), "--workers", "2"], check_exact),
            Server("mock1r", "cloud-backup-mock --state redis",
                   lambda p: [str(mock_bin), "serve", "--host", HOST, "--port", str(p), "--state", redis.url],
                   check_exact, redis=redis),
            Server("mock2r", "cloud-backup-mock --workers 2 --state redis",
                   lambda p: [str(mock_bin), "serve", "--host", HOST, "--port", str(p), "--workers", "2",
                              "--state", redis.url], check_exact, redis=redis),
            Server("prism", "Prism", lambda p: [str(PRISM_BIN), "mock", str(SPEC), "-h", HOST, "-p", str(p)],
                   check_2xx, env=node_env),
            # The journal is capped like the mock's (1000 entries) so neither keeps every request of the load.
            Server("wiremock", "WireMock",
                   lambda p: ["java", "-jar", str(WIREMOCK_JAR), "--bind-address", HOST, "--port", str(p),
                              "--root-dir", str(WIREMOCK_ROOT), "--disable-banner",
                              "--max-request-journal-entries", "1000"], check_exact),
        ]
        selected = [s for s in servers if not args.only or s.key in args.only]
        if redis is not None and not any(s.redis for s in selected):
            redis.stop()
            redis = None
        rounds: dict[str, list[Result]] = {}
        labels, notes = {s.key: s.label for s in selected}, []
        for n in range(args.rounds):
            for server in selected:
                print(f"{server.label} (round {n + 1} of {args.rounds}) ...", file=sys.stderr, flush=True)
                wait_for_quiet(server.label, args.quiet_timeout, notes)
                rounds.setdefault(server.key, []).append(benchmark(server, mix, args, script))
        results = {key: pooled(rs) for key, rs in rounds.items()}
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if redis is not None:
            redis.stop()
    text, all_pass = report(results, labels, args, notes)
    print(text)
    args.output.write_text(text)
    failed = any(r.failures for r in results.values())
    if failed:
        print("error: some requests failed (see the list above)", file=sys.stderr)
        return 1
    return 1 if args.strict and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())
