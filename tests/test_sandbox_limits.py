"""A shared sandbox that careless or hostile traffic cannot exhaust, stall or break: every bound, the
journal's fairness and safety, slow clients, parameters, admin tokens, project ids, reloads, signals.
Each scaled down (small bounds, short timeouts) to run in seconds."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cloud_backup_mock.engine import complete
from cloud_backup_mock.config import Limits, MockConfig
from cloud_backup_mock.shipped import SCENARIOS_DIR
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN, MockServer

AUTH = {"X-Auth-Token": DOCS_TOKEN}
AGENT = f"/v2/110011/agents/{DOCS_AGENT}"
VERIFY = f"{AGENT}/vault-password-verification-requests"


def server(**limits):
    settings = limits.pop("settings", {})
    return MockServer(MockConfig(limits=limits, settings={"auto_report_after_seconds": None, **settings},
                                 journal_mask=limits.pop("journal_mask", []) if "journal_mask" in limits else []))


def register_body(**changes):
    from cloud_backup_mock.contract import Contract

    body = json.loads(json.dumps(Contract.load().operation("registerAgent").request_example))
    body.update(changes)
    return body


OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def close_raw_connections():
    yield
    while OPEN:
        OPEN.pop().close()


def raw_connection(mock):
    sock = socket.create_connection(("127.0.0.1", mock._server.port), timeout=10)
    OPEN.append(sock)
    return sock


def read_all(sock, timeout=10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


# ---- 1. bounds on what clients make the server hold


def test_projects_are_bounded_least_recently_used_first():
    with server(max_projects=5) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for n in range(20):
            assert client.post(f"/v2/p{n}/agents", json=register_body()).status_code == 201
            client.get(f"/v2/p0/agents/{DOCS_AGENT}")  # p0 stays in use
        assert complete(mock.engine.store.health())["projects"] == 5
        assert complete(mock.engine.store.peek("p0")) is not None and complete(mock.engine.store.peek("p1")) is None


def test_projects_only_read_keep_no_state():
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for n in range(50):
            assert client.get(f"/v2/reader{n}/agents/{DOCS_AGENT}").status_code == 200
        assert complete(mock.engine.store.health())["projects"] == 0
        assert client.post("/v2/reader0/agents", json=register_body()).status_code == 201  # a change keeps it
        assert complete(mock.engine.store.health())["projects"] == 1


def test_refused_or_invalid_requests_make_no_state():
    with server() as mock, httpx.Client(base_url=mock.url) as client:
        for n in range(50):
            assert client.get(f"/v2/new{n}/agents/{DOCS_AGENT}", headers={"X-Auth-Token": "wrong"}).status_code == 401
            assert client.post(f"/v2/bad{n}/agents", json={"name": 1}, headers=AUTH).status_code == 400
        assert complete(mock.engine.store.health())["projects"] == 0


def test_a_string_longer_than_max_field_bytes_is_refused_and_nothing_stored():
    with server(settings={"max_field_bytes": 1000}) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        answer = client.post("/v2/110011/agents", json=register_body(name="n" * 1001))
        assert answer.status_code == 400
        assert answer.json()["errors"] == ["name: 1001 bytes is longer than the mock keeps (1000; setting max_field_bytes)"]
        assert len(mock.world("110011").agents) == len(mock.engine.seed.agents)  # the seed's, nothing more


def test_a_forwarded_host_that_is_not_a_host_is_not_used():
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        answer = client.post("/v2/110011/agents", json=register_body(), headers={"X-Forwarded-Host": "x" * 300 + " evil"})
        assert answer.status_code == 201 and answer.headers["location"].startswith(mock.url + "/v2/110011/agents/")
        proxied = client.post("/v2/110011/agents", json=register_body(), headers={"X-Forwarded-Host": "api.example.com:8443"})
        assert proxied.headers["location"].startswith("http://api.example.com:8443/v2/110011/agents/")


def test_headers_over_the_limit_answer_431_and_the_server_goes_on():
    with server(max_header_bytes=4096) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        big = client.get(AGENT, headers={"X-Padding": "p" * 5000})
        assert big.status_code == 431 and big.json()["errors"] == ["max_header_bytes: 4096"]
        sock = raw_connection(mock)  # sent in pieces, never completed: refused as soon as it passes the bound
        sock.sendall(b"GET " + AGENT.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        try:
            for _ in range(10):
                sock.sendall(b"p" * 1000)
        except OSError:
            pass  # refused while still sending
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 431 ") and b'"max_header_bytes: 4096"' in answer
        assert client.get(AGENT).status_code == 200


def test_journal_is_bounded_by_bytes_and_cuts_bodies():
    limits = {"journal_bytes": 64 * 1024, "journal_body_bytes": 1024}
    with server(**limits) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for _ in range(40):
            client.post(VERIFY, content=b'{"encrypted_password_hex": "' + b"a" * 30000 + b'"}',
                        headers={"Content-Type": "application/json"})
        assert 0 < complete(mock.journal.stats())["bytes"] <= 64 * 1024
        entry = mock.requests()[-1]
        assert entry["body_size"] == 30000 + 30 and isinstance(entry["body"], str) and len(entry["body"]) == 1024


def test_a_noisy_project_evicts_its_own_entries_not_others():
    with server(journal_entries=50) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for _ in range(3):
            client.get(f"/v2/quiet/agents/{DOCS_AGENT}")
        for _ in range(200):
            client.get(f"/v2/noisy/agents/{DOCS_AGENT}")
        assert len(mock.requests(project_id="quiet")) == 3
        assert len(mock.requests()) == 50


# ---- 2. reads: paginated, filtered by index


def test_journal_pages_with_limit_and_after():
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for _ in range(25):
            client.get(AGENT)
        first = client.get("/__mock/requests", params={"limit": 10}).json()
        assert len(first["requests"]) == 10 and first["next_after"] == first["requests"][-1]["id"]
        ids = [e["id"] for e in first["requests"]]
        after = first["next_after"]
        while after is not None:
            page = client.get("/__mock/requests", params={"limit": 10, "after": after}).json()
            ids += [e["id"] for e in page["requests"]]
            after = page["next_after"]
        assert ids == sorted(ids) and len(ids) == len(set(ids)) == 25
        assert client.get("/__mock/requests", params={"project_id": "nobody"}).json() == {
            "requests": [], "size": 1000, "next_after": None}
        assert client.get("/__mock/requests", params={"limit": 5000}).status_code == 400


# ---- 3. what is stored can be read back


@pytest.mark.parametrize("body", [b'{"agent_id": NaN}', b'{"agent_id": 1e400}', b'{"agent_id": "\\ud800"}',
                                  b'{"agent_id": Infinity}', b'\xff\xfe not utf-8'])
def test_poison_bodies_are_refused_and_the_journal_still_reads(body):
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        answer = client.post(VERIFY, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.json()["message"].startswith("Invalid request: ")
        listed = client.get("/__mock/requests")
        assert listed.status_code == 200
        json.dumps(listed.json(), allow_nan=False)
        assert client.get(AGENT).status_code == 200


def test_a_journaled_value_json_cannot_carry_is_a_marked_placeholder():
    from cloud_backup_mock.engine.journal import MemoryJournal

    journal = MemoryJournal()
    journal.record({"time": time.time(), "project_id": "p", "operation": None, "method": "POST", "path": "/x",
                    "query": b"", "headers": [], "body": b'{"a": NaN, "b": 1e999, "c": "\\udc80"}', "status": 400},
                   raw=True)
    (entry,) = complete(journal.read())
    assert entry["body"] == {"a": "[not representable in JSON: NaN]", "b": "[not representable in JSON: inf]",
                             "c": "[not representable in JSON: \\udc80]"}
    json.dumps(entry, allow_nan=False)


# ---- 4. secrets masked


def test_secrets_are_masked_for_the_admin_api_and_bodies_shown_to_the_owning_test():
    config = MockConfig(journal_mask=["X-Team-Secret", "encrypted_password_hex"],
                        settings={"auto_report_after_seconds": None})
    with MockServer(config) as mock, httpx.Client(base_url=mock.url) as client:
        body = {"id": DOCS_AGENT, "password": "hunter2"}
        client.post("/v2/110011/agents/tokens", json=body, headers={
            "Authorization": "Bearer a", "Cookie": "s=1", "X-Admin-Token": "adm", "X-Team-Secret": "t",
            "X-Auth-Token": DOCS_TOKEN})
        client.post(VERIFY, json={"encrypted_password_hex": "00ff", "agent_id": None}, headers=AUTH)
        token_entry, verify_entry = client.get("/__mock/requests").json()["requests"]
        for name in ("authorization", "cookie", "x-admin-token", "x-team-secret", "x-auth-token"):
            assert token_entry["headers"][name] == "***", name
        assert token_entry["body"]["password"] == "***" and token_entry["body"]["id"] == DOCS_AGENT
        assert verify_entry["body"]["encrypted_password_hex"] == "***"
        own = mock.requests("authenticateAgent")[0]
        assert own["body"]["password"] == "hunter2" and own["headers"]["authorization"] == "***"


# ---- slow clients and connections


def test_idle_and_slow_connections_are_closed():
    limits = {"idle_timeout": 0.5, "header_timeout": 0.5, "body_timeout": 0.5}
    with server(**limits) as mock:
        idle = raw_connection(mock)
        started = time.monotonic()
        assert read_all(idle) == b"" and time.monotonic() - started < 5
        partial = raw_connection(mock)
        partial.sendall(b"GET " + AGENT.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        answer = read_all(partial)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"header_timeout" in answer
        slow_body = raw_connection(mock)
        slow_body.sendall(b"POST " + VERIFY.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"X-Auth-Token: " + DOCS_TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{")
        answer = read_all(slow_body)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"body_timeout" in answer


def test_connections_beyond_the_bound_get_503_with_retry_after_and_others_are_answered():
    with server(max_connections=5, address_share=1, idle_timeout=1.0) as mock:
        held = [raw_connection(mock) for _ in range(5)]
        time.sleep(0.2)
        extra = raw_connection(mock)
        answer = read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer.lower()
        assert b'"max_connections: 5"' in answer
        for sock in held:
            assert read_all(sock) == b""  # closed once idle for idle_timeout
        assert httpx.get(mock.url + AGENT, headers=AUTH).status_code == 200


# ---- 5. typed scenario parameters


@pytest.mark.parametrize("selection,problem", [
    ("upstream-unavailable;failures=abc", "parameter failures: 'abc' is not an integer from 0 to 10000"),
    ("upstream-unavailable;failures=nan", "parameter failures: 'nan' is not an integer from 0 to 10000"),
    ("upstream-unavailable;failures=1e400", "parameter failures: '1e400' is not an integer from 0 to 10000"),
    ("upstream-unavailable;failures=2.5", "parameter failures: '2.5' is not an integer from 0 to 10000"),
    ("slow;seconds=abc", "parameter seconds: 'abc' is not a number from 0 to 60"),
    ("slow;seconds=1e400", "parameter seconds: '1e400' is not a number from 0 to 60"),
])
def test_a_parameter_value_that_does_not_fit_is_a_400_naming_it(selection, problem):
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        answer = client.get(AGENT, headers={"X-Mock-Scenario": selection})
        assert answer.status_code == 400 and answer.json()["errors"][0].endswith(problem)
        admin = client.put("/__mock/projects/110011/scenarios", json={"active": [selection]})
        assert admin.status_code == 400 and admin.json()["errors"][0].endswith(problem)


def test_a_parameter_cannot_carry_a_line_break_into_a_header(tmp_path):
    (tmp_path / "own.yaml").write_text(
        "name: echo\ndescription: d\nparameters: {value: x}\nrules:\n  - operation: getAgent\n"
        "    response: {status: 503, headers: {Retry-After: '{{ params.value }}'}, body: {message: m}}\n")
    for source in SCENARIOS_DIR.iterdir():
        if source.suffix == ".yaml":
            (tmp_path / source.name).write_text(source.read_text())
    with MockServer(MockConfig(scenarios_dir=tmp_path)) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        refused = client.put("/__mock/projects/110011/scenarios", json={"active": ["echo;value=1\r\nX-Evil: 1"]})
        assert refused.status_code == 400 and "control characters" in refused.json()["errors"][0]
        assert client.get(AGENT).status_code == 200


# ---- 6. admin tokens and project ids


def test_admin_token_compares_any_bytes():
    config = MockConfig(admin_token="tökén")
    with MockServer(config) as mock:
        right = httpx.get(mock.url + "/__mock/scenarios", headers=[(b"X-Admin-Token", "tökén".encode())])
        wrong = httpx.get(mock.url + "/__mock/scenarios", headers=[(b"X-Admin-Token", b"\xff\xfe")])
        missing = httpx.get(mock.url + "/__mock/scenarios")
        assert (right.status_code, wrong.status_code, missing.status_code) == (200, 401, 401)


def test_project_ids_are_told_apart_by_their_bytes():
    with server() as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        registered = client.post("/v2/caf%E9/agents", json=register_body())
        assert registered.status_code == 201
        agent = registered.json()
        assert registered.headers["location"] == f"{mock.url}/v2/caf%E9/agents/{agent['id']}"
        from cloud_backup_mock.contract import Contract

        body = json.loads(json.dumps(Contract.load().operation("authenticateAgent").request_example))
        body.update(id=agent["id"], password=agent["password"])
        token = client.post("/v2/caf%E9/agents/tokens", json=body, headers={"X-Auth-Token": ""})
        assert token.status_code == 200, token.text
        issued = {"X-Auth-Token": token.json()["token"]["id"]}
        assert client.get(f"/v2/caf%E9/agents/{agent['id']}", headers=issued).status_code == 200
        assert client.get(f"/v2/caf%FF/agents/{agent['id']}", headers=issued).status_code == 401


# ---- 7. reloads


def test_a_selected_scenario_that_disappears_is_kept_reported_and_the_default_world_answers(tmp_path):
    for source in SCENARIOS_DIR.iterdir():
        if source.suffix == ".yaml":
            (tmp_path / source.name).write_text(source.read_text())
    from cloud_backup_mock.engine.reloader import ScenarioReloader

    with MockServer(MockConfig(scenarios_dir=tmp_path)) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        reloader = ScenarioReloader(mock.engine, tmp_path)
        client.put("/__mock/projects/110011/scenarios", json={"active": ["server-error"]})
        assert client.get(AGENT).status_code == 500
        moved = (tmp_path / "server-error.yaml").read_text()
        (tmp_path / "server-error.yaml").unlink()
        assert reloader.check() is True
        assert client.get(AGENT).status_code == 200
        assert client.get("/__mock/projects/110011/scenarios").json() == {
            "project_id": "110011", "active": ["server-error"], "missing": ["server-error"]}
        (tmp_path / "server-error.yaml").write_text(moved)
        assert reloader.check() is True
        assert client.get(AGENT).status_code == 500


# ---- 8. signals and the log


def serve(*args, env=None):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    process = subprocess.Popen([sys.executable, "-m", "cloud_backup_mock", "serve", "--port", str(number), *args],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{number}"
    for _ in range(200):
        try:
            httpx.get(url + "/__mock/scenarios", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(process.stderr.read())


def test_sighup_reloads_and_sigterm_stops_within_seconds_with_a_request_sleeping():
    process, url = serve("--limit", "shutdown_timeout=1")
    try:
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert process.poll() is None and httpx.get(url + AGENT, headers=AUTH).status_code == 200
        sleeping = subprocess.Popen([sys.executable, "-c", f"import httpx; httpx.get('{url}{AGENT}', headers="
                                     f"{{'X-Auth-Token': '{DOCS_TOKEN}', 'X-Mock-Scenario': 'slow;seconds=60'}}, timeout=90)"],
                                    stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.monotonic() - started < 5
        sleeping.kill()
        sleeping.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = process.stderr.read()
    process.stderr.close()
    assert "reloaded 13 scenarios" in log
    assert " INFO Application startup complete." in log  # uvicorn's own lines go through the mock's writer (its format)


def test_the_bounds_table_has_every_limit():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in Limits.names():
        assert f"| `{name}` |" in readme, name


def test_scenarios_added_at_run_time_are_bounded():
    document = {"name": "n", "description": "d", "rules": [{"operation": "getAgent", "response": {"status": 404, "body": {"message": "x"}}}]}
    with server(max_added_scenarios=2, max_added_scenarios_total=3, max_scenario_bytes=2000) as mock, \
            httpx.Client(base_url=mock.url) as client:
        for project, name in (("a", "n1"), ("a", "n2"), ("b", "n1")):
            assert client.post(f"/__mock/projects/{project}/scenarios", json={**document, "name": name}).status_code == 201
        per_project = client.post("/__mock/projects/a/scenarios", json={**document, "name": "n3"})
        assert per_project.status_code == 400 and "max_added_scenarios)" in per_project.json()["message"]
        total = client.post("/__mock/projects/c/scenarios", json={**document, "name": "n1"})
        assert total.status_code == 400 and "max_added_scenarios_total" in total.json()["message"]
        big = client.post("/__mock/projects/b/scenarios", json={**document, "name": "n2", "description": "d" * 3000})
        assert big.status_code == 400 and "max_scenario_bytes: 2000" in big.json()["message"]
        assert client.post("/__mock/projects/a/scenarios", json={**document, "name": "n1"}).status_code == 201  # replaced


def test_times_counters_are_bounded_per_project():
    with server(max_counters=3) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for failures in range(1, 20):
            assert client.get(AGENT, headers={"X-Mock-Scenario": f"upstream-unavailable;failures={failures}"}).status_code == 503
        assert len(mock.world("110011").counters) == 3


def test_a_refusal_waits_for_the_answer_to_an_earlier_pipelined_request():
    with server(body_timeout=0.5) as mock:
        sock = raw_connection(mock)
        sock.sendall(b"GET " + AGENT.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + DOCS_TOKEN.encode()
                     + b"\r\nX-Mock-Scenario: slow;seconds=1.5\r\n\r\n"
                     + b"POST " + VERIFY.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + b"X-Auth-Token: " + DOCS_TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{")
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
        assert answer.index(b"HTTP/1.1 408 ") > answer.index(DOCS_AGENT.encode())


# ---- 9. budgets across connections and projects (issue 25)


def unfinished_post(mock, size: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection that sent a POST's head and all of its ``size``-byte body but the last byte."""
    sock = socket.socket()
    OPEN.append(sock)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", mock._server.port))
    sock.sendall(b"POST " + VERIFY.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Auth-Token: "
                 + DOCS_TOKEN.encode() + f"\r\nContent-Length: {size}\r\n\r\n".encode() + b"{" + b" " * (size - 2))
    return sock


def test_bodies_being_received_share_one_budget_and_the_one_passing_it_gets_503():
    import select

    size = 100 * 1024
    with server(max_bodies_bytes=256 * 1024, body_timeout=30) as mock:
        held = [unfinished_post(mock, size) for _ in range(3)]  # 300 KiB in all: one of them passes the budget
        readable, _, _ = select.select(held, [], [], 10)
        assert len(readable) == 1, "one connection, the one whose bytes passed the budget, is answered"
        refused = read_all(readable[0])
        assert refused.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in refused.lower()
        assert json.loads(refused.split(b"\r\n\r\n", 1)[1])["errors"] == ["max_bodies_bytes: 262144"]
        for sock in held:
            if sock is not readable[0]:  # the others' bytes still fit: their bodies complete and are answered
                sock.sendall(b"}")
                assert read_all(sock, 2.0).startswith(b"HTTP/1.1 400 ")  # (the body is a JSON object lacking fields)
        # What was counted was given back: two bodies again fit, and a third one, alone, is never refused.
        again = [unfinished_post(mock, size) for _ in range(2)]
        for sock in again:
            sock.sendall(b"}")
            assert read_all(sock, 2.0).startswith(b"HTTP/1.1 400 ")


def test_a_body_alone_is_never_refused_by_the_budget():
    with server(max_bodies_bytes=64 * 1024, max_body_bytes=512 * 1024) as mock:
        sock = unfinished_post(mock, 300 * 1024)
        sock.sendall(b"}")
        assert read_all(sock, 2.0).startswith(b"HTTP/1.1 400 ")


def test_one_address_holds_at_most_its_share_of_the_connections_and_others_are_served():
    with server(max_connections=4, address_share=0.5) as mock:
        held = []
        for _ in range(2):
            sock = socket.socket()
            OPEN.append(sock)
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", mock._server.port))
            held.append(sock)
        extra = socket.socket()
        OPEN.append(extra)
        extra.bind(("127.0.0.2", 0))
        extra.connect(("127.0.0.1", mock._server.port))
        answer = read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer.lower()
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["errors"] == [
            "address_share: 0.5 of max_connections 4 (2 connections from one address)"]
        for source in ("127.0.0.3", "127.0.0.4"):
            other = socket.socket()
            OPEN.append(other)
            other.bind((source, 0))
            other.connect(("127.0.0.1", mock._server.port))
            other.sendall(b"GET " + AGENT.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + DOCS_TOKEN.encode()
                          + b"\r\nConnection: close\r\n\r\n")
            assert read_all(other).startswith(b"HTTP/1.1 200 ")


def test_a_share_above_one_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"limits: limit address_share must be a share from 0 to 1 \(a fraction of "
                                         r"max_connections\), not 2"):
        Limits().replace({"address_share": 2}, "limits")


def test_journal_pages_are_bounded_by_bytes_and_next_after_goes_on():
    page_bytes = 16 * 1024
    with server(journal_page_bytes=page_bytes, max_header_bytes=64 * 1024) as mock, \
            httpx.Client(base_url=mock.url, headers=AUTH) as client:
        for n in range(30):
            client.get(f"/v2/{n:02d}{'p' * 3000}/agents/{DOCS_AGENT}")
        client.get(f"/v2/{'q' * 40000}/agents/{DOCS_AGENT}")  # one entry larger than a page
        ids, after, sizes = [], None, []
        while True:
            page = client.get("/__mock/requests", params={"limit": 100, **({"after": after} if after else {})}).json()
            sizes.append((len(page["requests"]), len(json.dumps(page["requests"]))))
            ids += [e["id"] for e in page["requests"]]
            after = page["next_after"]
            if after is None:
                break
            assert after == page["requests"][-1]["id"]
        assert ids == list(range(1, 32))
        assert all(size <= page_bytes for count, size in sizes if count > 1) and len(sizes) > 4
        assert sizes[-1][0] == 1 and sizes[-1][1] > page_bytes  # alone on its page: a reader always gets on


def test_projects_only_read_cost_nothing_each_in_memory():
    """Reading the default world in 2,000 more projects keeps less than a KiB a project (nothing, but for
    noise): the world is copied on a project's first change only. Tracing starts before the warm-up, so
    that what bounded caches drop for the readers' entries is counted as given back."""
    import gc
    import tracemalloc

    with server(journal_entries=1) as mock, httpx.Client(base_url=mock.url, headers=AUTH) as client:
        tracemalloc.start()
        try:
            for n in range(300):  # caches full, the journal full
                assert client.get(f"/v2/warm{n}/agents/{DOCS_AGENT}").status_code == 200
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for n in range(2000):
                assert client.get(f"/v2/reader{n}/agents/{DOCS_AGENT}").status_code == 200
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 2000 * 1024, f"{grown / 2000:.0f} bytes a project only read"
        assert complete(mock.engine.store.health())["projects"] == 0


def test_projects_only_read_keep_nothing_in_redis(redis_server):
    from shared_state import Served

    served = Served("--state", redis_server.url(12), "--limit", "journal_entries=1").start()
    try:
        import redis

        keys = redis.Redis(port=redis_server.port, db=12)
        with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
            assert client.get(AGENT).status_code == 200
            before = keys.dbsize()
            for n in range(200):
                assert client.get(f"/v2/reader{n}/agents/{DOCS_AGENT}").status_code == 200
            assert keys.dbsize() == before  # no key per project; the journal's one list moves between projects
            assert client.get("/__mock/health").json()["store"]["projects"] == 0
        keys.close()
    finally:
        served.stop()
