"""The test double as client teams use it: verify with near misses, respond inline, the whole exchange in
the journal, unknown operations refused, times counters, a failing test's report, and the admin API's
equivalents for sandboxes."""

import textwrap
import time

import httpx
import pytest

from cloud_backup_mock.shipped import SCENARIOS_DIR
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

AGENT = f"/v2/110011/agents/{DOCS_AGENT}"
TOKENS = "/v2/110011/agents/tokens"

pytest_plugins = ["pytester"]


def credentials(**changes):
    body = {"id": DOCS_AGENT, "password": "2d0080f9-3a6a-4ef1-b7ea-4c67c5e92796", "name": "Web Server",
            "version": "1.23.008344", "project_id": "123456",
            "host": {"flavor": "nova", "region": "DFW", "machine": {"id": "55f83711-85ff-49d6-9a1a-58c67d452c6a"},
                     "os": {"name": "Ubuntu", "version": "14.04", "architecture": "64-bit"},
                     "fingerprint": "arbitrary-string-determined-by-agent",
                     "addresses": [{"version": 4, "addr": "10.0.0.1"}]}}
    body.update(changes)
    return body


def test_verify_counts_matches_and_returns_them(client, mock):
    client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""})
    client.post(TOKENS, json=credentials(password="wrong"), headers={"X-Auth-Token": ""})
    assert len(mock.verify("authenticateAgent", count=2)) == 2
    (ok,) = mock.verify("authenticateAgent", count=1, status=200, body={"id": DOCS_AGENT, "host": {"region": "DFW"}})
    assert ok["response"]["status"] == 200 and set(ok["response"]["body"]["token"]) == {"id", "expires"}


def test_verify_failure_shows_what_was_expected_and_the_nearest_requests(client, mock):
    client.post(TOKENS, json=credentials(password="wrong"), headers={"X-Auth-Token": ""})
    client.get(AGENT)
    with pytest.raises(AssertionError) as failed:
        mock.verify("authenticateAgent", count=1, status=200, body={"password": "right", "host": {"region": "ORD"}})
    message = str(failed.value)
    first = mock.requests()[0]["id"]  # ids go on across resets: a reader's `after` stays valid
    message = message.replace(f"#{first} ", "#1 ").replace(f"#{first + 1} ", "#2 ")
    assert message.startswith('expected exactly 1 request(s) to authenticateAgent answered 200 with a body containing '
                              '{"password": "right", "host": {"region": "ORD"}}\nbut 0 requests matched (of 2 recorded)')
    assert "nearest requests:\n  #1 POST /v2/110011/agents/tokens -> 401\n" in message
    assert "      status: 401, not 200\n" in message
    assert '      password: "wrong", expected "right"\n' in message
    assert '      host.region: "DFW", expected "ORD"' in message
    assert "  #2 GET " + AGENT + " -> 200\n      operation: getAgent, not authenticateAgent" in message


@pytest.mark.parametrize("call", [
    lambda m: m.calls("authenticateAgnet"), lambda m: m.requests("authenticateAgnet"),
    lambda m: m.last_body("authenticateAgnet"), lambda m: m.verify("authenticateAgnet"),
    lambda m: m.respond("authenticateAgnet", status=401),
])
def test_every_method_refuses_an_unknown_operation_naming_the_known(mock, call):
    with pytest.raises(ValueError, match=r"unknown operation 'authenticateAgnet' \(did you mean 'authenticateAgent'\?\); "
                                         r"known: authenticateAgent, createConfiguration,"):
        call(mock)


def test_respond_answers_first_then_the_world_goes_on(client, mock):
    name = mock.respond("getAgent", status=404, body={"message": "gone for this test"}, times=1)
    first, second = client.get(AGENT), client.get(AGENT)
    assert (first.status_code, first.json()) == (404, {"message": "gone for this test"})
    assert second.status_code == 200
    assert mock.requests("getAgent")[0]["response"]["rule"] == f"{name}#1"


def test_stub_names_stay_unique_across_resets(cloud_backup_mock):
    """An answer still on its way from an earlier test must not meet a later test's stub of the same name."""
    first = cloud_backup_mock.respond("getAgent", status=404, optional=True)
    cloud_backup_mock.reset()
    second = cloud_backup_mock.respond("getAgent", status=404, optional=True)
    assert first.startswith("respond-") and second.startswith("respond-") and first != second


def test_respond_without_a_body_uses_the_documented_example_and_match_narrows_it(client, mock):
    mock.respond("authenticateAgent", status=409, match={"body": {"password": "dup"}})
    assert client.post(TOKENS, json=credentials(password="dup"), headers={"X-Auth-Token": ""}).status_code == 409
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).status_code == 200
    mock.respond("getAgent", status=200)
    assert client.get(f"/v2/110011/agents/{DOCS_AGENT}").json()["id"] == DOCS_AGENT


def test_respond_that_breaks_the_contract_fails_at_once_naming_why(mock):
    with pytest.raises(ValueError) as refused:
        mock.respond("getAgent", status=418)
    assert "getAgent does not document status 418" in str(refused.value)
    with pytest.raises(ValueError, match=r"getAgent 200 body: body: 'project_id' is a required property"):
        mock.respond("getAgent", status=200, body={"id": "x"})


def test_respond_is_gone_after_a_reset(client, mock):
    mock.respond("getAgent", status=404, body={"message": "x"})
    mock.reset()
    assert client.get(AGENT).status_code == 200


def test_times_counts_apart_per_selection_and_restart_when_selected(client, mock):
    def statuses(selection):
        return [client.get(AGENT, headers={"X-Mock-Scenario": selection}).status_code for _ in range(3)]

    assert statuses("upstream-unavailable") == [503, 503, 200]
    assert statuses("upstream-unavailable;failures=2") == [503, 503, 200]
    mock.use("upstream-unavailable;failures=1")
    assert [client.get(AGENT).status_code for _ in range(2)] == [503, 200]
    mock.use("upstream-unavailable;failures=1")  # selecting again starts the count again
    assert [client.get(AGENT).status_code for _ in range(2)] == [503, 200]


def test_the_journal_keeps_the_response_masked_like_the_request(client, mock):
    client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}, params={"password": "p", "x": "1"})
    (entry,) = client.get("/__mock/requests").json()["requests"]
    assert entry["response"]["status"] == 200 and entry["response"]["rule"] == "default#3"
    assert entry["response"]["headers"]["content-type"] == "application/json"
    assert entry["response"]["body"] == {"token": "***"}  # the token it hands out is an X-Auth-Token
    assert entry["body"]["password"] == "***" and entry["query"] == {"password": ["***"], "x": ["1"]}
    own = mock.requests()[0]  # the test's own process sees what was exchanged
    assert set(own["response"]["body"]["token"]) == {"id", "expires"} and own["body"]["password"] == credentials()["password"]


def test_bodies_that_are_not_json_are_masked_too(client, mock):
    client.post(TOKENS, content=b'{"id": "x", "password": "hunter2",', headers={"Content-Type": "application/json", "X-Auth-Token": ""})
    (entry,) = client.get("/__mock/requests").json()["requests"]
    assert entry["status"] == 400 and entry["body"] == '{"id": "x", "password": "***",'


def test_admin_verify_compares_what_was_sent_but_never_shows_a_secret(client, mock):
    client.post(TOKENS, json=credentials(password="hunter2"), headers={"X-Auth-Token": ""})
    hit = client.post("/__mock/verify", json={"operation": "authenticateAgent", "body": {"password": "hunter2"}}).json()
    assert hit["verified"] is True
    miss = client.post("/__mock/verify", json={"operation": "authenticateAgent", "body": {"password": "guess"}}).json()
    assert miss["near_misses"][0]["differences"] == ['password: ***, expected "guess"'] and "hunter2" not in miss["message"]


def test_admin_api_verify_and_add_a_scenario_for_a_project(client, mock):
    document = {"name": "token-refused", "description": "d",
                "rules": [{"operation": "authenticateAgent", "times": 1, "response": {"status": 401, "body": {"message": "no"}}}]}
    added = client.post("/__mock/projects/110011/scenarios", json=document)
    assert added.status_code == 201 and added.json()["added"] == ["token-refused"]
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).status_code == 401
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).status_code == 200
    verified = client.post("/__mock/verify", json={"operation": "authenticateAgent", "count": 2}).json()
    assert verified == {"verified": True, "matched": 2, "message": "exactly 2 request(s) to authenticateAgent: 2 matched",
                        "near_misses": []}
    missed = client.post("/__mock/verify", json={"operation": "authenticateAgent", "status": 500}).json()
    assert not missed["verified"] and missed["near_misses"][0]["differences"] == ["status: 200, not 500"]
    bad = client.post("/__mock/projects/110011/scenarios", json={**document, "rules": [{"operation": "getAgent",
                                                                                      "response": {"status": 418}}]})
    assert bad.status_code == 400 and "getAgent does not document status 418" in bad.json()["message"]
    unknown = client.post("/__mock/verify", json={"operation": "nope"})
    assert unknown.status_code == 400 and "unknown operation 'nope'" in unknown.json()["message"]


def test_health(client):
    health = client.get("/__mock/health").json()
    shipped = len(list(SCENARIOS_DIR.glob("*.yaml"))) - 2  # but world.yaml and resources.yaml
    assert health["status"] == "ok" and health["state"] == "memory" and health["scenarios"] == shipped == 13


def test_a_failing_test_reports_its_exchanges(pytester):
    pytester.makepyfile(textwrap.dedent(f"""
        import httpx

        def test_client(cloud_backup_mock):
            answer = httpx.post(cloud_backup_mock.url + "/v2/110011/agents/tokens", json={{"id": "x"}})
            assert answer.json()["token"]
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- cloud-backup-mock exchanges -*",
        "#1 POST /v2/110011/agents/tokens -> 400 (*)",
        '    request body:  {"id": "x"}',
        '    response body: {"message": "Invalid request: *',
    ])


def test_configure_changes_the_world_through_the_store(client, mock):
    mock.configure(token_ttl_seconds=0)
    token = client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).json()["token"]["id"]
    assert client.get(AGENT, headers={"X-Auth-Token": token}).status_code == 401  # expired at once
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        mock.configure(colour="red", max_agents=1)
    assert mock.world().settings.max_agents == 1000  # nothing changed by the refused call


def test_change_applies_a_step_as_one_change(mock):
    count = mock.change(lambda world: world.apply("expire_tokens", {}))
    assert count == 0 and not mock.world().touched  # the store took what the step touched


def test_verify_compares_the_headers_sent_and_masks_secrets_only_in_the_message(client, mock):
    client.get(AGENT)
    (entry,) = mock.verify("getAgent", headers={"X-Auth-Token": DOCS_TOKEN})
    assert entry["headers"]["x-auth-token"] == "***"  # the requests returned show it masked, as requests() does
    with pytest.raises(AssertionError) as failed:
        mock.verify("getAgent", headers={"X-Auth-Token": "guess"})
    assert "header X-Auth-Token: ***, not 'guess'" in str(failed.value) and DOCS_TOKEN not in str(failed.value)


def test_the_most_recent_respond_is_tried_first(client, mock):
    mock.respond("getAgent", status=404, body={"message": "older"})
    mock.respond("getAgent", status=404, body={"message": "newer"})
    assert client.get(AGENT).json() == {"message": "newer"}
    mock.reset()  # the older stub never answered


def test_respond_with_a_delay_and_drop(client, mock):
    mock.respond("getAgent", status=404, body={"message": "late"}, delay=0.3, times=1)
    started = time.monotonic()
    assert client.get(AGENT).status_code == 404 and time.monotonic() - started >= 0.3
    mock.respond("getAgent", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(AGENT)
    assert [e["status"] for e in mock.requests("getAgent")] == [404, "dropped"]
    with pytest.raises(ValueError, match=r"respond\('getAgent'\) takes one of status= \(an answer\), handler= \(code that answers\) or drop=True"):
        mock.respond("getAgent")
    with pytest.raises(ValueError, match="delay"):
        mock.respond("getAgent", status=200, delay=301)


def test_assert_all_called_names_each_unused_stub_and_passes_over_optional_ones(client, mock):
    used = mock.respond("getAgent", status=404, body={"message": "x"}, times=1)
    unused = mock.respond("authenticateAgent", status=401, body={"message": "no"})
    mock.respond("registerAgent", status=403, optional=True)
    client.get(AGENT)
    with pytest.raises(AssertionError) as failed:
        mock.assert_all_called()
    assert str(failed.value).startswith(f"1 respond() stub(s) never used:\n  {unused}: respond(authenticateAgent, "
                                        "status=401) for project 110011\n")
    assert used not in str(failed.value)
    mock.reset()
    mock.assert_all_called()  # a reset forgets the stubs with the rest


def test_register_agent_refuses_an_unknown_field_naming_the_closest(mock):
    with pytest.raises(ValueError, match=r"register_agent: unknown field 'nmae' \(did you mean 'name'\?\); "
                                         r"known: host, name, rsa_public_key, vault, version"):
        mock.register_agent(nmae="web")
    assert mock.register_agent(name="web")["name"] == "web"


def test_the_fixture_fails_a_test_that_leaves_a_stub_unused_and_reports_are_short(pytester):
    pytester.makepyfile(textwrap.dedent(f"""
        import httpx

        AGENT = "/v2/110011/agents/{DOCS_AGENT}"

        def test_unused(cloud_backup_mock):
            cloud_backup_mock.respond("getAgent", status=404, body={{"message": "never asked"}})

        def test_optional_and_used(cloud_backup_mock):
            cloud_backup_mock.respond("authenticateAgent", status=401, body={{"message": "no"}}, optional=True)
            cloud_backup_mock.respond("getAgent", status=404, body={{"message": "asked"}})
            httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})

        def test_many_then_verify_fails(cloud_backup_mock):
            for _ in range(25):
                httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})
            cloud_backup_mock.verify("getAgent", count=1)
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, passed=1)
    output = result.stdout.str()
    assert ("1 respond() stub(s) never used:\n  respond-1: respond(getAgent, status=404) for project 110011\n"
            "(pass optional=True to respond() for a stub a test may leave unused)\n") in output
    result.stdout.fnmatch_lines(["*- cloud-backup-mock exchanges -*", "(5 earlier exchanges not shown)",
                                 "#* GET /v2/110011/agents/* -> 200 (default*)"])
    section = output.split("cloud-backup-mock exchanges")[-1]
    assert section.count(" GET /v2/110011/agents/") == 20
    assert "mock_server.py" not in output and "plugin.py" not in output  # the package's frames are hidden


def test_health_answers_liveness_without_the_admin_token_and_details_with_it():
    from cloud_backup_mock.testing import MockConfig, MockServer

    with MockServer(MockConfig(admin_token="s3cret")) as server, httpx.Client(base_url=server.url) as admin:
        assert admin.get("/__mock/health").json() == {"status": "ok"}
        assert admin.get("/__mock/health", headers={"X-Admin-Token": "wrong"}).json() == {"status": "ok"}
        detailed = admin.get("/__mock/health", headers={"X-Admin-Token": "s3cret"}).json()
        assert detailed["status"] == "ok" and detailed["state"] == "memory" and "journal" in detailed
        assert admin.get("/__mock/scenarios").status_code == 401  # the rest of the admin API still needs it


def test_the_admin_document_declares_the_admin_token_for_swagger_ui(client):
    document = client.get("/__mock/openapi.json").json()
    assert document["components"]["securitySchemes"]["adminToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Admin-Token",
        "description": "the token given to `serve --admin-token` (none set, none needed)"}
    assert document["security"] == [{"adminToken": []}]
    assert document["paths"]["/health"]["get"]["security"] == [{}, {"adminToken": []}]


def test_an_added_scenario_is_removed_and_the_other_counts_go_on(client, mock):
    def refusal(name):
        return {"name": name, "description": "d", "rules": [
            {"operation": "authenticateAgent", "times": 2, "response": {"status": 401, "body": {"message": name}}}]}

    mock.use("upstream-unavailable;failures=2")
    assert client.get(AGENT).status_code == 503  # one of the selection's two turns taken
    assert client.post("/__mock/projects/110011/scenarios", json=refusal("refuse-a")).status_code == 201
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).json() == {"message": "refuse-a"}
    assert client.post("/__mock/projects/110011/scenarios", json=refusal("refuse-b")).status_code == 201
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).json() == {"message": "refuse-b"}
    removed = client.delete("/__mock/projects/110011/scenarios/refuse-b")
    assert removed.status_code == 200 and removed.json()["added"] == ["refuse-a"]
    # refuse-a's count went on (its second and last turn), and so did the selection's
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).json() == {"message": "refuse-a"}
    assert [client.get(AGENT).status_code for _ in range(2)] == [503, 200]
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).status_code == 200
    missing = client.delete("/__mock/projects/110011/scenarios/refuse-b")
    assert missing.status_code == 404 and missing.json() == {
        "message": "Not found: project 110011 has no added scenario 'refuse-b'; added: refuse-a",
        "errors": ["project 110011 has no added scenario 'refuse-b'; added: refuse-a"]}


def test_journal_reads_refuse_an_unknown_operation_and_the_last_page_has_no_next_after(client, mock):
    client.get(AGENT)
    client.get(AGENT)
    unknown = client.get("/__mock/requests", params={"operation": "getAgnet"})
    assert unknown.status_code == 400 and unknown.json()["errors"] == [
        "unknown operation 'getAgnet' (did you mean 'getAgent'?); known: " + ", ".join(sorted(mock.engine.contract.operations))]
    whole = client.get("/__mock/requests", params={"limit": 2}).json()
    assert len(whole["requests"]) == 2 and whole["next_after"] is None
    first = client.get("/__mock/requests", params={"limit": 1}).json()
    assert first["next_after"] == first["requests"][0]["id"]
    last = client.get("/__mock/requests", params={"limit": 1, "after": first["next_after"]}).json()
    assert len(last["requests"]) == 1 and last["next_after"] is None


def test_a_handler_answers_from_the_request_and_the_world(client, mock):
    agent = mock.register_agent(name="from the world")
    asked = []

    def answer(request):
        asked.append(request)
        found = request.world.agent_view(request.path_params["agent_id"])
        if found is None:
            return {"status": 404, "body": {"message": f"no agent {request.path_params['agent_id']}"}}
        return {"status": 200, "body": {**found, "name": f"{found['name']} ({request.query['tag'][0]})"}}

    name = mock.respond("getAgent", handler=answer, times=2)
    known = client.get(f"/v2/110011/agents/{agent['id']}", params={"tag": "a", "x": "1"}, headers={"X-Trace": "t-1"})
    unknown = client.get(f"/v2/110011/agents/{DOCS_AGENT[:-1]}0", params={"tag": "b"})
    assert known.status_code == 200 and known.json()["name"] == "from the world (a)" and known.json()["id"] == agent["id"]
    assert "password" not in known.json()
    assert unknown.json() == {"message": f"no agent {DOCS_AGENT[:-1]}0"}
    assert client.get(AGENT).json()["id"] == DOCS_AGENT  # times=2: the world answers after
    first = asked[0]
    assert (first.operation, first.project_id, first.method, first.path) == ("getAgent", "110011", "GET", f"/v2/110011/agents/{agent['id']}")
    assert first.path_params == {"project_id": "110011", "agent_id": agent["id"]}
    assert first.query == {"tag": ["a"], "x": ["1"]} and first.headers["x-trace"] == "t-1" and first.body is None
    assert [e["response"]["rule"] for e in mock.calls("getAgent")] == [f"{name}#1", f"{name}#1", "default#7"]


def test_a_handler_gets_the_parsed_body_and_without_one_answers_the_documented_example(client, mock):
    bodies = []
    mock.respond("authenticateAgent", handler=lambda request: bodies.append(request.body) or {"status": 409},
                 match={"body": {"password": "dup"}})
    conflict = client.post(TOKENS, json=credentials(password="dup"), headers={"X-Auth-Token": ""})
    mock.respond("authenticateAgent", status=409, times=1)  # what a stub without a body answers
    assert conflict.status_code == 409 and conflict.json() == client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).json()
    assert bodies == [credentials(password="dup")]
    assert client.post(TOKENS, json=credentials(), headers={"X-Auth-Token": ""}).status_code == 200  # match narrows it


def test_the_world_a_handler_gets_is_read_only(client, mock):
    def tamper(request):
        request.world.agents[DOCS_AGENT]["name"] = "changed"  # a copy
        request.world.agent(DOCS_AGENT)["name"] = "changed"  # a copy
        request.world.agents = {}
        return {"status": 200}

    mock.respond("getAgent", handler=tamper)
    answer = client.get(AGENT)
    assert answer.status_code == 500 and "the world a handler gets is read-only (setting 'agents')" in answer.text
    assert mock.world().agents[DOCS_AGENT]["name"] == "Web Server"
    mock.reset()


def test_the_most_recent_respond_is_tried_first_whether_it_answers_or_computes(client, mock):
    mock.respond("getAgent", handler=lambda request: {"status": 404, "body": {"message": "handler"}}, times=1)
    mock.respond("getAgent", status=404, body={"message": "fixed"}, times=1)
    mock.respond("getAgent", handler=lambda request: {"status": 404, "body": {"message": "newest"}}, times=1)
    assert [client.get(AGENT).json()["message"] for _ in range(3)] == ["newest", "fixed", "handler"]


def test_a_handler_that_raises_answers_500_naming_the_stub_and_fails_the_test(client, mock):
    def broken(request):
        return {"status": 200, "body": request.body["missing"]}

    name = mock.respond("getAgent", handler=broken)
    answer = client.get(AGENT)
    assert answer.status_code == 500 and answer.json() == {
        "message": f"Scenario rule {name}#1 could not answer within the contract.",
        "errors": [f"respond() stub {name} (respond(getAgent, handler={broken.__qualname__})): "
                   "the handler raised TypeError: 'NoneType' object is not subscriptable"]}
    with pytest.raises(AssertionError) as failed:
        mock.assert_no_handler_errors()
    message = str(failed.value)
    assert message.startswith("1 respond() handler failure(s) (the client was answered 500 each time):\n"
                              f"  {name}: respond(getAgent, handler={broken.__qualname__}) for project 110011, "
                              f"on GET {AGENT}:\n    the handler raised TypeError: ")
    assert 'return {"status": 200, "body": request.body["missing"]}' in message  # the handler's own line
    assert "handlers.py" not in message  # from the handler's frame down
    mock.reset()
    mock.assert_no_handler_errors()  # a reset forgets them with the rest


@pytest.mark.parametrize("answer, problem", [
    ("not a dict", "the handler returned 'not a dict'; expected a dict with an int 'status'"),
    ({"status": "200"}, "the handler returned {'status': '200'}; expected a dict with an int 'status'"),
    ({"status": 200, "bdoy": {}}, "the handler's answer has 'bdoy'; it takes only status, headers, body"),
    ({"status": 418}, "getAgent does not document status 418 (documented: 200, "),
    ({"status": 200, "body": {"id": "x"}}, "getAgent 200 body: body: 'project_id' is a required property"),
    ({"status": 404, "headers": {"X-Nope": "1"}}, "getAgent 404 does not document header 'X-Nope'"),
    ({"status": 503, "headers": {"Retry-After": "1\r\nX: y"}}, "header Retry-After: the value is not one line"),
    ({"status": 404, "body": {"message": float("nan")}}, "the handler's body is not JSON: "),
])
def test_a_handler_answer_outside_the_contract_is_a_500_naming_why(client, mock, answer, problem):
    name = mock.respond("getAgent", handler=lambda request: answer)
    refused = client.get(AGENT)
    assert refused.status_code == 500 and refused.json()["errors"][0].startswith(
        f"respond() stub {name} (respond(getAgent, handler=")
    assert problem in refused.json()["errors"][0]
    assert problem in mock.handler_errors()
    mock.reset()


def test_respond_with_a_handler_refuses_what_the_handler_gives(mock):
    with pytest.raises(ValueError, match=r"respond\('getAgent', handler=\.\.\.\) takes a function of the request, "
                                         r"and no body= or headers="):
        mock.respond("getAgent", handler=lambda request: {"status": 200}, body={"id": "x"})
    with pytest.raises(ValueError, match=r"takes one of status= \(an answer\), handler="):
        mock.respond("getAgent", handler=lambda request: {"status": 200}, status=200)
    with pytest.raises(ValueError, match="takes a function of the request"):
        mock.respond("getAgent", handler="not callable")
    assert mock.engine.rules.handlers == {}


def test_the_fixture_fails_a_test_whose_handler_failed(pytester):
    pytester.makepyfile(textwrap.dedent(f"""
        import httpx

        AGENT = "/v2/110011/agents/{DOCS_AGENT}"

        def refuse(request):
            raise RuntimeError("no answer for " + request.path_params["agent_id"])

        def test_passes_but_its_handler_failed(cloud_backup_mock):
            cloud_backup_mock.respond("getAgent", handler=refuse)
            httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})

        def test_fails_on_the_500(cloud_backup_mock):
            cloud_backup_mock.respond("getAgent", handler=refuse)
            answer = httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})
            assert answer.status_code == 200

        def test_clean(cloud_backup_mock):
            cloud_backup_mock.respond("getAgent", handler=lambda request: {{"status": 404}})
            assert httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}}).status_code == 404
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines([
        "*1 respond() handler failure(s) (the client was answered 500 each time):",
        f"  respond-1: respond(getAgent, handler=refuse) for project 110011, on GET /v2/110011/agents/{DOCS_AGENT}:",
        f"    the handler raised RuntimeError: no answer for {DOCS_AGENT}",
    ])
    result.stdout.fnmatch_lines(["*- cloud-backup-mock handler errors -*", "  respond-2: respond(getAgent, handler=refuse)*"])


def test_a_stub_that_answered_counts_as_used_after_the_journal_dropped_its_entry():
    from cloud_backup_mock.testing import MockConfig, MockServer

    with MockServer(MockConfig(journal_size=1)) as server, httpx.Client(base_url=server.url, headers={"X-Auth-Token": DOCS_TOKEN}) as client:
        server.respond("getAgent", status=404, body={"message": "once"}, times=1)
        assert [client.get(AGENT).status_code for _ in range(3)] == [404, 200, 200]
        assert [e["status"] for e in server.requests()] == [200]  # the stub's exchange is gone from the journal
        server.assert_all_called()


def test_the_readmes_handler_example_answers_as_it_says(client, mock):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "def agent_or_404" in b]
    handler_and_stub = block[block.index("    def agent_or_404"):block.index("    client = MyBackupClient")]
    exec(textwrap.dedent(handler_and_stub), {"cloud_backup_mock": mock})
    assert client.get(f"/v2/110011/agents/{DOCS_AGENT[:-1]}0").json() == {"message": "no such agent"}
    assert client.get(AGENT).json()["id"] == DOCS_AGENT
