"""The API's resources over real HTTP, in process and on Redis: what is made is listed, jobs move through
their lifecycles (by themselves as the project's clock moves, or as the agent reports), bad moves and bad
patches are refused, and deletes, events, activities and bounds behave as the README says."""

import httpx
import pytest

from cloud_backup_mock.contract import schema_errors
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN
from test_default_world import CONTRACT, assert_contract, docs_request

DOCS_CONFIGURATION = "7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
DOCS_BACKUP = "0d95d699-d16b-11e4-93bd-c8e0eb190e3d"
RESTORE_TARGET = "74124b09-5bd3-4436-b3e4-87ef362e4df5"
PATCH = {"Content-Type": "application/json-patch+json"}
AS_AGENT = {**PATCH, "X-Agent-Id": DOCS_AGENT}
STEP = 5  # world.yaml's auto_advance_after_seconds


def checked(operation_id, response, status):
    assert response.status_code == status, response.text
    assert_contract(operation_id, response)
    return response.json() if response.content else None


def create_configuration(client, **changes):
    body = {**CONTRACT.operation("createConfiguration").request_example, **changes}
    return checked("createConfiguration", client.post("/v2/110011/configurations", json=body), 201)


def start_backup(client, configuration_id):
    response = client.post("/v2/110011/backups", json={"configuration_id": configuration_id, "state": "start_requested"})
    return checked("startBackup", response, 201), response


def backup(client, backup_id):
    return checked("getBackup", client.get(f"/v2/110011/backups/{backup_id}"), 200)


def test_a_created_configuration_is_read_listed_and_listed_for_its_agent(client):
    made = create_configuration(client, name="Nightly")
    assert made["agent"]["id"] == DOCS_AGENT and made["deleted"] is False and made["name"] == "Nightly"
    read = checked("getConfiguration", client.get(f"/v2/110011/configurations/{made['id']}"), 200)
    assert read == made
    listed = checked("listConfigurations", client.get("/v2/110011/configurations"), 200)["configurations"]
    assert [c["id"] for c in listed] == [DOCS_CONFIGURATION, made["id"]]
    mine = checked("listAgentConfigurations", client.get(f"/v2/110011/agents/{DOCS_AGENT}/configurations"), 200)
    assert made["id"] in [c["id"] for c in mine["configurations"]]


def test_a_backup_runs_by_itself_as_the_project_clock_moves(client, mock):
    started, response = start_backup(client, DOCS_CONFIGURATION)
    assert started["state"] == "start_requested" and started["restorable"] is False
    assert response.headers["location"].endswith(f"/v2/110011/backups/{started['id']}")
    assert client.get(response.headers["location"]).json()["state"] == "start_requested"
    seen = []
    for _ in range(5):
        mock.advance(STEP)
        seen.append(backup(client, started["id"])["state"])
    assert seen == ["queued", "preparing", "in_progress", "completed", "completed"]
    done = backup(client, started["id"])
    assert done["restorable"] is True and done["started_time"] and done["ended_time"]
    events = checked("listBackupEvents", client.get(f"/v2/110011/backups/{started['id']}/events"), 200)["events"]
    assert [e["event"] for e in events] == ["backup_start_request", "backup_queued", "backup_preparing",
                                            "backup_in_progress", "backup_completed"]
    restorable = checked("listBackups", client.get("/v2/110011/backups",
                                                   params={"restorable": "true", "configuration_id": DOCS_CONFIGURATION}), 200)
    assert started["id"] in [b["id"] for b in restorable["backups"]]


def test_a_whole_clock_jump_moves_a_job_through_every_state_it_passed(client, mock):
    started, _ = start_backup(client, DOCS_CONFIGURATION)
    mock.advance(STEP * 10)
    assert backup(client, started["id"])["state"] == "completed"
    events = client.get(f"/v2/110011/backups/{started['id']}/events").json()["events"]
    assert len(events) == 5 and events[-1]["time"] > events[0]["time"]


def test_the_agent_reports_progress_by_json_patch_and_a_bad_move_is_409(client, mock):
    mock.use("agent-never-picks-up")
    started, _ = start_backup(client, DOCS_CONFIGURATION)
    url = f"/v2/110011/backups/{started['id']}"
    mock.advance(STEP * 10)
    assert backup(client, started["id"])["state"] == "start_requested"  # nobody picked it up
    refused = client.patch(url, json=[{"op": "replace", "path": "/state", "value": "completed"}], headers=PATCH)
    body = checked("updateBackup", refused, 409)
    assert "'start_requested'" in body["message"] and "'completed'" in body["message"]
    assert "user: stop_requested" in body["errors"][0] and "agent: queued" in body["errors"][0]
    for state in ("queued", "in_progress"):
        patch = [{"op": "replace", "path": "/state", "value": state}]
        assert client.patch(url, json=patch, headers=AS_AGENT).status_code == 204
    report = [{"op": "replace", "path": "/state", "value": "completed"},
              {"op": "replace", "path": "/files_backed_up", "value": 6},
              {"op": "replace", "path": "/bytes_backed_up", "value": 127000000}]
    assert client.patch(url, json=report, headers=AS_AGENT).status_code == 204
    done = backup(client, started["id"])
    assert (done["state"], done["files_backed_up"], done["bytes_backed_up"], done["restorable"]) == (
        "completed", 6, 127000000, True)
    again = client.patch(url, json=[{"op": "replace", "path": "/state", "value": "queued"}], headers=AS_AGENT)
    assert checked("updateBackup", again, 409)["errors"] == [
        "allowed moves from 'completed': user: none; agent: none (a request is the agent's when it carries "
        "X-Agent-Id or an agent's token)"]


def test_a_user_asks_a_running_backup_to_stop(client, mock):
    mock.use("agent-never-picks-up")
    started, _ = start_backup(client, DOCS_CONFIGURATION)
    url = f"/v2/110011/backups/{started['id']}"
    assert client.patch(url, json=[{"op": "replace", "path": "/state", "value": "stop_requested"}],
                        headers=PATCH).status_code == 204
    assert backup(client, started["id"])["state"] == "stop_requested"
    assert client.patch(url, json=[{"op": "replace", "path": "/state", "value": "stopped"}],
                        headers=AS_AGENT).status_code == 204
    assert backup(client, started["id"])["ended_time"]


@pytest.mark.parametrize("patch, problem", [
    ([{"op": "replace", "path": "/id", "value": "00000000-0000-4000-8000-000000000000"}], "[0].path: '/id' is not one of"),
    ([{"op": "replace", "path": "/agent", "value": {"id": "x"}}], "[0].path: '/agent' is not one of"),
    ([{"op": "replace", "path": "/state", "value": 7}], "[0].value: 7 is not of type 'string'"),
    ([{"op": "remove", "path": "/state"}], "[0].op: 'remove' is not one of"),
    ([{"op": "replace", "path": "/state"}], "[0]: 'value' is a required property"),
    ({"op": "replace"}, "is not of type 'array'"),
])
def test_a_patch_the_contract_refuses_is_400_naming_the_operation_and_changes_nothing(client, patch, problem):
    before = backup(client, DOCS_BACKUP)
    body = checked("updateBackup", client.patch(f"/v2/110011/backups/{DOCS_BACKUP}", json=patch, headers=PATCH), 400)
    assert body["message"].startswith("Invalid request: updateBackup: ")
    assert any(problem in error for error in body["errors"]), body
    assert backup(client, DOCS_BACKUP) == before


def test_a_patch_whose_test_fails_is_409_and_changes_nothing(client):
    before = backup(client, DOCS_BACKUP)
    patch = [{"op": "replace", "path": "/files_searched", "value": 1}, {"op": "test", "path": "/state", "value": "queued"}]
    body = checked("updateBackup", client.patch(f"/v2/110011/backups/{DOCS_BACKUP}", json=patch, headers=PATCH), 409)
    assert body["message"].startswith("updateBackup: the patch does not apply")
    assert backup(client, DOCS_BACKUP) == before


def test_a_backup_that_fails_partway_lists_its_errors(client, mock):
    mock.use("backup-fails-partway")
    started, _ = start_backup(client, DOCS_CONFIGURATION)
    mock.advance(STEP * 10)
    done = backup(client, started["id"])
    assert done["state"] == "completed_with_errors" and done["errors"]["count"] == 1
    errors = checked("listBackupErrors", client.get(f"/v2/110011/backups/{started['id']}/errors"), 200)
    assert errors["count"] == len(errors["list"]) == 1
    assert errors["links"][0]["href"].endswith(f"/v2/110011/backups/{started['id']}/errors")


def test_failed_is_a_parameter_of_backup_fails_partway(client, mock):
    mock.use("backup-fails-partway;end_state=failed")
    started, _ = start_backup(client, DOCS_CONFIGURATION)
    mock.advance(STEP * 10)
    done = backup(client, started["id"])
    assert done["state"] == "failed" and done["restorable"] is False


def test_a_restore_needs_a_restorable_backup_and_runs(client, mock):
    running, _ = start_backup(client, DOCS_CONFIGURATION)  # not restorable until it has completed
    body = {**CONTRACT.operation("startRestore").request_example, "backup_id": running["id"]}
    refused = checked("startRestore", client.post("/v2/110011/restores", json=body), 409)
    assert "restorable" in refused["message"] and "start_requested" in refused["message"]
    body["backup_id"] = DOCS_BACKUP
    restore = checked("startRestore", client.post("/v2/110011/restores", json=body), 201)
    assert restore["destination_agent"]["id"] == RESTORE_TARGET and restore["state"] == "start_requested"
    mock.advance(STEP * 10)
    read = checked("getRestore", client.get(f"/v2/110011/restores/{restore['id']}"), 200)
    assert read["state"] == "completed"
    activities = checked("listActivities", client.get("/v2/110011/activities"), 200)["activities"]
    assert {"id": restore["id"], "type": "restore", "state": "completed"}.items() <= activities[0].items()


def test_restore_conflict_is_a_scenario(client, mock):
    mock.use("restore-conflict")
    response = docs_request(client, "startRestore")
    assert checked("startRestore", response, 409)["message"].startswith("The restore cannot start")


def test_a_cleanup_runs_and_shows_in_the_agent_activities(client, mock):
    made = checked("startCleanup", client.post("/v2/110011/cleanups", json={"agent_id": DOCS_AGENT,
                                                                           "state": "start_requested"}), 201)
    mock.advance(STEP * 10)
    assert checked("getCleanup", client.get(f"/v2/110011/cleanups/{made['id']}"), 200)["state"] == "completed"
    activities = checked("listAgentActivities", client.get(f"/v2/110011/agents/{DOCS_AGENT}/activities"), 200)
    assert made["id"] in [a["id"] for a in activities["activities"]]


def test_a_deleted_configuration_reads_deleted_and_starts_no_backup(client):
    made = create_configuration(client)
    assert client.delete(f"/v2/110011/configurations/{made['id']}").status_code == 204
    assert checked("getConfiguration", client.get(f"/v2/110011/configurations/{made['id']}"), 200)["deleted"] is True
    refused = client.post("/v2/110011/backups", json={"configuration_id": made["id"], "state": "start_requested"})
    assert "deleted" in checked("startBackup", refused, 409)["message"]
    assert checked("deleteConfiguration", client.delete(f"/v2/110011/configurations/{made['id']}"), 404)


def test_a_logfile_is_requested_uploaded_by_the_agent_and_deleted(client, mock):
    url = f"/v2/110011/agents/{DOCS_AGENT}/logfiles"
    response = client.post(url)
    requested = checked("requestLogfile", response, 202)
    assert requested["state"] == "requested" and response.headers["location"].endswith(requested["id"])
    item = f"{url}/{requested['id']}"
    assert client.patch(item, json=[{"op": "replace", "path": "/state", "value": "started"}],
                        headers=PATCH).status_code == 204
    mock.advance(STEP)
    done = checked("getLogfile", client.get(item), 200)
    assert done["state"] == "completed" and "logfile" in [link["rel"] for link in done["links"]]
    assert requested["id"] in [f["id"] for f in checked("listLogfiles", client.get(url), 200)["logfiles"]]
    assert client.delete(item).status_code == 204
    assert checked("getLogfile", client.get(item), 404)


def test_events_are_posted_and_listed_per_agent_and_project(client):
    assert client.post(f"/v2/110011/agents/{DOCS_AGENT}/events", json={"event": "startup"}).status_code == 202
    assert client.post("/v2/110011/events", json={"event": "agent_activate", "mode": "active"}).status_code == 202
    mine = checked("listAgentEvents", client.get(f"/v2/110011/agents/{DOCS_AGENT}/events",
                                                 params={"sort_dir": "desc", "limit": 1}), 200)["events"]
    assert [(e["event"], e["agent"]["id"]) for e in mine] == [("startup", DOCS_AGENT)]
    everyone = checked("listProjectEvents", client.get("/v2/110011/events", params={"sort_dir": "desc", "limit": 2}), 200)
    assert [e["event"] for e in everyone["events"]] == ["agent_activate", "startup"]


def test_an_agent_is_updated_shows_busy_and_is_deleted(client, mock):
    mock.use("agent-never-picks-up")
    url = f"/v2/110011/agents/{DOCS_AGENT}"
    assert checked("getAgentStatus", client.get(f"{url}/status"), 200) == {"busy": False, "online": True}
    start_backup(client, DOCS_CONFIGURATION)
    assert client.get(f"{url}/status").json()["busy"] is True
    assert client.patch(url, json=[{"op": "replace", "path": "/log_level", "value": "debug"}], headers=PATCH).status_code == 204
    assert client.get(url).json()["log_level"] == "debug"
    fixed = client.patch(url, json=[{"op": "replace", "path": "/vault/encrypted", "value": False}], headers=PATCH)
    assert "'/vault/encrypted' is not one of /enabled, /log_level" in checked("updateAgent", fixed, 400)["message"]
    listed = checked("listAgents", client.get("/v2/110011/agents"), 200)["agents"]
    assert DOCS_AGENT in [a["id"] for a in listed] and all("password" not in a for a in listed)
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_the_project_clock_expires_tokens(client, mock):
    token = docs_request(client, "authenticateAgent").json()["token"]["id"]
    me = f"/v2/110011/agents/{DOCS_AGENT}"
    assert client.get(me, headers={"X-Auth-Token": token}).status_code == 200
    clock = mock.advance(86400)
    assert clock["advanced_seconds"] == 86400
    assert client.get(me, headers={"X-Auth-Token": token}).status_code == 401


def test_projects_keep_their_own_resources_and_clocks(client, mock):
    create_configuration(client, name="Only in 110011")
    other = client.get("/v2/220022/configurations").json()["configurations"]
    assert "Only in 110011" not in [c["name"] for c in other]
    started = client.post("/v2/220022/backups", json={"configuration_id": DOCS_CONFIGURATION, "state": "start_requested"})
    mock.advance(STEP * 10)  # project 110011's clock only
    assert client.get(f"/v2/220022/backups/{started.json()['id']}").json()["state"] == "start_requested"
