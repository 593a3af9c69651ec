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
    seeded = len(engine.seed.agents)
    change(engine, lambda world: world.apply("configure", {"max_agents": seeded + 1}))
    first = ask(engine, "registerAgent", example(engine, "registerAgent"))
    assert first.status == 201
    outcome = ask(engine, "registerAgent", example(engine, "registerAgent"))
    assert outcome.status == 403 and "as many agents" in outcome.body["message"]
    assert len(project_world(engine, DOCS_PROJECT).agents) == seeded + 1
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


DOCS_BACKUP = "0d95d699-d16b-11e4-93bd-c8e0eb190e3d"  # world.yaml: the docs' backup, restorable
DOCS_AGENT_BROWSE = "16ce47f7-88b2-4983-8b1c-d4a82306ae87"  # world.yaml: answered already
DOCS_BACKUP_BROWSE = "ae7528c8-bcc3-4356-a237-f20fbdd79ee4"
VAULT_SOURCE = "2240a3eb-1d4e-4e52-bbcd-24417917c361"  # world.yaml: the docs' vault move source


@case("default#26")
def browse_of_unknown_agent(engine):
    outcome = ask(engine, "requestAgentBrowse", {"path": "/"}, agent_id=UNKNOWN)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#27")
def agent_browse_requested(engine):
    outcome = ask(engine, "requestAgentBrowse", {"path": "/etc"}, agent_id=DOCS_AGENT)
    assert outcome.status == 202
    request_id = outcome.headers["Location"].rsplit("/", 1)[1]
    assert f"/agents/{DOCS_AGENT}/browse-requests/{request_id}" in outcome.headers["Location"]
    assert ask(engine, "getAgentBrowse", agent_id=DOCS_AGENT, request_id=request_id).status == 404  # not answered yet
    change(engine, lambda world: world.apply("report_browse", {"kind": "agent_browse", "request_id": request_id}))
    answered = ask(engine, "getAgentBrowse", agent_id=DOCS_AGENT, request_id=request_id)
    assert answered.status == 200 and answered.body["path"] == "/etc/" and answered.body["event"] == "host_browsed"
    return outcome


@case("default#31")
def browse_of_unknown_backup(engine):
    outcome = ask(engine, "requestBackupBrowse", {"agent_id": DOCS_AGENT, "path": "/"}, backup_id=UNKNOWN)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#32")
def backup_browse_by_unknown_agent(engine):
    outcome = ask(engine, "requestBackupBrowse", {"agent_id": UNKNOWN, "path": "/"}, backup_id=DOCS_BACKUP)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#33")
def backup_not_restorable_yet(engine):
    started = ask(engine, "startBackup", {"configuration_id": "7c8ee069-568f-4d5a-932f-fb2af86b5fd5",
                                          "state": "start_requested"})
    assert started.status == 201
    outcome = ask(engine, "requestBackupBrowse", {"agent_id": DOCS_AGENT, "path": "/"}, backup_id=started.body["id"])
    assert outcome.status == 409 and "start_requested" in outcome.body["message"]
    return outcome


@case("default#34")
def backup_browse_requested(engine):
    outcome = ask(engine, "requestBackupBrowse", {"agent_id": DOCS_AGENT, "path": "/web"}, backup_id=DOCS_BACKUP)
    assert outcome.status == 202
    request_id = outcome.headers["Location"].rsplit("/", 1)[1]
    change(engine, lambda world: world.apply("report_browse", {"kind": "backup_browse", "request_id": request_id}))
    answered = ask(engine, "getBackupBrowse", backup_id=DOCS_BACKUP, request_id=request_id)
    assert answered.status == 200 and answered.body["event"] == "backup_browsed"
    assert answered.body["agent"] == {"id": DOCS_AGENT} and answered.body["path"] == "/web/"
    return outcome


def browse_reads(kind, operation, parent_field, parent_id, target_agent, docs_id, rules):
    """The three reads of a browse request (agent or backup), one case each: an unknown id, a request not
    reported yet, and the docs' answered one."""
    unknown_rule, not_answered_rule, docs_rule = rules

    @case(unknown_rule)
    def unknown_request(engine):
        outcome = ask(engine, operation, **{parent_field: parent_id, "request_id": UNKNOWN})
        assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
        return outcome

    @case(not_answered_rule)
    def not_answered(engine):
        request_id = change(engine, lambda world: world.apply(
            "create_request", {"kind": kind, "agent_id": parent_id, "target_agent_id": target_agent})).id
        outcome = ask(engine, operation, **{parent_field: parent_id, "request_id": request_id})
        assert outcome.status == 404 and "not reported" in outcome.body["message"]
        return outcome

    @case(docs_rule)
    def docs_request(engine):
        outcome = ask(engine, operation, **{parent_field: parent_id, "request_id": docs_id})
        assert outcome.status == 200
        assert outcome.body == engine.contract.operation(operation).response_example(200)
        return outcome


browse_reads("agent_browse", "getAgentBrowse", "agent_id", DOCS_AGENT, DOCS_AGENT, DOCS_AGENT_BROWSE,
             ("default#28", "default#29", "default#30"))
browse_reads("backup_browse", "getBackupBrowse", "backup_id", DOCS_BACKUP, DOCS_AGENT, DOCS_BACKUP_BROWSE,
             ("default#35", "default#36", "default#37"))


@case("default#38")
def vault_move_to_unknown_agent(engine):
    outcome = ask(engine, "moveVault", {"source_agent_id": VAULT_SOURCE}, agent_id=UNKNOWN)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#39")
def vault_move_from_unknown_agent(engine):
    outcome = ask(engine, "moveVault", {"source_agent_id": UNKNOWN}, agent_id=DOCS_AGENT)
    assert outcome.status == 404 and UNKNOWN in outcome.body["message"]
    return outcome


@case("default#40")
def vault_moved(engine):
    vault = project_world(engine, DOCS_PROJECT).agent(VAULT_SOURCE)["vault"]
    outcome = ask(engine, "moveVault", {"source_agent_id": VAULT_SOURCE}, agent_id=DOCS_AGENT)
    assert outcome.status == 204
    world = project_world(engine, DOCS_PROJECT)
    assert world.agent(DOCS_AGENT)["vault"] == vault and world.agent(VAULT_SOURCE) is None
    return outcome


DOCS_CONFIGURATION = "7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
START = {"configuration_id": DOCS_CONFIGURATION, "state": "start_requested"}


def _starts_a_job_that_stays(scenario, operation_id, body, **path):
    def check(engine):
        outcome = ask(engine, operation_id, body, scenario=scenario, **path)
        assert outcome.status in (201, 202)
        world = project_world(engine, DOCS_PROJECT)
        assert world.settings.auto_advance_after_seconds is None  # the agent never picks it up
        change(engine, lambda w: w.apply("advance_clock", {"seconds": 3600}))
        kind = {"startBackup": "backup", "startRestore": "restore", "startCleanup": "cleanup"}.get(operation_id, "logfile")
        state = project_world(engine, DOCS_PROJECT).record(kind, outcome.body["id"])["state"]
        assert state == outcome.body["state"]
        return outcome
    return check


RESTORE = {"backup_id": "0d95d699-d16b-11e4-93bd-c8e0eb190e3d", "destination_agent_id": DOCS_AGENT,
           "destination_path": "/tmp/r", "encrypted_password_hex": "00", "inclusions": [], "exclusions": []}
case("agent-never-picks-up#1")(_starts_a_job_that_stays("agent-never-picks-up", "startBackup", START))
case("agent-never-picks-up#2")(_starts_a_job_that_stays("agent-never-picks-up", "startRestore", RESTORE))
case("agent-never-picks-up#3")(_starts_a_job_that_stays("agent-never-picks-up", "startCleanup",
                                                        {"agent_id": DOCS_AGENT, "state": "start_requested"}))
case("agent-never-picks-up#4")(_starts_a_job_that_stays("agent-never-picks-up", "requestLogfile", None,
                                                        agent_id=DOCS_AGENT))


def _ends_with_errors(operation_id, body, kind):
    def check(engine):
        outcome = ask(engine, operation_id, body, scenario="backup-fails-partway")
        assert outcome.status == 201
        change(engine, lambda w: w.apply("advance_clock", {"seconds": 3600}))
        record = project_world(engine, DOCS_PROJECT).record(kind, outcome.body["id"])
        assert record["state"] == "completed_with_errors" and record["errors"]["count"] >= 1
        return outcome
    return check


case("backup-fails-partway#1")(_ends_with_errors("startBackup", START, "backup"))
case("backup-fails-partway#2")(_ends_with_errors("startRestore", RESTORE, "restore"))
case("backup-fails-partway#3")(_ends_with_errors("startCleanup", {"agent_id": DOCS_AGENT, "state": "start_requested"},
                                                 "cleanup"))


@case("restore-conflict#1")
def restore_conflict(engine):
    outcome = ask(engine, "startRestore", RESTORE, scenario="restore-conflict")
    assert outcome.status == 409 and DOCS_AGENT in outcome.body["message"]
    assert not project_world(engine, DOCS_PROJECT).records.get("restore", {}).keys() - {"e87e6f7d-d166-11e4-8689-c8e0eb190e3d"}
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
    assert project_world(engine, DOCS_PROJECT).agents.keys() == {a["id"] for a in engine.seed.agents}  # nothing registered
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
    # slow#1 only waits: the rule after it answers; the rules that only change settings leave the answer to
    # the resource model (their effects are checked by the case)
    if label == "slow#1":
        assert outcome.rule == "default#7"
    elif label.startswith(("agent-never-picks-up#", "backup-fails-partway#")):
        assert (outcome.scenario, outcome.rule) == ("(resources)", None)
    else:
        assert outcome.rule == label


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
    seeded = len(engine.seed.agents)
    assert len(project_world(engine, "team-a").agents) == seeded + 1
    assert len(project_world(engine, "team-b").agents) == seeded


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
