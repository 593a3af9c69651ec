import json
import textwrap

import pytest

from cloud_backup_mock.builder.docs_page import PageError, parse_page, parse_text
from cloud_backup_mock.shipped import SPEC_DIR

SEED_000 = SPEC_DIR / "pages" / "000_post-authenticate-an-agent.rst"
SEED_001 = SPEC_DIR / "pages" / "001_post-request-vault-password-verification.rst"


def page(body: str) -> str:
    """A minimal page of the newer format around ``body`` (tables, examples)."""
    head = textwrap.dedent("""
        Do a thing
        ~~~~~~~~~~

        .. code::

            POST /v2/{project_id}/things

        This operation does a thing.

        +---------------+-----------------+----------------------+
        |Response code  |Name             |Description           |
        +===============+=================+======================+
        |200            | OK              | Fine.                |
        +---------------+-----------------+----------------------+

        Request
        -------

        """)
    return head + textwrap.dedent(body)


def test_older_format_seed_is_read():
    p = parse_page(SEED_000)
    assert (p.method, p.path, p.title) == ("POST", "/v2/{project_id}/agents/tokens", "Authenticate An Agent")
    assert [c.code for c in p.response_codes] == [200, 400, 401, 403, 404, 405, 409, 500, 503]
    assert [c.name for c in p.response_codes][:2] == ["OK", ""]  # the older format leaves names empty
    assert [(x.name, x.type) for x in p.uri_params] == [("{project_id}", "xsd:string")]
    assert [x.name for x in p.request_params] == [
        "project_id", "id", "password", "name", "version", "host", "os", "name", "version",
        "architecture", "fingerprint", "addresses", "version", "addr"]
    assert all(x.type == "" and not x.required for x in p.request_params)  # empty type column
    assert [x.name for x in p.response_params] == ["token", "id", "expires"]
    assert {code for code, _ in p.conditions} == {401, 409, 503}
    request, response = p.examples
    assert (request.method, request.url) == ("POST", "https://dfw.backup.api.rackspacecloud.com/v2/110011/agents/tokens")
    assert request.headers == {"Content-type": "application/json"} and not request.has_body
    assert (response.status, response.headers, response.has_body) == (200, {"Content-Type": "application/json"}, False)


def test_newer_format_seed_is_read():
    p = parse_page(SEED_001)
    assert p.path == "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests"
    assert [c.code for c in p.response_codes] == [202, 400, 401, 403, 404, 405, 409, 500, 501, 503]
    assert p.response_codes[5].name == "Method Not Allowed"  # name wrapped over two lines
    assert [(x.name, x.type, x.required) for x in p.request_params] == [
        ("encrypted_password_hex", "String", True), ("agent_id", "String", True)]
    assert [code for code, _ in p.conditions] == [403]
    request, accepted, forbidden = p.examples
    assert request.headers["X-Auth-Token"] == "0f6e9f63600142f0a970911583522217"
    assert request.body["agent_id"] == "8e84d320-77a9-4eb4-a39d-25878a3b9f16"
    assert accepted.status == 202 and accepted.headers["Location"].endswith(
        "/v2/agents/8f135b4f-7a69-4b8a-947f-5e80d772fd97/vault-password-verification-request/f353f472-4931-463a-9920-1dcad25f88e7")
    assert forbidden.status == 403 and forbidden.body == {"message": "Encryption is not enabled for this agent's vault."}


def test_hex_string_with_spaces_in_example_json_is_kept_as_printed():
    body = parse_page(SEED_001).request_example.body
    hex_value = body["encrypted_password_hex"]
    assert hex_value.startswith("0bff42a526c78076a3d986fa75eecd 83211f166fd") and hex_value.count(" ") == 9


def test_name_wrapped_over_two_lines_and_partly_bold():
    p = parse_text(page(r"""
        +--------------------------+-------------------------+-------------------------+
        |Name                      |Type                     |Description              |
        +==========================+=========================+=========================+
        |\ **host**.\ **os**       |String                   |*(Required)* OS.         |
        +--------------------------+-------------------------+-------------------------+
        |host.\ addresses.\        |String                   |*(Required)*             |
        |**addr**                  |                         |IP address.              |
        +--------------------------+-------------------------+-------------------------+
        |\ **host.**\ **region**   |String                   |Region.                  |
        +--------------------------+-------------------------+-------------------------+
        |\                         |String                   |Hex.                     |
        |**encrypted_password_hex**|                         |                         |
        +--------------------------+-------------------------+-------------------------+
        """))
    assert [(x.name, x.required, x.description) for x in p.request_params] == [
        ("host.os", True, "OS."), ("host.addresses.addr", True, "IP address."),
        ("host.region", False, "Region."), ("encrypted_password_hex", False, "Hex.")]


def test_response_section_tables_are_response_params():
    p = parse_text(page("""
        Response
        --------

        +-------------+-----------+-------------+
        |Name         |Type       |Description  |
        +=============+===========+=============+
        |token        |String     |The token.   |
        +-------------+-----------+-------------+
        """))
    assert [x.name for x in p.response_params] == ["token"] and p.request_params == []


def test_page_without_method_and_path_fails_with_file_and_line():
    with pytest.raises(PageError, match=r"^x\.rst:2: no code block with the operation's method and path"):
        parse_text("\nTitle\n~~~~~\n\nJust prose.\n", "x.rst")


def test_invalid_example_json_is_skipped_with_file_and_line():
    text = page("""
        **Example: Do a thing, JSON request**

        .. code::

           {
               "a": 1,
               "b": oops
           }
        """)
    p = parse_text(text, "bad.rst")
    bad_line = text.splitlines().index('       "b": oops') + 1
    assert p.warnings == [f"bad.rst:{bad_line}: skipped the body of example 'Example: Do a thing, JSON request': "
                          "not JSON (Expecting value)"]
    assert p.examples[0].body is None and not p.examples[0].has_body and p.method == "POST"


def test_bad_response_code_is_skipped_with_a_warning():
    text = page("").replace("|200            |", "|2xx            |")
    p = parse_text(text, "codes.rst")
    line = text.splitlines().index("|2xx            | OK              | Fine.                |") + 1
    assert p.response_codes == [] and p.warnings == [
        f"codes.rst:{line}: skipped response code '2xx': not a three-digit HTTP status"]


# Reference pages that are not operation pages (general rules): no method and path, so refused.
GENERAL_PAGES = {"general-agent-header.rst", "general-request-response.rst", "general-response-codes.rst"}


def test_every_reference_operation_page_parses(reference_dir):
    pages = sorted(p for p in reference_dir.glob("*.rst") if p.name not in GENERAL_PAGES)
    assert len(pages) >= 13
    for path in pages:
        p = parse_page(path)
        assert p.path.startswith("/v2/{project_id}/") and (p.response_codes or p.response_examples), path
        assert p.uri_params and p.uri_params[0].name == "{project_id}", path
        assert p.request_example is not None and p.request_example.headers, path
        assert p.warnings == [], (path, p.warnings)
        json.dumps([e.body for e in p.examples])  # every example body is plain JSON


@pytest.mark.parametrize("name", sorted(GENERAL_PAGES))
def test_general_pages_are_refused_for_having_no_method_and_path(reference_dir, name):
    with pytest.raises(PageError, match="no code block with the operation's method and path"):
        parse_page(reference_dir / name)
