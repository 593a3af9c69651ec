"""Consumer coverage: which operations, documented statuses and scenarios a client's tests made the mock
answer, in one shape through the admin API, ``MockServer.coverage`` and the pytest plugin."""

import json
import textwrap

import httpx

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN, MockServer
from cloud_backup_mock.testing.coverage_tally import MAX_PROJECTS, SessionTally

pytest_plugins = ["pytester"]

AUTH = {"X-Auth-Token": DOCS_TOKEN}


def agent_path(project):
    return f"/v2/{project}/agents/{DOCS_AGENT}"


def test_admin_coverage_of_one_project_only_behind_the_admin_token():
    with MockServer(MockConfig(admin_token="s3cret")) as mock, httpx.Client(base_url=mock.url) as client:
        admin = {"X-Admin-Token": "s3cret"}
        client.get(agent_path("team-a"), headers=AUTH)
        client.get(agent_path("team-a"), headers={**AUTH, "X-Mock-Scenario": "upstream-unavailable"})
        client.get(agent_path("team-b"))  # 401
        client.get(agent_path("team-b"), headers={**AUTH, "Prefer": "code=404"})
        refused = client.get("/__mock/coverage")
        assert refused.status_code == 401 and set(refused.json()) == {"message", "errors"}
        team_a = client.get("/__mock/coverage", params={"project_id": "team-a"}, headers=admin).json()
        assert team_a["operations"]["getAgent"]["seen"] == {"200": 1, "503": 1}
        assert team_a["operations"]["getAgent"]["scenarios"] == ["default", "upstream-unavailable"]
        assert "409" in team_a["operations"]["getAgent"]["never"] and "200" not in team_a["operations"]["getAgent"]["never"]
        assert team_a["operations"]["authenticateAgent"] == {
            "seen": {}, "never": [str(s) for s in mock.engine.contract.operation("authenticateAgent").statuses],
            "scenarios": []}
        documented = sum(len(op.statuses) for op in mock.engine.contract.operations.values())
        assert team_a["responses_documented"] == documented and team_a["responses_seen"] == 2
        everyone = client.get("/__mock/coverage", headers=admin).json()
        assert everyone["operations"]["getAgent"]["seen"] == {"200": 1, "401": 1, "404": 1, "503": 1}
        assert everyone["responses_seen"] == 4
        assert everyone == mock.coverage()  # one shape everywhere (nothing was reset yet)


def test_mock_coverage_spans_resets_and_is_per_project():
    with MockServer() as mock, httpx.Client(base_url=mock.url) as client:
        client.get(agent_path("110011"), headers=AUTH)
        mock.reset()  # as the fixture does between tests: the journal is emptied
        assert mock.requests() == []
        mock.respond("getAgent", status=500)
        client.get(agent_path("110011"), headers=AUTH)
        client.get(agent_path("other"), headers={**AUTH, "Prefer": "code=404"})
        mock.reset()
        coverage = mock.coverage()
        assert coverage["operations"]["getAgent"]["seen"] == {"200": 1, "404": 1, "500": 1}
        assert coverage["operations"]["getAgent"]["scenarios"] == ["Prefer: code=404", "default", "respond"]
        assert mock.coverage("110011")["operations"]["getAgent"]["seen"] == {"200": 1, "500": 1}
        assert mock.coverage("nobody")["responses_seen"] == 0


def test_the_session_tally_is_bounded_by_projects_and_never_by_requests():
    tally = SessionTally()
    for project in range(MAX_PROJECTS + 50):
        for _ in range(3):
            tally.add({"project_id": f"p{project}", "operation": "getAgent", "status": 200, "scenario": "default"})
    tally.add({"project_id": "p1", "operation": "getAgent", "status": "dropped", "scenario": "connection-dropped"})
    tally.add({"project_id": "p1", "operation": None, "status": 404, "scenario": None})
    assert len(tally) == MAX_PROJECTS + 1  # the projects beyond the bound share one counter
    assert sum(n for *_, n in tally.counts()) == 3 * (MAX_PROJECTS + 50)
    assert tally.counts("p1") == [("getAgent", 200, "default", 3)]
    assert tally.counts(f"p{MAX_PROJECTS + 10}") == []  # counted in the total only


CLIENT_TESTS = textwrap.dedent(f"""
    import httpx

    AGENT = "/v2/110011/agents/{DOCS_AGENT}"

    def test_reads_the_agent(cloud_backup_mock):
        answer = httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})
        assert answer.status_code == 200

    def test_retries_on_503(cloud_backup_mock):
        cloud_backup_mock.use("upstream-unavailable")
        answer = httpx.get(cloud_backup_mock.url + AGENT, headers={{"X-Auth-Token": "{DOCS_TOKEN}"}})
        assert answer.status_code == 503
""")


def test_pytest_coverage_table_file_and_threshold(pytester):
    pytester.makepyfile(CLIENT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cloud-backup-mock-coverage=coverage.json",
                                           "--cloud-backup-mock-coverage-fail-under=50")
    result.assert_outcomes(passed=2)
    assert result.ret == 1  # every test passed, but too little of the contract was answered
    result.stdout.fnmatch_lines([
        "*= cloud-backup-mock coverage =*",
        "operation*statuses seen*documented, never seen*scenarios",
        "getAgent*200x1 503x1*400 401 *409*default, upstream-unavailable",
        "2 of * documented responses answered (*%)",
        "written to *coverage.json",
        "FAIL: the tests made the mock answer *% of the documented responses (2 of *), below "
        "--cloud-backup-mock-coverage-fail-under=50",
    ])
    written = json.loads((pytester.path / "coverage.json").read_text())
    assert written["responses_seen"] == 2  # both tests, across the reset between them
    assert written["operations"]["getAgent"]["seen"] == {"200": 1, "503": 1}
    assert set(written) == {"operations", "responses_documented", "responses_seen"}

    passing = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cloud-backup-mock-coverage",
                                            "--cloud-backup-mock-coverage-fail-under=0.2")
    passing.assert_outcomes(passed=2)
    assert passing.ret == 0
    passing.stdout.fnmatch_lines(["*= cloud-backup-mock coverage =*", "2 of * documented responses answered (*%)"])
    assert "FAIL:" not in passing.stdout.str() and "written to" not in passing.stdout.str()


def test_pytest_without_the_coverage_options_prints_nothing_of_it(pytester):
    pytester.makepyfile(CLIENT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "cloud-backup-mock coverage" not in result.stdout.str()
