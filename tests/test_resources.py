"""The resource model itself: resources.yaml's checks, the test double's helpers for records and time, and
the project clock of the admin API."""

import textwrap

import httpx
import pytest

from cloud_backup_mock.contract import Contract
from cloud_backup_mock.engine.resources import ResourceError, ResourceModel
from cloud_backup_mock.shipped import RESOURCES_FILE_NAME, SCENARIOS_DIR
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_TOKEN

CONTRACT = Contract.load()
DOCS_CONFIGURATION = "7c8ee069-568f-4d5a-932f-fb2af86b5fd5"


def test_every_operation_on_a_kinds_paths_is_bound_to_what_it_does():
    model = ResourceModel.load(SCENARIOS_DIR / RESOURCES_FILE_NAME, CONTRACT)
    actions = {op: (role.action, role.kind.name) for op, role in model.roles.items()}
    assert actions["startBackup"] == ("create", "backup") and actions["updateRestore"] == ("patch", "restore")
    assert actions["listAgentConfigurations"] == ("list", "configuration")
    assert actions["listCleanupEvents"] == ("events", "event") and actions["listBackupErrors"] == ("errors", "backup")
    assert actions["listConfigurationActivities"] == ("activities", "configuration")
    assert actions["requestLogfile"] == ("create", "logfile") and actions["deleteLogfile"] == ("delete", "logfile")
    assert actions["updateSummarySettings"] == ("put", "summary_settings")
    # Every operation but the health checks works on a kind's records (or checks the one its path names).
    assert set(CONTRACT.operations) - set(model.roles) == {"getHealth", "getHealthDetails", "ping", "authenticateAgent"}


@pytest.mark.parametrize("change, problem", [
    ("item: backups", "kinds.backup.item: a path of the contract"),
    ("example: startBackupp", "kinds.backup.example: unknown operation 'startBackupp' (did you mean 'startBackup'?)"),
    ("refs: {configuration_id: config}", "kinds.backup.refs.configuration_id: no kind 'config'"),
    ("colour: red", "kinds.backup: unknown field 'colour'"),
    ("lifecycle: {start: nowhere, states: {a: {}}}", "kinds.backup.lifecycle.start: 'nowhere' is not one of its states"),
    ("lifecycle: {start: a, states: {a: {auto: b}}}", "kinds.backup.lifecycle.states.a: moves to 'b', which is not a state"),
    ("lifecycle: {start: a, states: {a: {moves: {admin: [a]}}}}", "moves: 'admin' is not one of user, agent, any"),
])
def test_a_resources_file_that_cannot_be_used_names_the_place(tmp_path, change, problem):
    key = change.split(":")[0]
    lines = [f"    {change}"] + [f"    {line}" for line in (
        "item: /v2/{project_id}/backups/{backup_id}", "example: startBackup",
        "refs: {configuration_id: configuration}") if not line.startswith(key + ":")]
    path = tmp_path / "resources.yaml"
    path.write_text("kinds:\n  configuration:\n    item: /v2/{project_id}/configurations/{configuration_id}\n"
                    "  backup:\n" + "\n".join(lines) + "\n")
    with pytest.raises(ResourceError) as err:
        ResourceModel.load(path, CONTRACT)
    assert str(err.value).startswith(str(path)) and problem in str(err.value)


def test_the_helpers_make_move_and_read_records_straight_in_the_world(cloud_backup_mock):
    mock = cloud_backup_mock
    backup = mock.create("backup", configuration_id=DOCS_CONFIGURATION, state="start_requested")
    assert backup["state"] == "start_requested" and backup["agent"]["id"] == DOCS_AGENT
    mock.move("backup", backup["id"], "completed")
    kept = mock.record("backup", backup["id"])
    assert kept["state"] == "completed" and kept["restorable"] is True and kept["_moved"]
    with httpx.Client(base_url=mock.url, headers={"X-Auth-Token": DOCS_TOKEN}) as client:
        assert client.get(f"/v2/110011/backups/{backup['id']}").json()["state"] == "completed"
    logfile = mock.create("logfile", agent_id=DOCS_AGENT)
    assert logfile["state"] == "requested"
    assert mock.advance(10)["advanced_seconds"] == 10
    assert mock.record("logfile", logfile["id"])["state"] == "completed"


@pytest.mark.parametrize("call, message", [
    (lambda m: m.create("backups", configuration_id=DOCS_CONFIGURATION), "unknown kind 'backups' (did you mean 'backup'?)"),
    (lambda m: m.create("backup", configuration=DOCS_CONFIGURATION), "startBackup has no body field 'configuration' "
                                                                      "(did you mean 'configuration_id'?)"),
    (lambda m: m.create("logfile"), "a logfile needs agent_id="),
    (lambda m: m.create("backup", configuration_id="nope"), "No configuration nope in project 110011."),
    (lambda m: m.move("backup", "0d95d699-d16b-11e4-93bd-c8e0eb190e3d", "exploded"), "a backup has no state 'exploded'"),
    (lambda m: m.move("backup", "nope", "failed"), "no backup 'nope' in project '110011'"),
    (lambda m: m.record("bakcup", "x"), "did you mean 'backup'?"),
])
def test_the_helpers_refuse_what_they_cannot_do_and_say_why(cloud_backup_mock, call, message):
    with pytest.raises(ValueError) as err:
        call(cloud_backup_mock)
    assert message in str(err.value)


def test_verify_and_calls_see_the_new_operations(cloud_backup_mock):
    with httpx.Client(base_url=cloud_backup_mock.url, headers={"X-Auth-Token": DOCS_TOKEN}) as client:
        client.post("/v2/110011/backups", json={"configuration_id": DOCS_CONFIGURATION, "state": "start_requested"})
        client.get("/v2/110011/activities")
    cloud_backup_mock.verify("startBackup", count=1, status=201, body={"configuration_id": DOCS_CONFIGURATION})
    assert [c["status"] for c in cloud_backup_mock.calls("listActivities")] == [200]


def test_the_admin_clock_is_read_and_moved_and_refuses_going_back(cloud_backup_mock):
    with httpx.Client(base_url=cloud_backup_mock.url) as admin:
        before = admin.get("/__mock/projects/team-c/clock").json()
        assert before["advanced_seconds"] == 0 and before["project_id"] == "team-c"
        moved = admin.post("/__mock/projects/team-c/clock", json={"advance": 3600})
        assert moved.status_code == 200 and moved.json()["advanced_seconds"] == 3600
        assert moved.json()["now"] > before["now"]
        back = admin.post("/__mock/projects/team-c/clock", json={"advance": -5})
        assert back.status_code == 400 and set(back.json()) == {"message", "errors"}
        assert admin.get("/__mock/projects/team-c/clock").json()["advanced_seconds"] == 3600
