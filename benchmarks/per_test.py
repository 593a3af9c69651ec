"""What a client's test suite pays per test for its HTTP double: the same small tests, four ways.

    .venv/bin/pip install -e '.[bench]'     # pytest-httpserver and respx, for the two anchors
    .venv/bin/python benchmarks/per_test.py [--tests 200] [--rounds 5] [--only fixture|transport|httpserver|respx]

Every way runs the same ``--tests`` tests, a cycle of three kinds (one, two and three requests), each
asserting status and body, with the double's set-up and tear-down between tests as its pytest fixture
does them:

- ``fixture``: ``MockServer`` (the ``cloud_backup_mock`` fixture's server), over its socket: ``reset()``
  before and after each test, ``assert_no_handler_errors()`` and ``assert_all_called()`` after;
- ``transport``: the same, with the requests through ``mock.transport`` (no socket);
- ``httpserver``: pytest-httpserver's ``HTTPServer``, its stubs written by hand for the same answers
  (``expect_request``/``expect_ordered_request``), ``check_assertions()`` and ``clear()`` after each test;
- ``respx``: a ``respx.mock`` router per test with the same answers, ``assert_all_called`` on leaving it.

Each way keeps one ``httpx.Client`` for the run (made outside the timing, as a suite's session fixture
would), so what is timed is the double: its set-up, its answers and its tear-down. Rounds alternate the
order of the ways; a way's figure is the median round's time per test, in CPU time of the process (the
client, the servers' threads and the kernel's work for the sockets are all this process's; other
processes' load moves it far less than the wall clock) and in wall time. The servers start once, outside
the timing (their start-up is a session's, not a test's). Prints a Markdown table with the ratios the
goals name (fixture / httpserver, transport / respx) and a split of a mock test: reset, requests, checks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROJECT, AGENT_ID, TOKEN = "110011", "8f135b4f-7a69-4b8a-947f-5e80d772fd97", "0f6e9f63600142f0a970911583522217"
AGENT = f"/v2/{PROJECT}/agents/{AGENT_ID}"
TOKENS = f"/v2/{PROJECT}/agents/tokens"
CREDENTIALS = json.loads((ROOT / "examples" / "requests" / "authenticate-agent.json").read_text())
HEADERS = {"X-Auth-Token": TOKEN}
WAYS = ["fixture", "transport", "httpserver", "respx"]


def answers() -> dict[str, Any]:
    """The bodies the hand-written stubs give: the mock's own answers, read once."""
    from cloud_backup_mock.testing import MockServer

    with MockServer() as mock, httpx.Client(base_url=mock.url, headers=HEADERS) as client:
        agent = client.get(AGENT).json()
        token = client.post(TOKENS, json=CREDENTIALS).json()
    return {"agent": agent, "token": token, "unavailable": {"message": "Service Unavailable", "errors": []}}


# ---- the tests: each takes a client and asserts on what it gets (the same for every way)
def test_get_agent(client: httpx.Client, bodies: dict[str, Any]) -> None:
    answer = client.get(AGENT)
    assert answer.status_code == 200 and answer.json()["id"] == AGENT_ID


def test_token_then_agent(client: httpx.Client, bodies: dict[str, Any]) -> None:
    token = client.post(TOKENS, json=CREDENTIALS)
    assert token.status_code == 200 and "id" in token.json()["token"]
    answer = client.get(AGENT, headers={"X-Auth-Token": token.json()["token"]["id"]})
    assert answer.status_code == 200 and answer.json()["name"] == bodies["agent"]["name"]


def test_retry_after_503(client: httpx.Client, bodies: dict[str, Any]) -> None:
    statuses = [client.get(AGENT).status_code for _ in range(3)]
    assert statuses == [503, 503, 200], statuses


KINDS = [test_get_agent, test_token_then_agent, test_retry_after_503]


# ---- the ways: each returns run(test) -> None, doing set-up, the test and tear-down
def mock_way(mock: Any, client: httpx.Client, bodies: dict[str, Any], split: dict[str, float]) -> Callable:
    def run(test: Callable) -> None:
        started = time.perf_counter()
        mock.reset()
        if test is test_retry_after_503:
            mock.respond("getAgent", status=503, headers={"Retry-After": "1"}, times=2)
        set_up = time.perf_counter()
        test(client, bodies)
        done = time.perf_counter()
        mock.assert_no_handler_errors()
        mock.assert_all_called()
        mock.reset()
        ended = time.perf_counter()
        split["set-up (reset, respond)"] += set_up - started
        split["the test's requests"] += done - set_up
        split["tear-down (checks, reset)"] += ended - done

    return run


def httpserver_way(server: Any, bodies: dict[str, Any]) -> Callable:
    from werkzeug import Response

    def run(test: Callable) -> None:
        if test is test_get_agent:
            server.expect_request(AGENT, method="GET").respond_with_json(bodies["agent"])
        elif test is test_token_then_agent:
            server.expect_request(TOKENS, method="POST").respond_with_json(bodies["token"])
            server.expect_request(AGENT, method="GET").respond_with_json(bodies["agent"])
        else:
            unavailable = json.dumps(bodies["unavailable"])
            for _ in range(2):
                server.expect_ordered_request(AGENT, method="GET").respond_with_response(
                    Response(unavailable, status=503, headers={"Retry-After": "1"}, content_type="application/json"))
            server.expect_ordered_request(AGENT, method="GET").respond_with_json(bodies["agent"])
        test(server.client, bodies)
        server.check_assertions()
        server.clear()

    return run


def respx_way(base_url: str, client: httpx.Client, bodies: dict[str, Any]) -> Callable:
    import respx

    def run(test: Callable) -> None:
        with respx.mock(base_url=base_url, assert_all_called=True) as router:
            if test is test_get_agent:
                router.get(AGENT).respond(json=bodies["agent"])
            elif test is test_token_then_agent:
                router.post(TOKENS).respond(json=bodies["token"])
                router.get(AGENT).respond(json=bodies["agent"])
            else:
                router.get(AGENT).mock(side_effect=[
                    httpx.Response(503, json=bodies["unavailable"], headers={"Retry-After": "1"}),
                    httpx.Response(503, json=bodies["unavailable"], headers={"Retry-After": "1"}),
                    httpx.Response(200, json=bodies["agent"])])
            test(client, bodies)

    return run


def timed(run: Callable, tests: int) -> tuple[float, float]:
    """(CPU seconds of the process, wall seconds) per test, for ``tests`` tests cycling through the kinds."""
    cpu, wall = time.process_time(), time.perf_counter()
    for index in range(tests):
        run(KINDS[index % len(KINDS)])
    return (time.process_time() - cpu) / tests, (time.perf_counter() - wall) / tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", action="append", choices=WAYS)
    options = parser.parse_args(argv)
    ways = options.only or WAYS

    from cloud_backup_mock.testing import MockConfig, MockServer

    # pytest captures log records; here they are written where nobody reads them (werkzeug logs each request)
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.INFO, force=True)
    bodies = answers()
    runs: dict[str, Callable] = {}
    closing: list[Callable] = []
    splits: dict[str, dict[str, float]] = {}
    config = MockConfig(settings={"auto_report_after_seconds": None})
    mock = MockServer(config).start()
    closing.append(mock.stop)
    for way in ("fixture", "transport"):
        if way in ways:
            client = httpx.Client(base_url=mock.url, headers=HEADERS,
                                  transport=mock.transport if way == "transport" else None)
            closing.append(client.close)
            splits[way] = {"set-up (reset, respond)": 0.0, "the test's requests": 0.0, "tear-down (checks, reset)": 0.0}
            runs[way] = mock_way(mock, client, bodies, splits[way])
    if "httpserver" in ways:
        from pytest_httpserver import HTTPServer

        server = HTTPServer()
        server.start()
        server.client = httpx.Client(base_url=server.url_for("/").rstrip("/"), headers=HEADERS)
        closing += [server.client.close, server.stop]
        runs["httpserver"] = httpserver_way(server, bodies)
    if "respx" in ways:
        client = httpx.Client(base_url="http://respx.test", headers=HEADERS)
        closing.append(client.close)
        runs["respx"] = respx_way("http://respx.test", client, bodies)

    try:
        for run in runs.values():  # warm-up: first-use imports and caches
            timed(run, 30)
        for split in splits.values():
            split.update(dict.fromkeys(split, 0.0))
        figures: dict[str, list[tuple[float, float]]] = {way: [] for way in runs}
        for number in range(options.rounds):
            order = list(runs) if number % 2 == 0 else list(reversed(runs))
            for way in order:
                figures[way].append(timed(runs[way], options.tests))
    finally:
        for close in reversed(closing):
            close()

    cpu = {way: statistics.median(c for c, _ in values) * 1000 for way, values in figures.items()}
    wall = {way: statistics.median(w for _, w in values) * 1000 for way, values in figures.items()}
    print(f"{options.tests} tests x {options.rounds} rounds; ms per test (set-up + requests + tear-down), "
          f"median round; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:\n")
    print("| way | CPU ms per test | wall ms per test | CPU ms, each round |")
    print("|---|---|---|---|")
    for way in figures:
        rounds = ", ".join(f"{c * 1000:.2f}" for c, _ in figures[way])
        print(f"| {way} | {cpu[way]:.2f} | {wall[way]:.2f} | {rounds} |")
    print()
    for mine, anchor, most in [("fixture", "httpserver", 1.0), ("transport", "respx", 2.0)]:
        if mine in cpu and anchor in cpu:
            ratio, wall_ratio = cpu[mine] / cpu[anchor], wall[mine] / wall[anchor]
            print(f"{mine} / {anchor}: {ratio:.2f} in CPU time, {wall_ratio:.2f} in wall time (goal <= {most:g}): "
                  f"{'PASS' if ratio <= most else 'FAIL'}")
    count = options.tests * options.rounds
    for way, split in splits.items():
        total = sum(split.values()) or 1.0
        parts = ", ".join(f"{name} {seconds / count * 1000:.3f} ms ({seconds / total:.0%})"
                          for name, seconds in split.items())
        print(f"{way}, a test's wall time: {parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
