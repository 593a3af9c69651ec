"""The builder on every operation page of the API, in either format and any historical version, and the
mock serving whatever it builds: synthetic pages for each irregularity, the sample pages, and a contract
from every reference page plus the seeds, validated, served and called with the docs' example requests."""

import json
import shutil
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from openapi_spec_validator import validate

from cloud_backup_mock.builder.docs_page import parse_page, parse_text
from cloud_backup_mock.builder.page_to_openapi import page_to_path_item
from cloud_backup_mock.builder.spec_build import build_from_pages
from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.contract import Contract, schema_errors
from cloud_backup_mock.shipped import SPEC_DIR
from cloud_backup_mock.testing import DOCS_TOKEN, MockServer

GENERAL_PAGES = {"general-agent-header.rst", "general-request-response.rst", "general-response-codes.rst"}


def page(body: str, codes: bool = True) -> str:
    table = textwrap.dedent("""
        +---------------+-----------------+----------------------+
        |Response code  |Name             |Description           |
        +===============+=================+======================+
        |200            | OK              | Fine.                |
        +---------------+-----------------+----------------------+
        |404            | Not Found       | Gone.                |
        +---------------+-----------------+----------------------+
        """) if codes else ""
    return textwrap.dedent("""
        List the things
        ~~~~~~~~~~~~~~~

        .. code::

            GET /v2/{project_id}/things

        This operation lists things.
        """) + table + textwrap.dedent(body)


def param_table(intro: str, rows: list[tuple[str, str, str]], name_width: int = 18) -> str:
    """A grid table of parameters (name, type, description), announced by ``intro``; columns widen to
    fit what they hold."""
    widths = [max(name_width, *(len(row[0]) for row in rows)), 22, max(28, *(len(row[2]) for row in rows))]
    line = "+" + "+".join("-" * w for w in widths) + "+"
    out = [intro, "", line, "|" + "|".join(f"{h:<{w}}" for h, w in zip(("Name", "Type", "Description"), widths)) + "|",
           line.replace("-", "=")]
    for row in rows:
        out += ["|" + "|".join(f"{cell:<{w}}" for cell, w in zip(row, widths)) + "|", line]
    return "\n".join(out) + "\n\n"


def test_query_and_header_parameter_tables():
    text = page("\n" + param_table("Sent with it, the header parameters for the request:",
                                   [("X-Agent-Id", "String", "Agent. For example, ab-1.")])
                + param_table("This table shows the query parameters for the request:",
                              [("limit", "Integer", "How many. For example, 25."),
                               ("restorable", "Boolean *(Required)*", "Only restorable.")]))
    p = parse_text(text, "q.rst")
    assert p.warnings == []
    assert [(x.name, x.type) for x in p.header_params] == [("X-Agent-Id", "String")]
    assert [(x.name, x.required) for x in p.query_params] == [("limit", False), ("restorable", True)]
    parameters = page_to_path_item(p)["/v2/{project_id}/things"]["get"]["parameters"]
    assert [(x["in"], x["name"]) for x in parameters] == [
        ("path", "project_id"), ("query", "limit"), ("query", "restorable"), ("header", "X-Agent-Id")] or [
        (x["in"], x["name"]) for x in parameters] == [("query", "limit"), ("query", "restorable"), ("header", "X-Agent-Id")]
    by_name = {x["name"]: x for x in parameters}
    assert by_name["limit"] == {"name": "limit", "in": "query", "required": False, "description": "How many.",
                                "schema": {"type": "integer"}, "example": 25}
    assert by_name["restorable"]["required"] is True and by_name["restorable"]["schema"] == {"type": "boolean"}
    assert by_name["X-Agent-Id"]["in"] == "header" and by_name["X-Agent-Id"]["example"] == "ab-1"


def test_a_status_line_with_headers_and_no_body_and_several_responses_in_one_block():
    text = page("""
        **Example: List the things, JSON response**

        .. code::

           200 (OK)
           Content-Type: application/json
           Retry-After: 3

           or

           404 (Not Found)
           Content-Type: application/json

           {"message": "Gone."}
        """)
    p = parse_text(text, "multi.rst")
    assert p.warnings == []
    first, second = p.response_examples
    assert (first.status, first.headers, first.has_body) == (200, {"Content-Type": "application/json", "Retry-After": "3"}, False)
    assert (second.status, second.body) == (404, {"message": "Gone."})
    assert second.line == text.splitlines().index("   404 (Not Found)") + 1
    responses = page_to_path_item(p)["/v2/{project_id}/things"]["get"]["responses"]
    assert responses["200"]["headers"]["Retry-After"]["example"] == "3" and "content" not in responses["200"]
    assert responses["404"]["content"]["application/json"]["example"] == {"message": "Gone."}


def test_json_with_raw_control_characters_is_read():
    """A string wrapped over two lines of the page, and a raw control character inside a string."""
    text = page('\n**Example: List the things, JSON response**\n\n.. code::\n\n   200 (OK)\n\n'
                '   {"note": "a long\n   description", "bell": "a\x07b"}\n')
    p = parse_text(text, "control.rst")
    assert p.warnings == [] and p.response_examples[0].body == {"note": "a long\ndescription", "bell": "a\x07b"}


def test_a_malformed_table_is_a_warning_not_silence():
    text = page("\n" + "This table shows the query parameters for the request:\n\n+----+----+----+\n|Name|Type|Description|\n"
                "+====+====+====+\n|a   |b   |c   |\n+----+----+----+\n")
    p = parse_text(text, "broken.rst")
    assert len(p.warnings) == 1 and p.warnings[0].startswith("broken.rst:")
    assert "skipped what docutils could not read: Malformed table" in p.warnings[0]


def test_a_page_without_a_response_code_table_takes_its_codes_from_the_examples():
    text = page('\n**Example: List the things, JSON response**\n\n.. code::\n\n   200 (OK)\n\n   {"things": []}\n',
                codes=False)
    item = page_to_path_item(parse_text(text, "nocodes.rst"))["/v2/{project_id}/things"]["get"]
    assert list(item["responses"]) == ["200"]
    bare = page_to_path_item(parse_text(page("", codes=False), "bare.rst"))["/v2/{project_id}/things"]["get"]
    assert list(bare["responses"]) == ["default"]


def test_what_cannot_be_read_is_skipped_with_file_line_and_what():
    text = page("\n" + param_table("This table shows the body parameters for the request:",
                                   [("good", "String", "Fine."), ("bad name!", "String", "Not an identifier.")])
                + '**Example: List the things, JSON response**\n\n.. code::\n\n   200 (OK)\n\n   {"a": oops}\n')
    p = parse_text(text, "skips.rst")
    lines = text.splitlines()
    bad_body = lines.index('   {"a": oops}') + 1
    assert p.warnings == [
        f"skips.rst:{next(i for i, x in enumerate(lines) if x.startswith('|bad name!')) + 1}: "
        "skipped parameter 'badname!': not a (dotted) identifier",
        f"skips.rst:{bad_body}: skipped the body of example "
        "'Example: List the things, JSON response': not JSON (Expecting value)",
    ]
    assert [x.name for x in p.request_params] == ["good"]


def test_spec_parse_prints_warnings_on_stderr_and_the_entry_on_stdout(tmp_path):
    source = tmp_path / "skips.rst"
    source.write_text(page('\n**Example: List the things, JSON response**\n\n.. code::\n\n   200 (OK)\n\n   {oops}\n'))
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "spec", "parse", str(source)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stderr.startswith(f"warning: {source}:") and "skipped the body of example" in result.stderr
    assert "/v2/{project_id}/things" in json.loads(result.stdout)


# ---- the sample pages of the reference


def test_sample_pages(reference_dir):
    backups = parse_page(reference_dir / "get-list-the-backups-for-a-project-v2-project-id-backups.rst")
    assert [(x.name, x.type) for x in backups.query_params] == [
        ("marker", "String"), ("limit", "Integer"), ("sort_dir", "String"), ("restorable", "Boolean"),
        ("configuration_id", "String")]
    start = parse_page(reference_dir / "wadl-post-start-a-backup-v2-project-id-backups.rst")
    assert [x.name for x in start.header_params] == ["X-Agent-Id"]
    delete = parse_page(reference_dir / "wadl-delete-delete-an-agent-v2-project-id-agents-agent-id.rst")
    assert [(e.status, e.has_body) for e in delete.response_examples] == [(204, False), (404, False)]
    logfile = parse_page(reference_dir / "wadl-get-list-details-for-the-log-files-for-an-agent-v2-project-id-agents-"
                                         "agent-id-logfiles-logfile-id.rst")
    assert logfile.response_codes == [] and [e.status for e in logfile.response_examples] == [200]
    older = parse_page(reference_dir / "wadl-older-post-request-to-verify-the-password-for-an-agent's-vault.rst")
    accepted, forbidden = older.response_examples
    assert accepted.status == 202 and "/vault-password-verification-request/" in accepted.headers["Location"]
    assert forbidden.status == 403 and forbidden.body == {"message": "Encryption is not enabled for this agent's vault."}
    for p in (backups, start, delete, logfile, older):
        assert p.warnings == []


# ---- a contract from every page, served


@pytest.fixture(scope="module")
def every_page(reference_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    for source in list(reference_dir.glob("*.rst")) + list((SPEC_DIR / "pages").glob("*.rst")):
        shutil.copy(source, folder / source.name)
    return folder


@pytest.fixture(scope="module")
def built(every_page, tmp_path_factory):
    document, warnings = build_from_pages(every_page)
    out = tmp_path_factory.mktemp("contract") / "openapi.yaml"
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out, document, warnings


def test_every_page_builds_a_valid_contract(built, reference_dir):
    _, document, warnings = built
    validate(document)
    operation_pages = [p for p in reference_dir.glob("*.rst") if p.name not in GENERAL_PAGES]
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == len({(parse_page(p).method, parse_page(p).path) for p in operation_pages}) == 13
    assert len({op["operationId"] for op in operations}) == len(operations)
    assert sorted(w.split(":")[0].rsplit("/", 1)[-1] for w in warnings if "page skipped" in w) == sorted(GENERAL_PAGES)
    assert sum("is also documented by" in w for w in warnings) == 2  # the two seeds' newer versions win


def test_the_built_contract_is_served_and_every_docs_example_request_answers(built):
    spec_file, document, _ = built
    contract = Contract.load(spec_file)
    with MockServer(MockConfig(spec_file=spec_file)) as mock, httpx.Client(base_url=mock.url, timeout=10) as client:
        for operation in contract.operations.values():
            docs = operation.docs_request
            url = urlsplit(docs["url"])
            headers = {k: v for k, v in docs["headers"].items() if k.lower() not in ("host", "content-length")}
            headers.setdefault("X-Auth-Token", DOCS_TOKEN)
            content = json.dumps(docs["body"]) if "body" in docs else None
            answer = client.request(docs["method"], url.path + (f"?{url.query}" if url.query else ""),
                                    headers=headers, content=content)
            assert answer.status_code in operation.statuses and answer.status_code < 500, (
                operation.operation_id, answer.status_code, answer.text[:300])
            schema = operation.response_schema(answer.status_code)
            if schema is not None and answer.content:
                assert schema_errors(schema, answer.json()) == [], operation.operation_id
            location = answer.headers.get("location")
            if location:  # absolute on this server; where the contract has the item operation, that one
                assert location.startswith(mock.url + "/v2/"), location
                item = contract.item_of(operation)
                if item is not None:
                    assert contract.routes.match("GET", urlsplit(location).path).operation_id == item.operation_id


def test_lint_names_the_rules_for_operations_the_contract_does_not_have(built):
    spec_file, _, _ = built
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "lint", "--spec", str(spec_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "default.yaml:" in result.stderr and ": rules[5].operation: unknown operation 'getAgent'" in result.stderr


def test_spec_build_pages_command(every_page, tmp_path):
    out = tmp_path / "contract.yaml"
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "spec", "build", "--pages", str(every_page),
                             "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(f"13 operations from {every_page} written to {out} (5 warnings)")
    validate(yaml.safe_load(out.read_text()))


def test_own_scenario_files_are_held_to_the_served_contract(built, tmp_path):
    spec_file, _, _ = built
    own = tmp_path / "own.yaml"
    own.write_text("name: mine\ndescription: d\nrules:\n  - operation: getAgent\n    response: {status: 200}\n")
    result = subprocess.run([sys.executable, "-m", "cloud_backup_mock", "serve", "--port", "0", "--spec",
                             str(spec_file), "--scenario-file", str(own)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "own.yaml:4: rules[0].operation: unknown operation" in result.stderr
