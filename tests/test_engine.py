"""The scenario engine without HTTP: a request context in, an outcome out, for every rule of the default
world and of every shipped scenario (the last test checks that none is left out)."""

import asyncio
import copy
import re

import pytest

from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.contract import schema_errors
from cloud_backup_mock.engine import Engine, Request, RequestError, build_engine, complete
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_PROJECT, DOCS_TOKEN

BASE = "http://mock.test"
TARGET = "8e84d320-77a9-4eb4-a39d-25878a3b9f16"  # world.yaml: the docs' verification target, vault encrypted
DOCS_VERIFICATION = "f353f472-4931-463a-9920-1dcad25f88e7"  # world.yaml: reported already
DOCS_ENCRYPTION = "9072bb51-d5fd-4fc5-ad80-d62e573236b6"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
SHIPPED = build_engine(MockConfig(settings={"auto_report_after_seconds": None}))


@pytest.fixture
def engine() -> Engine:
    return Engine(SHIPPED.contract, SHIPPED.scenarios, SHIPPED.seed)


def ask(engine, operation_id, body=None, scenario=None, project=DOCS_PROJECT, token=DOCS_TOKEN, **path):
    operation = engine.contract.operation(operation_id)
    headers = {"x-mock-scenario": scenario} if scenario else {}
    context = Request(operation, project, {"project_id": project, **path}, {}, headers, body, BASE, token)
    outcome = asyncio.run(engine.handle(context))
    if outcome.has_body and outcome.body is not None:  # every answer keeps to the contract
        schema = operation.response_schema(outcome.status)
        assert schema is not None and schema_errors(schema, outcome.body) == [], (operation_id, outcome)
    return outcome


def project_world(engine, project_id):
    return complete(engine.store.project(project_id))


def change(engine, step, project_id=DOCS_PROJECT):
    """``step`` applied to the project's state as one change of the store, as a rule's effects are."""
    return complete(engine.store.transaction(project_world(engine, project_id), step))[1]


def example(engine, operation_id, **changes):
    body = copy.deepcopy(engine.contract.operation(operation_id).request_example)
    body.update(changes)
    return body


def new_agent(engine, encrypted=False):
    def register(world):
        agent = world.apply("register_agent", {"body": example(engine, "registerAgent"), "base_url": BASE})
        if encrypted:
            world.apply("set_vault_encrypted", {"agent_id": agent["id"]})
        return agent

    return change(engine, register)


def docs_credentials(engine, **changes):
    return example(engine, "authenticateAgent", **changes)


CASES = {}


def case(label):
    def register(test):
        CASES[label] = test
        return test
    return register


@case("default#1")
def wrong_password(engine):
    outcome = ask(engine, "authenticateAgent", docs_credentials(engine, password="wrong"))
    assert outcome.status == 401 and DOCS_AGENT in outcome.body["errors"][0]
    return outcome


@case("default#2")
def fingerprint_of_another_host(engine):
    body = docs_credentials(engine)
    body["host"] = dict(body["host"], fingerprint="another-host")
    outcome = ask(engine, "authenticateAgent", body)
    assert outcome.status == 409
    return outcome


@case("default#3")
def token_issued(engine):
    outcome = ask(engine, "authenticateAgent", docs_credentials(engine))
    assert outcome.status == 200
    token = outcome.body["token"]
    assert complete(engine.authenticate(DOCS_PROJECT, token["id"]))[0]["agent_id"] == DOCS_AGENT
    assert complete(engine.authenticate("another-project", token["id"])) == (None, None)
    return outcome


@case("default#4")
def agents_full(engine):
    change(engine, lambda world: world.apply("configure", {"max_agents": 3}))
    first = ask(engine, "registerAgent", example(engine, "registerAgent"))
    assert first.status == 201
    outcome = ask(engine, "registerAgent", example(engine, "registerAgent"))
    assert outcome.status == 403 and "as many agents" in outcome.body["message"]
    assert len(project_world(engine, DOCS_PROJECT).agents) == 3
    return outcome


@case("default#5")
def agent_registered(engine):
    outcome = ask(engine, "registerAgent", example(engine, "registerAgent"))
    assert outcome.status == 201 and outcome.body["password"]
    assert outcome.headers["Location"] == f"{BASE}/v2/{DOCS_PROJECT}/agents/{outcome.body['id']}"
    assert "fingerprint" not in outcome.body
    return outcome


@case("default#6")
def unknown_agent(engine):
    outcome = ask(engine, "getAgent", agent_id=UNKNOWN)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#7")
def docs_agent(engine):
    outcome = ask(engine, "getAgent", agent_id=DOCS_AGENT)
    assert outcome.status == 200
    assert outcome.body == engine.contract.operation("getAgent").response_example(200)
    return outcome


@case("default#8")
def verification_for_unknown_agent(engine):
    outcome = ask(engine, "requestVaultPasswordVerification", example(engine, "requestVaultPasswordVerification"),
                  agent_id=UNKNOWN)
    assert outcome.status == 404
    return outcome


@case("default#9")
def verification_of_unknown_target(engine):
    body = example(engine, "requestVaultPasswordVerification", agent_id=UNKNOWN)
    outcome = ask(engine, "requestVaultPasswordVerification", body, agent_id=DOCS_AGENT)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#10")
def verification_of_unencrypted_vault(engine):
    agent = new_agent(engine)
    body = example(engine, "requestVaultPasswordVerification", agent_id=agent["id"])
    outcome = ask(engine, "requestVaultPasswordVerification", body, agent_id=DOCS_AGENT)
    assert outcome.status == 403
    return outcome


@case("default#11")
def verification_requested(engine):
    body = example(engine, "requestVaultPasswordVerification", agent_id=TARGET)
    outcome = ask(engine, "requestVaultPasswordVerification", body, agent_id=DOCS_AGENT)
    assert outcome.status == 202 and not outcome.has_body
    assert re.fullmatch(rf"{BASE}/v2/{DOCS_PROJECT}/agents/{DOCS_AGENT}/vault-password-verification-requests/[0-9a-f-]{{36}}",
                        outcome.headers["Location"])
    return outcome


def created_request(engine, kind):
    return change(engine, lambda world: world.apply(
        "create_request", {"kind": kind, "agent_id": DOCS_AGENT, "target_agent_id": TARGET})).id


@case("default#12")
def unknown_verification(engine):
    outcome = ask(engine, "getVaultPasswordVerification", agent_id=DOCS_AGENT, request_id=UNKNOWN)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#13")
def verification_not_reported(engine):
    outcome = ask(engine, "getVaultPasswordVerification", agent_id=DOCS_AGENT,
                  request_id=created_request(engine, "verification"))
    assert outcome.status == 404 and "not reported" in outcome.body["message"]
    return outcome


@case("default#14")
def docs_verification_result(engine):
    outcome = ask(engine, "getVaultPasswordVerification", agent_id=DOCS_AGENT, request_id=DOCS_VERIFICATION)
    assert outcome.status == 200 and outcome.body["valid"] is True
    return outcome


@case("default#15")
def report_of_unknown_verification(engine):
    outcome = ask(engine, "reportVaultPasswordVerification", {"verified": True}, agent_id=DOCS_AGENT, request_id=UNKNOWN)
    assert outcome.status == 404
    return outcome


@case("default#16")
def verification_reported(engine):
    request_id = created_request(engine, "verification")
    outcome = ask(engine, "reportVaultPasswordVerification", {"verified": False}, agent_id=DOCS_AGENT,
                  request_id=request_id)
    assert outcome.status == 204 and not outcome.has_body
    after = ask(engine, "getVaultPasswordVerification", agent_id=DOCS_AGENT, request_id=request_id)
    assert after.status == 200 and after.body["valid"] is False and after.body["request_id"] == request_id
    return outcome


@case("default#17")
def encryption_for_unknown_agent(engine):
    outcome = ask(engine, "requestVaultEncryption", example(engine, "requestVaultEncryption"), agent_id=UNKNOWN)
    assert outcome.status == 404
    return outcome


@case("default#18")
def old_password_for_unencrypted_vault(engine):
    agent = new_agent(engine)
    body = example(engine, "requestVaultEncryption", old_encrypted_password_hex="00ff")
    outcome = ask(engine, "requestVaultEncryption", body, agent_id=agent["id"])
    assert outcome.status == 403 and "unencrypted" in outcome.body["message"]
    return outcome


@case("default#19")
def no_old_password_for_encrypted_vault(engine):
    outcome = ask(engine, "requestVaultEncryption", example(engine, "requestVaultEncryption"), agent_id=DOCS_AGENT)
    assert outcome.status == 403 and "is encrypted" in outcome.body["message"]
    return outcome


@case("default#20")
def encryption_requested(engine):
    agent = new_agent(engine)
    outcome = ask(engine, "requestVaultEncryption", example(engine, "requestVaultEncryption"), agent_id=agent["id"])
    assert outcome.status == 202
    assert outcome.headers["Location"].startswith(f"{BASE}/v2/{DOCS_PROJECT}/agents/{agent['id']}/vault-encryption-requests/")
    return outcome


@case("default#21")
def unknown_encryption(engine):
    outcome = ask(engine, "getVaultEncryption", agent_id=DOCS_AGENT, request_id=UNKNOWN)
    assert outcome.status == 404
    return outcome


@case("default#22")
def encryption_not_reported(engine):
    outcome = ask(engine, "getVaultEncryption", agent_id=DOCS_AGENT, request_id=created_request(engine, "encryption"))
    assert outcome.status == 404 and "not reported" in outcome.body["message"]
    return outcome


@case("default#23")
def docs_encryption_result(engine):
    outcome = ask(engine, "getVaultEncryption", agent_id=DOCS_AGENT, request_id=DOCS_ENCRYPTION)
    assert outcome.status == 200 and outcome.body["succeeded"] is True
    return outcome


@case("default#24")
def report_of_unknown_encryption(engine):
    outcome = ask(engine, "reportVaultEncryption", {"action": "enabled", "succeeded": True}, agent_id=DOCS_AGENT,
                  request_id=UNKNOWN)
    assert outcome.status == 404
    return outcome


@case("default#25")
def encryption_reported(engine):
    agent = new_agent(engine)
    request_id = change(engine, lambda world: world.apply(
        "create_request", {"kind": "encryption", "agent_id": agent["id"]})).id
    outcome = ask(engine, "reportVaultEncryption", {"action": "enabled", "succeeded": True}, agent_id=agent["id"],
                  request_id=request_id)
    assert outcome.status == 204
    assert project_world(engine, DOCS_PROJECT).agent(agent["id"])["vault"]["encrypted"] is True
    return outcome


@case("connection-dropped#1")
def dropped(engine):
    outcome = ask(engine, "getAgent", scenario="connection-dropped", agent_id=DOCS_AGENT)
    assert outcome.drop
    return outcome


@case("credentials-rejected#1")
def credentials_rejected(engine):
    outcome = ask(engine, "authenticateAgent", docs_credentials(engine), scenario="credentials-rejected")
    assert outcome.status == 401
    return outcome


@case("encryption-disabled#1")
def encryption_disabled(engine):
    body = example(engine, "requestVaultPasswordVerification", agent_id=TARGET)
    outcome = ask(engine, "requestVaultPasswordVerification", body, scenario="encryption-disabled", agent_id=DOCS_AGENT)
    assert outcome.status == 403
    return outcome


@case("fingerprint-conflict#1")
def fingerprint_conflict(engine):
    outcome = ask(engine, "authenticateAgent", docs_credentials(engine), scenario="fingerprint-conflict")
    assert outcome.status == 409
    return outcome


@case("password-invalid#1")
def password_invalid(engine):
    outcome = ask(engine, "getVaultPasswordVerification", scenario="password-invalid", agent_id=DOCS_AGENT,
                  request_id=DOCS_VERIFICATION)
    assert outcome.status == 200 and outcome.body["valid"] is False and outcome.body["request_id"] == DOCS_VERIFICATION
    return outcome


@case("server-error#1")
def server_error(engine):
    outcome = ask(engine, "registerAgent", example(engine, "registerAgent"), scenario="server-error")
    assert outcome.status == 500 and "server-error" in outcome.body["message"]
    assert project_world(engine, DOCS_PROJECT).agents.keys() == {DOCS_AGENT, TARGET}  # nothing registered
    return outcome


@case("slow#1")
def slow(engine):
    waited = []

    async def sleep(seconds):
        waited.append(seconds)

    engine.rules.sleep = sleep
    outcome = ask(engine, "getAgent", scenario="slow;seconds=3", agent_id=DOCS_AGENT)
    assert waited == [3] and outcome.status == 200
    return outcome


@case("upstream-unavailable#1")
def upstream_unavailable(engine):
    answers = [ask(engine, "getAgent", scenario="upstream-unavailable;failures=2;retry_after=4", agent_id=DOCS_AGENT)
               for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].headers == {"Retry-After": "4"}
    return answers[0]


@case("verification-pending#1")
def verification_pending(engine):
    outcome = ask(engine, "getVaultPasswordVerification", scenario="verification-pending", agent_id=DOCS_AGENT,
                  request_id=DOCS_VERIFICATION)
    assert outcome.status == 404
    return outcome


@pytest.mark.parametrize("label", sorted(CASES))
def test_rule(label, engine):
    test = CASES[label]
    outcome = test(engine)
    # slow#1 only waits: the rule after it answers
    assert outcome.rule == ("default#7" if label == "slow#1" else label)


def test_every_rule_of_every_shipped_scenario_has_a_case():
    rules = {rule.label for scenario in SHIPPED.scenarios.values() for rule in scenario.rules}
    assert rules == set(CASES)


def test_unknown_scenario_is_refused_listing_the_known(engine):
    outcome = ask(engine, "getAgent", scenario="no-such", agent_id=DOCS_AGENT)
    assert (outcome.status, outcome.scenario) == (400, "(refused)")
    assert "unknown scenario 'no-such'" in outcome.body["errors"][0]
    assert "default" in outcome.body["errors"][-1]


def test_the_token_is_checked_before_anything_else(engine):
    refusal = RequestError("never shown", [])
    request = Request(engine.contract.operation("getAgent"), DOCS_PROJECT,
                      {"project_id": DOCS_PROJECT, "agent_id": DOCS_AGENT}, token="wrong", refusal=refusal)
    outcome = asyncio.run(engine.handle(request))
    assert outcome.status == 401 and outcome.body["message"] == "Missing or invalid X-Auth-Token."
    request.token = DOCS_TOKEN  # a valid token: the layers' refusal stands
    with pytest.raises(RequestError):
        asyncio.run(engine.handle(request))
    missing = Request(engine.contract.operation("getAgent"), DOCS_PROJECT, {"agent_id": DOCS_AGENT})
    assert asyncio.run(engine.handle(missing)).status == 401


def test_projects_are_apart(engine):
    ask(engine, "registerAgent", example(engine, "registerAgent"), project="team-a")
    assert len(project_world(engine, "team-a").agents) == 3
    assert len(project_world(engine, "team-b").agents) == 2


def test_a_header_value_a_template_builds_from_the_request_is_checked():
    from cloud_backup_mock.engine.scenarios import load_document

    (echo,) = load_document({"name": "echo", "description": "d", "rules": [{
        "operation": "requestVaultPasswordVerification",
        "response": {"status": 503, "headers": {"Retry-After": "{{ body.encrypted_password_hex }}"},
                     "body": {"message": "m"}}}]}, SHIPPED.contract)
    engine = Engine(SHIPPED.contract, {**SHIPPED.scenarios, "echo": echo}, SHIPPED.seed)
    injected = ask(engine, "requestVaultPasswordVerification", {"encrypted_password_hex": "1\r\nSet-Cookie: x=1"},
                   scenario="echo", agent_id=DOCS_AGENT)
    assert injected.status == 500 and injected.headers == {}
    assert injected.body["errors"] == ["header Retry-After: the value is not one line of printable Latin-1 text "
                                       "of at most 4096 characters"]
    fine = ask(engine, "requestVaultPasswordVerification", {"encrypted_password_hex": "7"}, scenario="echo",
               agent_id=DOCS_AGENT)
    assert fine.status == 503 and fine.headers == {"Retry-After": "7"}
