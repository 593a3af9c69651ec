"""What independent validators found missing between the mock and its contract: every status the mock can
answer is documented, Prefer's Location resolves here, required headers are marked required, and a link
leads to authenticateAgent."""

import uuid
from urllib.parse import urlsplit

import pytest

from cloud_backup_mock.contract import Contract

CONTRACT = Contract.load()
AGENT = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"


@pytest.mark.parametrize("operation", sorted(CONTRACT.operations))
def test_every_status_the_mock_can_answer_is_documented(operation):
    statuses = set(CONTRACT.operation(operation).statuses)
    assert {400, 408, 413, 431, 503} <= statuses
    if CONTRACT.operation(operation).method == "POST":
        assert 415 in statuses


def test_required_headers_are_marked_required():
    for op in CONTRACT.operations.values():
        assert op.response_headers(503)["Retry-After"]["required"] is True
        for status in (201, 202):
            if "Location" in op.response_headers(status):
                assert op.response_headers(status)["Location"]["required"] is True, op.operation_id
    made = {op.operation_id for op in CONTRACT.operations.values()
            if any("Location" in op.response_headers(status) for status in (201, 202))}
    assert {"registerAgent", "startBackup", "startRestore", "startCleanup", "createConfiguration", "requestLogfile",
            "requestAgentBrowse", "requestBackupBrowse", "requestVaultEncryption",
            "requestVaultPasswordVerification"} == made  # where the pages show one


def test_a_link_leads_to_authenticate_agent():
    links = CONTRACT.operation("registerAgent").response(201)["links"]
    assert links["Authenticate"]["operationId"] == "authenticateAgent"
    assert links["Authenticate"]["requestBody"]["password"] == "$response.body#/password"


@pytest.mark.parametrize("path,status,item", [
    ("/v2/110011/agents", 201, "getAgent"),
    (f"/v2/110011/agents/{AGENT}/vault-password-verification-requests", 202, "getVaultPasswordVerification"),
    (f"/v2/110011/agents/{AGENT}/vault-encryption-requests", 202, "getVaultEncryption"),
])
def test_prefer_gives_a_location_that_resolves_here(client, mock, path, status, item):
    op = next(o for o in CONTRACT.operations.values() if o.method == "POST" and CONTRACT.routes.match("POST", path).operation_id == o.operation_id)
    answer = client.post(path, json=op.request_example, headers={"Prefer": f"code={status}"})
    assert answer.status_code == status
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == mock.url
    match = CONTRACT.routes.match("GET", location.path)
    assert match.operation_id == item
    uuid.UUID(location.path.rsplit("/", 1)[-1])  # a whole UUID, not the docs' cut one


@pytest.mark.parametrize("path,operation", [
    ("/v2/110011//agents/" + AGENT, "getAgent"),  # after a value: as printed in one of the docs' examples
    ("/v2/110011/agents//vault-encryption-requests", None),  # after a literal: a missing agent id
    ("/v2//agents/" + AGENT, None),
])
def test_an_empty_segment_counts_only_after_a_value(path, operation):
    assert CONTRACT.routes.match("GET", path).operation_id == operation
