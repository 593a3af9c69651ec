"""The answers the contract documents (``engine/answers.py``): the documented success, ``Prefer``, and
the ``Location`` of what a request made, on the server the client called."""

import pytest

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.contract import schema_errors
from cloud_backup_mock.engine import Request, RequestError, build_engine
from cloud_backup_mock.engine.answers import DocumentedAnswers
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_PROJECT

CONTRACT = build_engine(MockConfig()).contract
ANSWERS = DocumentedAnswers(CONTRACT)
BASE = "http://mock.test:9"


def request(operation_id, **path):
    return Request(CONTRACT.operation(operation_id), DOCS_PROJECT, {"project_id": DOCS_PROJECT, **path},
                   base_url=BASE)


def test_the_documented_success_is_the_lowest_success_with_its_example():
    outcome = ANSWERS.documented(request("getAgent", agent_id=DOCS_AGENT))
    assert outcome.status == 200 and outcome.body == CONTRACT.operation("getAgent").response_example(200)


def test_a_location_points_at_the_item_on_this_server():
    outcome = ANSWERS.documented(request("requestVaultPasswordVerification", agent_id=DOCS_AGENT))
    location = outcome.headers["Location"]
    assert location.startswith(f"{BASE}/v2/{DOCS_PROJECT}/agents/{DOCS_AGENT}/vault-password-verification-requests/")
    request_id = location.rsplit("/", 1)[1]
    parameter = next(p for p in CONTRACT.operation("getVaultPasswordVerification").spec["parameters"]
                     if p["name"] == "request_id")
    assert schema_errors(parameter["schema"], request_id) == []


def test_prefer_answers_a_documented_status_and_refuses_others():
    outcome = ANSWERS.preferred(request("getAgent", agent_id=DOCS_AGENT), "code=404")
    assert outcome.status == 404 and outcome.scenario == "Prefer: code=404"
    assert ANSWERS.preferred(request("getAgent"), "dynamic=true") is None  # nothing it answers by itself
    with pytest.raises(RequestError, match="Prefer: code=418 is not documented for getAgent"):
        ANSWERS.preferred(request("getAgent"), "code=418")
    with pytest.raises(RequestError, match="Malformed Prefer header"):
        ANSWERS.preferred(request("getAgent"), "code 404")
