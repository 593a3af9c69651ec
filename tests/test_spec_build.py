import shutil
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from cloud_backup_mock.builder import spec_build
from cloud_backup_mock.cli import main
from cloud_backup_mock.contract import Contract, schema_errors
from cloud_backup_mock.shipped import SPEC_DIR, SPEC_FILE

OPERATIONS = {
    "listActivities": ("GET", "/v2/{project_id}/activities"),
    "listAgents": ("GET", "/v2/{project_id}/agents"),
    "registerAgent": ("POST", "/v2/{project_id}/agents"),
    "authenticateAgent": ("POST", "/v2/{project_id}/agents/tokens"),
    "deleteAgent": ("DELETE", "/v2/{project_id}/agents/{agent_id}"),
    "getAgent": ("GET", "/v2/{project_id}/agents/{agent_id}"),
    "updateAgent": ("PATCH", "/v2/{project_id}/agents/{agent_id}"),
    "listAgentActivities": ("GET", "/v2/{project_id}/agents/{agent_id}/activities"),
    "requestAgentBrowse": ("POST", "/v2/{project_id}/agents/{agent_id}/browse-requests"),
    "getAgentBrowse": ("GET", "/v2/{project_id}/agents/{agent_id}/browse-requests/{request_id}"),
    "getAgentConfiguration": ("GET", "/v2/{project_id}/agents/{agent_id}/configuration"),
    "listAgentConfigurations": ("GET", "/v2/{project_id}/agents/{agent_id}/configurations"),
    "listAgentEvents": ("GET", "/v2/{project_id}/agents/{agent_id}/events"),
    "postAgentEvents": ("POST", "/v2/{project_id}/agents/{agent_id}/events"),
    "listLogfiles": ("GET", "/v2/{project_id}/agents/{agent_id}/logfiles"),
    "requestLogfile": ("POST", "/v2/{project_id}/agents/{agent_id}/logfiles"),
    "deleteLogfile": ("DELETE", "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}"),
    "getLogfile": ("GET", "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}"),
    "updateLogfile": ("PATCH", "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}"),
    "getAgentStatus": ("GET", "/v2/{project_id}/agents/{agent_id}/status"),
    "moveVault": ("POST", "/v2/{project_id}/agents/{agent_id}/vault"),
    "requestVaultEncryption": ("POST", "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests"),
    "getVaultEncryption": ("GET", "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests/{request_id}"),
    "reportVaultEncryption": ("POST", "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests/{request_id}"),
    "requestVaultPasswordVerification": ("POST", "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests"),
    "getVaultPasswordVerification": ("GET", "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests/{request_id}"),
    "reportVaultPasswordVerification": ("POST", "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests/{request_id}"),
    "listBackups": ("GET", "/v2/{project_id}/backups"),
    "startBackup": ("POST", "/v2/{project_id}/backups"),
    "getBackup": ("GET", "/v2/{project_id}/backups/{backup_id}"),
    "updateBackup": ("PATCH", "/v2/{project_id}/backups/{backup_id}"),
    "requestBackupBrowse": ("POST", "/v2/{project_id}/backups/{backup_id}/browse-requests"),
    "getBackupBrowse": ("GET", "/v2/{project_id}/backups/{backup_id}/browse-requests/{request_id}"),
    "listBackupErrors": ("GET", "/v2/{project_id}/backups/{backup_id}/errors"),
    "listBackupEvents": ("GET", "/v2/{project_id}/backups/{backup_id}/events"),
    "listCleanups": ("GET", "/v2/{project_id}/cleanups"),
    "startCleanup": ("POST", "/v2/{project_id}/cleanups"),
    "getCleanup": ("GET", "/v2/{project_id}/cleanups/{cleanup_id}"),
    "updateCleanup": ("PATCH", "/v2/{project_id}/cleanups/{cleanup_id}"),
    "listCleanupErrors": ("GET", "/v2/{project_id}/cleanups/{cleanup_id}/errors"),
    "listCleanupEvents": ("GET", "/v2/{project_id}/cleanups/{cleanup_id}/events"),
    "listConfigurations": ("GET", "/v2/{project_id}/configurations"),
    "createConfiguration": ("POST", "/v2/{project_id}/configurations"),
    "deleteConfiguration": ("DELETE", "/v2/{project_id}/configurations/{configuration_id}"),
    "getConfiguration": ("GET", "/v2/{project_id}/configurations/{configuration_id}"),
    "updateConfiguration": ("PATCH", "/v2/{project_id}/configurations/{configuration_id}"),
    "listConfigurationActivities": ("GET", "/v2/{project_id}/configurations/{configuration_id}/activities"),
    "listConfigurationEvents": ("GET", "/v2/{project_id}/configurations/{configuration_id}/events"),
    "listProjectEvents": ("GET", "/v2/{project_id}/events"),
    "postProjectEvents": ("POST", "/v2/{project_id}/events"),
    "getHealth": ("GET", "/v2/{project_id}/health"),
    "getHealthDetails": ("GET", "/v2/{project_id}/health/{dependent_system}"),
    "ping": ("GET", "/v2/{project_id}/ping"),
    "listRestores": ("GET", "/v2/{project_id}/restores"),
    "startRestore": ("POST", "/v2/{project_id}/restores"),
    "getRestore": ("GET", "/v2/{project_id}/restores/{restore_id}"),
    "updateRestore": ("PATCH", "/v2/{project_id}/restores/{restore_id}"),
    "listRestoreErrors": ("GET", "/v2/{project_id}/restores/{restore_id}/errors"),
    "listRestoreEvents": ("GET", "/v2/{project_id}/restores/{restore_id}/events"),
    "getSummarySettings": ("GET", "/v2/{project_id}/settings/summaries"),
    "updateSummarySettings": ("PUT", "/v2/{project_id}/settings/summaries"),
}
CONTRACT = Contract.load()


def test_committed_spec_is_valid_openapi_303():
    document = yaml.safe_load(SPEC_FILE.read_text())
    assert document["openapi"] == "3.0.3"
    validate(document)


def test_committed_spec_is_what_the_builder_makes(api_reference_dir):
    assert spec_build.drift(SPEC_DIR, api_reference_dir) == ""


def test_operations_and_ids():
    assert {k: (v.method, v.path) for k, v in CONTRACT.operations.items()} == OPERATIONS


def test_security_everywhere_but_the_token_request():
    assert CONTRACT.document["components"]["securitySchemes"]["AuthToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Auth-Token",
        "description": CONTRACT.document["components"]["securitySchemes"]["AuthToken"]["description"]}
    assert [op for op, o in CONTRACT.operations.items() if not o.requires_auth] == ["authenticateAgent"]
    for op in CONTRACT.operations.values():
        headers = [p["name"] for p in op.spec["parameters"] if p["in"] == "header"]
        assert headers == ["X-Agent-Id"], op.operation_id


def test_every_error_response_has_the_api_error_schema():
    error = CONTRACT.resolved["components"]["schemas"]["Error"]
    for op in CONTRACT.operations.values():
        for status in op.statuses:
            if status >= 400 and not (op.operation_id.startswith("getHealth") and status == 503):
                assert op.response_schema(status) == error, (op.operation_id, status)
    for health in ("getHealth", "getHealthDetails"):  # a 503 there is the health report, with what is down
        assert CONTRACT.operation(health).response_schema(503)["type"] == "object"
    assert schema_errors(error, {"message": "x", "errors": ["a"]}) == []
    assert schema_errors(error, {"errors": "a"}) == ["body: 'message' is a required property",
                                                     "errors: 'a' is not of type 'array'"]


def test_overlay_fixes_what_the_pages_leave_vague():
    token = CONTRACT.operation("authenticateAgent")
    body = token.request_schema
    assert body["properties"]["host"]["properties"]["os"]["required"] == ["name", "version", "architecture"]
    assert body["properties"]["host"]["properties"]["addresses"]["items"]["properties"]["version"]["type"] == "integer"
    assert token.response_schema(200)["properties"]["token"]["properties"]["expires"]["format"] == "date-time"
    assert token.response_headers(503)["Retry-After"]["schema"]["type"] == "string"
    verify = CONTRACT.operation("requestVaultPasswordVerification").request_schema["properties"]["agent_id"]
    assert verify["nullable"] is True and verify["format"] == "uuid"
    location = CONTRACT.operation("requestVaultPasswordVerification").response_headers(202)["Location"]
    assert "no such operation exists" in location["description"]
    assert CONTRACT.operation("requestVaultPasswordVerification").response_example(403) == {
        "message": "Encryption is not enabled for this agent's vault."}


def _examples():
    for op in CONTRACT.operations.values():
        if op.request_example is not None:
            yield f"{op.operation_id} request", op.request_schema, op.request_example
        for status in op.statuses:
            if op.response_example(status) is not None:
                yield f"{op.operation_id} {status}", op.response_schema(status), op.response_example(status)
    for name, schema in CONTRACT.resolved["components"]["schemas"].items():
        if "example" in schema:
            yield f"components {name}", schema, schema["example"]


@pytest.mark.parametrize("name,schema,example", list(_examples()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_validates_against_its_schema(name, schema, example):
    assert schema is not None, name
    assert schema_errors(schema, example) == []


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_docs_example_requests_as_printed_fit_the_contract(operation_id):
    op = CONTRACT.operation(operation_id)
    docs = op.docs_request
    assert docs["method"] == op.method
    assert CONTRACT.routes.match(op.method, urlsplit(docs["url"]).path).operation_id == operation_id, docs["url"]
    if op.requires_auth:
        assert docs["headers"]["X-Auth-Token"] == "0f6e9f63600142f0a970911583522217"
    if op.request_schema is not None:
        assert schema_errors(op.request_schema, docs["body"]) == []


def test_hex_with_spaces_is_accepted_but_not_garbage():
    schema = CONTRACT.operation("requestVaultPasswordVerification").request_schema
    ok = {"encrypted_password_hex": "0bff42 a526", "agent_id": None}
    assert schema_errors(schema, ok) == []
    assert schema_errors(schema, {**ok, "encrypted_password_hex": "not hex!"}) != []


def test_spec_check_fails_on_a_hand_edited_spec(tmp_path, api_reference_dir):
    spec_dir = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, spec_dir)
    runner = CliRunner()
    pages = ["--reference-dir", str(api_reference_dir)]
    ok = runner.invoke(main, ["spec", "check", "--spec-dir", str(spec_dir), *pages])
    assert ok.exit_code == 0, ok.output
    built = spec_dir / "openapi.yaml"
    built.write_text(built.read_text().replace("operationId: getAgent\n", "operationId: fetchAgent\n"))
    drifted = runner.invoke(main, ["spec", "check", "--spec-dir", str(spec_dir), *pages])
    assert drifted.exit_code == 1
    assert "-      operationId: fetchAgent\n+      operationId: getAgent" in drifted.output
    rebuilt = runner.invoke(main, ["spec", "build", "--spec-dir", str(spec_dir), *pages])
    assert rebuilt.exit_code == 0 and runner.invoke(main, ["spec", "check", "--spec-dir", str(spec_dir), *pages]).exit_code == 0


def test_spec_parse_prints_the_paths_entry_of_one_page():
    import json

    result = CliRunner().invoke(main, ["spec", "parse", str(SPEC_DIR / "pages" / "000_post-authenticate-an-agent.rst")])
    assert result.exit_code == 0, result.output
    item = json.loads(result.output)
    assert item["/v2/{project_id}/agents/tokens"]["post"]["operationId"] == "authenticateAgent"


def test_spec_parse_reports_file_line_and_reason(tmp_path):
    bad = tmp_path / "bad.rst"
    bad.write_text("Title\n~~~~~\n\nNo endpoint here.\n")
    result = CliRunner().invoke(main, ["spec", "parse", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:1: no code block with the operation's method and path" in result.output
