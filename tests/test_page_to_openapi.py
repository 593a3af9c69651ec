import pytest

from cloud_backup_mock.builder.docs_page import Param, parse_page
from cloud_backup_mock.builder.page_to_openapi import operation_id, page_to_path_item, schema_from_params
from cloud_backup_mock.shipped import SPEC_DIR

PAGES = SPEC_DIR / "pages"


def op_of(page_file, path, method="post"):
    return page_to_path_item(parse_page(PAGES / page_file))[path][method]


def test_operation_ids_are_readable_camel_case():
    assert operation_id("Authenticate An Agent") == "authenticateAgent"
    assert operation_id("Retrieve details about an agent") == "retrieveDetailsAgent"
    with pytest.raises(ValueError, match="cannot derive an operationId"):
        operation_id("The a an")


def test_seed_001_operation():
    op = op_of("001_post-request-vault-password-verification.rst",
               "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests")
    assert op["summary"] == "Request to verify the password for an agent's vault"
    assert [(p["name"], p["in"], p["required"]) for p in op["parameters"]] == [
        ("project_id", "path", True), ("agent_id", "path", True)]
    # A literal wrapped over two table lines becomes one example value.
    assert op["parameters"][1]["example"] == "8f135b4f-7a69-4b8a-947f-5e80d772fd97"
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["encrypted_password_hex", "agent_id"]
    assert schema["properties"]["agent_id"]["type"] == "string"
    assert op["x-docs-example-request"]["headers"]["X-Auth-Token"] == "0f6e9f63600142f0a970911583522217"
    responses = op["responses"]
    assert sorted(responses) == ["202", "400", "401", "403", "404", "405", "409", "500", "501", "503"]
    assert responses["202"]["headers"]["Location"]["example"].endswith("/f353f472-4931-463a-9920-1dcad25f88e7")
    assert "content" not in responses["202"]
    assert responses["403"]["content"]["application/json"]["example"] == {
        "message": "Encryption is not enabled for this agent's vault."}
    assert "a 403 response code is returned" in responses["403"]["description"]
    assert responses["405"]["description"].startswith("Method Not Allowed:")


def test_seed_000_flat_table_without_example_keeps_what_it_can_place():
    op = op_of("000_post-authenticate-an-agent.rst", "/v2/{project_id}/agents/tokens")
    assert op["operationId"] == "authenticateAgent"
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert list(schema["properties"])[:6] == ["project_id", "id", "password", "name", "version", "host"]
    assert schema["x-docs-unplaced"] == ["name", "version", "version"]
    assert "type" not in schema["properties"]["host"]  # empty type column: no guess
    responses = op["responses"]
    assert responses["401"]["description"].startswith("Unauthorized.")  # empty name: the HTTP reason phrase
    assert "provided credentials are rejected" in responses["401"]["description"]
    assert responses["503"]["headers"]["Retry-After"]["schema"] == {"type": "string"}
    assert responses["200"]["content"]["application/json"]["schema"]["type"] == "object"


def test_flat_table_is_nested_by_walking_the_example():
    rows = [Param(n, "", "", False) for n in ["id", "host", "os", "name", "addresses", "version", "name"]]
    example = {"id": "x", "host": {"os": {"name": "Ubuntu"}, "addresses": [{"version": 4}]}, "name": "Web"}
    schema = schema_from_params(rows, example)
    assert set(schema["properties"]) == {"id", "host", "name"}
    host = schema["properties"]["host"]
    assert host["properties"]["os"]["properties"]["name"]["type"] == "string"
    assert host["properties"]["addresses"]["type"] == "array"
    assert host["properties"]["addresses"]["items"]["properties"]["version"]["type"] == "integer"
    assert "x-docs-unplaced" not in schema


def test_example_overrides_table_type_and_keeps_the_tables_word():
    rows = [Param("rsa_public_key", "String", "", True), Param("rsa_public_key.exponent", "String", "", True),
            Param("host", "String", "", True), Param("host.addresses", "String", "", True),
            Param("host.addresses.addr", "String", "", True)]
    example = {"rsa_public_key": {"exponent": 10001}, "host": {"addresses": [{"addr": "1.2.3.4"}]}}
    schema = schema_from_params(rows, example)
    key = schema["properties"]["rsa_public_key"]
    assert key["type"] == "object" and key["x-docs-type"] == "String"
    assert key["properties"]["exponent"] == {"type": "integer", "x-docs-type": "String"}
    assert key["required"] == ["exponent"] and schema["required"] == ["rsa_public_key", "host"]
    addresses = schema["properties"]["host"]["properties"]["addresses"]
    assert addresses["type"] == "array" and addresses["items"]["required"] == ["addr"]


def test_every_reference_page_yields_a_valid_operation(reference_dir):
    from openapi_spec_validator import validate

    for page_file in sorted(reference_dir.glob("*-v2-*.rst")):
        paths = page_to_path_item(parse_page(page_file))
        validate({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths})
