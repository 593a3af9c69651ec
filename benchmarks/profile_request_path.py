"""Where a request's time goes inside the mock: cProfile of the ASGI app, in process.

    .venv/bin/python benchmarks/profile_request_path.py [--requests 3000] [--op getAgent|verify|token|all] [--top 40]

The app is the one ``cloud-backup-mock serve`` runs (default scenarios, text request log written to
/dev/null), called directly with ASGI messages, so no client, socket or HTTP parser is in the picture: what
is left is Connexion's middleware stack, validation, security, our exchange middleware, the engine,
templating and the JSON answer. The summary groups inclusive time by layer; --top prints the usual
cProfile listing too. (For the HTTP layers, profile a real server: py-spy record -p PID under wrk.)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import AGENT_ID, PROJECT_ID, TOKEN, load_spec, request_mix  # noqa: E402

# What to sum, as (label, filename part, function name or None for "any in that file").
# Inclusive ("cumulative") times of the outermost matching frame; layers nest, so they do not add to 100 %.
LAYERS = [
    ("whole request (ASGI app)", "connexion/middleware/main.py", "__call__"),
    ("exchange middleware: __call__", "mock/http/exchange.py", "__call__"),
    ("exchange: _finish (journal + log)", "mock/http/exchange.py", "_finish"),
    ("  journal record", "mock/engine/journal.py", "record"),
    ("  log record formatting/emit", "logging/__init__.py", "handle"),
    ("Swagger UI filter (ours, mock/http/app.py)", "mock/http/app.py", "__call__"),
    ("routing (ours, the route index)", "mock/http/routing.py", "__call__"),
    ("  route index match", "mock/contract/routes.py", "match"),
    ("connexion security middleware", "connexion/middleware/security.py", "__call__"),
    ("  security: verify (the token sent)", "mock/http/security.py", "verify"),
    ("request validation (ours)", "mock/http/validation.py", "__call__"),
    ("  parameter validation", "connexion/validators/parameter.py", "validate"),
    ("  body: parse_json_body", "mock/http/validation.py", "parse_json_body"),
    ("  body: _string_problem", "mock/http/validation.py", "_string_problem"),
    ("  schema checks (contract.schema_errors)", "mock/contract/schemas.py", "schema_errors"),
    ("  exchange: _describe (the engine's part of the request)", "mock/http/exchange.py", "_describe"),
    ("dispatch: EngineOperation", "mock/http/dispatch.py", "__call__"),
    ("    engine.handle", "mock/engine/engine.py", "handle"),
    ("      authenticate", "mock/engine/engine.py", "authenticate"),
    ("      rules.chain", "mock/engine/rules.py", "chain"),
    ("      world.project", "mock/engine/world.py", "project"),
    ("      rules.walk", "mock/engine/rules.py", "walk"),
    ("      template_context", "mock/engine/rules.py", "template_context"),
    ("      templating.render", "mock/engine/templating.py", "render"),
    ("      rules.respond", "mock/engine/rules.py", "respond"),
]


def build_app():
    warnings.filterwarnings("ignore")
    from cloud_backup_mock.config import MockConfig
    from cloud_backup_mock.http.app import create_app
    from cloud_backup_mock.http.logs import configure_process

    configure_process(log_format="text", stream=open(os.devnull, "w"))  # as serve sets up its log
    return create_app(MockConfig(log_format="text"))


async def call(app, req, host: bytes = b"127.0.0.1:8080") -> int:
    """One request straight into the ASGI app (no client, no socket); its status."""
    headers = [(b"host", host)] + [(k.lower().encode(), v.encode()) for k, v in req.headers.items()]
    if req.body is not None:
        headers.append((b"content-length", str(len(req.body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": req.method,
             "scheme": "http", "path": req.path, "raw_path": req.path.encode(), "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080)}
    done = asyncio.Event()
    body_sent = False
    status = 0

    async def receive():
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": req.body or b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return status


GROWN_PROJECTS, GROWN_AGENTS = 10_000, 1_000


async def grow(app, reqs) -> None:
    """The world of a sandbox in use for weeks: 10,000 projects with state, 1,000 agents in the project
    under test, and a full journal (as many requests of the mix as it keeps)."""
    engine = app.engine
    store = engine.store
    for n in range(GROWN_PROJECTS - 1):
        await store.project(f"grown-{n}")
    world = await store.project(PROJECT_ID)
    body = engine.contract.operation("registerAgent").request_example

    def register(world):
        world.apply("configure", {"max_agents": GROWN_AGENTS + 100})
        while len(world.agents) < GROWN_AGENTS:
            world.apply("register_agent", {"body": body, "base_url": "http://127.0.0.1:8080"})

    await store.transaction(world, register)
    for i in range(engine.limits.journal_entries):
        await call(app, reqs[i % len(reqs)])
    projects, journal = (await store.health())["projects"], await app.journal.stats()
    assert projects == GROWN_PROJECTS and journal["entries"] == engine.limits.journal_entries


async def drive(app, reqs, count: int, profiler: cProfile.Profile | None = None,
                clock=time.process_time) -> float:
    """Seconds of ``clock`` (CPU time of this process by default: others' load hardly moves it) for
    ``count`` requests, after 100 unmeasured."""
    for i in range(100):
        await call(app, reqs[i % len(reqs)])
    if profiler:
        profiler.enable()
    started = clock()
    for i in range(count):
        r = reqs[i % len(reqs)]
        status = await call(app, r)
        if status != r.expected:
            raise SystemExit(f"{r.name}: {status}")
    elapsed = clock() - started
    if profiler:
        profiler.disable()
    return elapsed


def layer_times(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """(label, inclusive seconds, calls) per layer: cProfile's cumulative time of the matching
    function (the outermost one where several match, e.g. nested routers)."""
    raw = stats.stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
    out = []
    for label, file_part, func in LAYERS:
        best = (0.0, 0)
        for (filename, _line, name), (cc, _nc, tt, ct, _callers) in raw.items():
            if file_part in filename and (func is None or name == func):
                best = max(best, (ct, cc))
        out.append((label, *best))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--op", choices=["getAgent", "verify", "token", "all"], default="all")
    parser.add_argument("--top", type=int, default=0, help="also print cProfile's top N by cumulative time")
    parser.add_argument("--no-profile", action="store_true", help="only time the requests")
    parser.add_argument("--dump", type=Path, help="write the raw pstats here")
    parser.add_argument("--grown", action="store_true",
                        help=f"first grow the world: {GROWN_PROJECTS:,} projects, {GROWN_AGENTS:,} agents in the "
                             "project under test, a full journal")
    args = parser.parse_args()
    mix = request_mix(load_spec())
    pick = {"getAgent": [mix[2]], "verify": [mix[1]], "token": [mix[0]], "all": mix}[args.op]
    app = build_app()
    if args.grown:
        asyncio.run(grow(app, mix))
    if args.no_profile:
        elapsed = asyncio.run(drive(app, pick, args.requests))
        print(f"{args.op}: {args.requests} requests, {elapsed / args.requests * 1e6:.0f} µs of CPU each")
        return
    profiler = cProfile.Profile()
    elapsed = asyncio.run(drive(app, pick, args.requests, profiler))
    stats = pstats.Stats(profiler)
    if args.dump:
        stats.dump_stats(args.dump)
    whole = next(t for label, t, _ in layer_times(stats) if label.startswith("whole"))
    print(f"# {args.op}: {args.requests} requests, {elapsed / args.requests * 1e6:.0f} µs each under cProfile")
    print(f"{'layer (inclusive)':62} {'µs/req':>8} {'% of app':>8} {'calls/req':>9}")
    for label, total, calls in layer_times(stats):
        print(f"{label:62} {total / args.requests * 1e6:8.0f} {100 * total / whole:7.1f}% {calls / args.requests:9.1f}")
    if args.top:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(args.top)
        print(buf.getvalue())


if __name__ == "__main__":
    main()
