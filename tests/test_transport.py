"""``mock.transport`` and ``mock.async_transport``: the mock without a socket, for httpx clients. The same
layers answer (validation, bounds, the engine) and the same journal records, so every exchange is compared
with the same one over the socket."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN, MockServer

AGENT = f"/v2/110011/agents/{DOCS_AGENT}"
TOKENS = "/v2/110011/agents/tokens"
HEADERS = {"X-Auth-Token": DOCS_TOKEN}
REQUESTS = Path(__file__).resolve().parent.parent / "examples" / "requests"
CREDENTIALS = (REQUESTS / "authenticate-agent.json").read_bytes()
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def over_socket(cloud_backup_mock):
    with httpx.Client(base_url=cloud_backup_mock.url, headers=HEADERS, timeout=10) as client:
        yield client


@pytest.fixture
def in_process(cloud_backup_mock):
    with httpx.Client(transport=cloud_backup_mock.transport, base_url=cloud_backup_mock.url, headers=HEADERS,
                      timeout=10) as client:
        yield client


def test_an_invalid_request_gets_the_same_400_both_ways(over_socket, in_process, cloud_backup_mock):
    socket_answer = over_socket.post(TOKENS, json={"id": "x"})
    transport_answer = in_process.post(TOKENS, json={"id": "x"})
    assert socket_answer.status_code == transport_answer.status_code == 400
    assert transport_answer.json() == socket_answer.json()
    assert transport_answer.json()["message"] == "Invalid request: body: 'project_id' is a required property"
    assert transport_answer.headers["content-type"] == "application/json"
    assert [e["status"] for e in cloud_backup_mock.calls("authenticateAgent")] == [400, 400]


def test_answers_and_headers_are_the_servers(over_socket, in_process):
    for client in (over_socket, in_process):
        answer = client.get(AGENT)
        assert answer.status_code == 200 and answer.json()["id"] == DOCS_AGENT
        assert answer.headers["content-length"] == str(len(answer.content))
    unavailable = in_process.get(AGENT, headers={"Prefer": "code=503"})
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "1"
    assert in_process.get("/v2/110011/nowhere").status_code == over_socket.get("/v2/110011/nowhere").status_code == 404
    refused = in_process.delete(TOKENS)
    assert refused.status_code == 405 and refused.headers["allow"] == over_socket.delete(TOKENS).headers["allow"]


def test_verify_calls_and_coverage_see_transport_requests(in_process, cloud_backup_mock):
    before = cloud_backup_mock.coverage("110011")["operations"].get("getAgent", {}).get("seen", {}).get("503", 0)
    in_process.get(AGENT, headers={"X-Mock-Scenario": "upstream-unavailable;failures=1"})
    in_process.get(AGENT, params={"page": "2"})
    (entry,) = cloud_backup_mock.verify("getAgent", count=1, status=503)
    assert entry["response"]["headers"]["retry-after"] == "1"
    assert [e["status"] for e in cloud_backup_mock.calls("getAgent")] == [503, 200]
    assert cloud_backup_mock.requests()[-1]["query"] == {"page": ["2"]}
    seen = cloud_backup_mock.coverage("110011")["operations"]["getAgent"]["seen"]
    assert seen["503"] == before + 1


def test_respond_drop_and_delay_behave_as_over_the_socket():
    # A server of its own: the answer the client stopped waiting for is still given after this test.
    with MockServer() as mock, httpx.Client(transport=mock.transport, base_url=mock.url, headers=HEADERS) as client:
        mock.respond("getAgent", drop=True, times=1)
        with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected without sending a response"):
            client.get(AGENT)
        mock.respond("getAgent", status=404, body={"message": "slow"}, delay=5, times=1)
        with pytest.raises(httpx.ReadTimeout):
            client.get(AGENT, timeout=httpx.Timeout(10, read=0.2))
        assert client.get(AGENT).status_code == 200  # the delayed stub took its one turn
        assert [e["status"] for e in mock.calls("getAgent")] == ["dropped", 200]


def test_a_streamed_body_over_the_limit_is_413_and_read_no_further(in_process, over_socket, cloud_backup_mock):
    limit, chunk = cloud_backup_mock.engine.limits.max_body_bytes, 64 * 1024
    pulled = []

    def body():
        for _ in range(2 * limit // chunk):
            pulled.append(chunk)
            yield b" " * chunk

    answer = in_process.post(TOKENS, content=body(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["errors"] == [f"max_body_bytes: {limit} (serve --max-body-bytes)"]
    assert limit < sum(pulled) <= limit + chunk  # the rest of the stream was never asked for
    whole = b" " * (limit + 1)
    socket_answer = over_socket.post(TOKENS, content=whole, headers={"Content-Type": "application/json"})
    transport_answer = in_process.post(TOKENS, content=whole, headers={"Content-Type": "application/json"})
    assert socket_answer.status_code == transport_answer.status_code == 413
    assert socket_answer.json() == transport_answer.json()


def test_headers_over_the_limit_are_431_both_ways(in_process, over_socket, cloud_backup_mock):
    limit = cloud_backup_mock.engine.limits.max_header_bytes
    big = {"X-Padding": "x" * (limit + 1)}
    socket_answer, transport_answer = over_socket.get(AGENT, headers=big), in_process.get(AGENT, headers=big)
    assert socket_answer.status_code == transport_answer.status_code == 431
    assert socket_answer.json() == transport_answer.json()  # {"message", "errors": ["max_header_bytes: 16384"]}


def test_a_streamed_request_and_a_streamed_response(in_process, cloud_backup_mock):
    with in_process.stream("GET", AGENT) as answer:
        streamed = b"".join(answer.iter_bytes())
    assert answer.status_code == 200 and streamed == in_process.get(AGENT).content
    pieces = iter([CREDENTIALS[:10], CREDENTIALS[10:100], CREDENTIALS[100:]])
    token = in_process.post(TOKENS, content=pieces, headers=JSON)
    assert token.status_code == 200 and set(token.json()["token"]) == {"id", "expires"}
    assert cloud_backup_mock.last_body("authenticateAgent") == json.loads(CREDENTIALS)


def test_location_uses_the_base_url_the_client_gave(cloud_backup_mock):
    with httpx.Client(transport=cloud_backup_mock.transport, base_url="http://backup.test", headers=HEADERS) as client:
        answer = client.post("/v2/110011/agents", content=(REQUESTS / "register-agent.json").read_bytes(), headers=JSON)
    assert answer.headers["location"].startswith("http://backup.test/v2/110011/agents/"), answer.text


def test_the_sync_transport_works_inside_a_running_event_loop(cloud_backup_mock):
    async def test_body():
        with httpx.Client(transport=cloud_backup_mock.transport, base_url=cloud_backup_mock.url,
                          headers=HEADERS) as client:
            return client.get(AGENT).status_code

    assert asyncio.run(test_body()) == 200
    assert len(cloud_backup_mock.calls("getAgent")) == 1


def test_the_transport_needs_the_server_started_and_refuses_the_servers_own_loop():
    server = MockServer()
    with httpx.Client(transport=server.transport, base_url="http://mock") as client:
        with pytest.raises(RuntimeError, match="mock.transport needs the MockServer started"):
            client.get(AGENT)
    with server, httpx.Client(transport=server.transport, base_url=server.url, headers=HEADERS) as client:
        def reentrant(request):
            client.get(AGENT)  # would wait for the loop that runs this handler
            return {"status": 200}

        server.respond("getAgent", handler=reentrant)
        assert client.get(AGENT).status_code == 500
        assert "mock.transport was called on the mock's own event loop" in server.handler_errors()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_the_async_transport_reaches_the_same_engine_and_journal(cloud_backup_mock):
    async with httpx.AsyncClient(transport=cloud_backup_mock.async_transport, base_url=cloud_backup_mock.url,
                                 headers=HEADERS) as client:
        bad = await client.post(TOKENS, json={"id": "x"})
        ok = await client.get(AGENT)

        async def pieces():
            yield CREDENTIALS[:10]
            yield CREDENTIALS[10:]

        streamed = await client.post(TOKENS, content=pieces(), headers=JSON)
        cloud_backup_mock.respond("getAgent", drop=True, times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(AGENT)
        cloud_backup_mock.respond("getAgent", status=404, body={"message": "late"}, delay=0.01, times=1)
        late = await client.get(AGENT)
        big = await client.post(TOKENS, content=b" " * (cloud_backup_mock.engine.limits.max_body_bytes + 1), headers=JSON)
    with httpx.Client(base_url=cloud_backup_mock.url) as over_socket:
        assert bad.status_code == 400 and bad.json() == over_socket.post(TOKENS, json={"id": "x"}).json()
    assert ok.json()["id"] == DOCS_AGENT and streamed.status_code == 200 and late.status_code == 404
    assert big.status_code == 413
    assert [e["status"] for e in cloud_backup_mock.calls("getAgent")] == [200, "dropped", 404]
    cloud_backup_mock.verify("authenticateAgent", count=2, status=400)
    assert cloud_backup_mock.calls("authenticateAgent")[1]["body"] == json.loads(CREDENTIALS)


@pytest.mark.anyio
async def test_the_async_transport_times_out_as_a_socket_client_would():
    with MockServer() as mock:
        async with httpx.AsyncClient(transport=mock.async_transport, base_url=mock.url, headers=HEADERS) as client:
            mock.respond("getAgent", status=404, body={"message": "slow"}, delay=5, times=1)
            with pytest.raises(httpx.ReadTimeout):
                await client.get(AGENT, timeout=httpx.Timeout(10, read=0.2))
