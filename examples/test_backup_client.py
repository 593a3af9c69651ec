"""The example client's tests, written against the ``cloud_backup_mock`` fixture as a client team would."""

import pytest
from backup_client import ApiError, BackupClient, FingerprintConflict

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
