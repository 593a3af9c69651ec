"""The example client's tests, written against the ``cloud_backup_mock`` fixture as a client team would."""

import pytest
from backup_client import ApiError, BackupClient, Conflict, FingerprintConflict

HOST = {"os": {"name": "Ubuntu", "version": "14.04", "architecture": "64-bit"},
        "fingerprint": "arbitrary-string-determined-by-agent",
        "addresses": [{"version": 4, "addr": "67.23.10.132"}]}


@pytest.fixture
def agent(cloud_backup_mock):
    return cloud_backup_mock.register_agent("110011", encrypted=True)


@pytest.fixture
def slept():
    return []


@pytest.fixture
def client(cloud_backup_mock, slept):
    with BackupClient(cloud_backup_mock.url, "110011", sleep=slept.append) as client:
        yield client


def test_authenticate_retries_after_503_as_told(cloud_backup_mock, agent, client, slept):
    cloud_backup_mock.use("upstream-unavailable;failures=2;retry_after=3")
    token = client.authenticate(agent["id"], agent["password"], HOST)
    assert slept == [3.0, 3.0]
    cloud_backup_mock.verify("authenticateAgent", count=2, status=503, body={"id": agent["id"]})
    cloud_backup_mock.verify("authenticateAgent", count=1, status=200, body={"id": agent["id"], "host": HOST})
    assert client.get_agent(agent["id"])["id"] == agent["id"]
    assert cloud_backup_mock.calls("getAgent")[-1]["headers"]["x-auth-token"] == "***"  # tokens are masked
    assert len(token) == 36


def test_fingerprint_conflict_is_a_clear_error(cloud_backup_mock, agent, client):
    with pytest.raises(FingerprintConflict, match="fingerprint does not match"):
        client.authenticate(agent["id"], agent["password"], {**HOST, "fingerprint": "cloned-server"})
    cloud_backup_mock.use("fingerprint-conflict")
    with pytest.raises(FingerprintConflict):
        client.authenticate(agent["id"], agent["password"], HOST)
    cloud_backup_mock.verify("authenticateAgent", count=2, status=409)


def test_a_refusal_set_up_inline(cloud_backup_mock, agent, client):
    cloud_backup_mock.respond("getAgent", status=404, body={"message": "Agent was deleted."}, times=1)
    client.authenticate(agent["id"], agent["password"], HOST)
    with pytest.raises(ApiError) as err:
        client.get_agent(agent["id"])
    assert (err.value.status, err.value.message) == (404, "Agent was deleted.")
    assert client.get_agent(agent["id"])["id"] == agent["id"]  # times=1: the world answers after
    cloud_backup_mock.verify("getAgent", count=2)


def test_verification_follows_location_until_the_agent_reports(cloud_backup_mock, agent, client):
    cloud_backup_mock.configure("110011", auto_report_after_seconds=1.0)
    client.authenticate(agent["id"], agent["password"], HOST)
    assert client.verify_vault_password(agent["id"], "0bff42a526") is True
    reads = cloud_backup_mock.calls("getVaultPasswordVerification")
    assert reads[0]["status"] == 404 and reads[-1]["status"] == 200
    cloud_backup_mock.verify("requestVaultPasswordVerification", count=1, status=202,
                             body={"encrypted_password_hex": "0bff42a526", "agent_id": None})


def test_invalid_password_and_unencrypted_vault(cloud_backup_mock, agent, client):
    cloud_backup_mock.configure("110011", auto_report_after_seconds=0)
    client.authenticate(agent["id"], agent["password"], HOST)
    cloud_backup_mock.use("password-invalid")
    assert client.verify_vault_password(agent["id"], "0bff42") is False
    cloud_backup_mock.encrypt_vault(agent["id"], "110011", encrypted=False)
    with pytest.raises(ApiError) as err:
        client.verify_vault_password(agent["id"], "0bff42")
    assert (err.value.status, err.value.message) == (403, "Encryption is not enabled for this agent's vault.")


DOCS_AGENT = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"  # the docs' agent, in every project's default world
RESTORE_TARGET = "74124b09-5bd3-4436-b3e4-87ef362e4df5"  # the docs' restore destination


@pytest.fixture
def panel(cloud_backup_mock):
    """A control panel: its token is the docs' one, and its waits move the project's clock instead of sleeping."""
    with BackupClient(cloud_backup_mock.url, "110011", "0f6e9f63600142f0a970911583522217",
                      sleep=lambda seconds: cloud_backup_mock.advance(seconds)) as client:
        yield client


def test_control_panel_backs_up_waits_and_restores(cloud_backup_mock, panel):
    configuration = panel.create_configuration(DOCS_AGENT, "Web files", ["/var/www/"])
    backup = panel.start_backup(configuration["id"])
    assert backup["state"] == "start_requested"
    done = panel.wait_for("backups", backup["id"])
    assert done["state"] == "completed" and done["restorable"] is True
    restore = panel.start_restore(done["id"], RESTORE_TARGET, "/tmp/restore")
    assert panel.wait_for("restores", restore["id"])["state"] == "completed"
    cloud_backup_mock.verify("startBackup", count=1, status=201, body={"configuration_id": configuration["id"]})
    cloud_backup_mock.verify("getBackup", status=200)


def test_control_panel_sees_a_backup_that_failed_with_errors(cloud_backup_mock, panel):
    cloud_backup_mock.use("backup-fails-partway")
    backup = panel.start_backup(panel.create_configuration(DOCS_AGENT, "Logs", ["/var/log/"])["id"])
    done = panel.wait_for("backups", backup["id"])
    assert done["state"] == "completed_with_errors" and done["errors"]["count"] == 1


def test_control_panel_gives_up_on_an_agent_that_never_picks_up(cloud_backup_mock, panel):
    cloud_backup_mock.use("agent-never-picks-up")
    backup = panel.start_backup(panel.create_configuration(DOCS_AGENT, "Home", ["/home/"])["id"])
    with pytest.raises(ApiError, match="still start_requested"):
        panel.wait_for("backups", backup["id"], timeout=600)


def test_agent_picks_up_its_backup_and_reports_progress(cloud_backup_mock, panel):
    cloud_backup_mock.use("agent-never-picks-up")
    backup = panel.start_backup(panel.create_configuration(DOCS_AGENT, "Etc", ["/etc/"])["id"])
    with BackupClient(cloud_backup_mock.url, "110011", "0f6e9f63600142f0a970911583522217",
                      agent_id=DOCS_AGENT) as agent:
        picked = agent.next_backup(DOCS_AGENT)
        assert picked["id"] == backup["id"]
        agent.report_backup(picked["id"], "queued")
        agent.report_backup(picked["id"], "in_progress")
        agent.report_backup(picked["id"], "completed", files_backed_up=12, bytes_backed_up=4096)
    done = panel.wait_for("backups", backup["id"])
    assert (done["state"], done["files_backed_up"]) == ("completed", 12)
    with pytest.raises(Conflict, match="cannot move"):  # the panel may not reopen it
        panel.report_backup(backup["id"], "queued")
    patches = cloud_backup_mock.calls("updateBackup")
    assert [c["headers"].get("x-agent-id") for c in patches][:3] == [DOCS_AGENT] * 3
