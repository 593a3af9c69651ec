"""The builder on the current page of every operation of the API (61 pages, the newer format): read with no
warning, built into a valid contract with the formats and nesting the pages show; and a synthetic page for
each irregularity of those pages that the builder once misread."""

import textwrap

import pytest
from openapi_spec_validator import validate

from cloud_backup_mock.builder.docs_page import parse_page, parse_text
from cloud_backup_mock.builder.page_to_openapi import page_to_path_item
from cloud_backup_mock.builder.spec_build import build_from_pages

import test_pages_of_any_version as any_version

OPERATION_PAGES = 61


def page(body: str, method_path: str = "GET /v2/{project_id}/widgets",
         prose: str = "This operation handles widgets.") -> str:
    """A page of the newer format: title, method and path, ``prose``, a response code table, ``body``."""
    return textwrap.dedent(f"""
        Handle the widgets
        ~~~~~~~~~~~~~~~~~~

        .. code::

            {method_path}

        {prose}

        +---------------+-----------------+----------------------+
        |Response code  |Name             |Description           |
        +===============+=================+======================+
        |200            | OK              | Fine.                |
        +---------------+-----------------+----------------------+

        """) + textwrap.dedent(body)


def param_table(intro: str, rows: list[tuple[str, str, str]]) -> str:
    return any_version.param_table(intro, rows, name_width=26)  # room for the dotted names below


def operation(text: str, source: str = "synthetic.rst") -> dict:
    parsed = parse_text(text, source)
    assert parsed.warnings == []
    (item,) = page_to_path_item(parsed).values()
    (op,) = item.values()
    return op


# ---- synthetic pages


def test_sphinx_cross_references_read_as_their_title():
    text = page("", prose="Widgets are counted by :ref:`Count the widgets <count-widgets>` (see :ref:`count-widgets`).")
    parsed = parse_text(text, "ref.rst")
    assert parsed.warnings == []
    assert parsed.description[-1] == "Widgets are counted by Count the widgets (see count-widgets)."


def test_a_query_parameter_sentence_in_the_singular_announces_a_query_table():
    text = page(param_table("The following table shows the query parameter for the request.",
                            [("shiny", "Boolean", "Only shiny widgets.")])
                + "This operation does not accept a request body.\n")
    parsed = parse_text(text, "singular.rst")
    assert parsed.warnings == [] and parsed.request_params == []
    assert [(x.name, x.type) for x in parsed.query_params] == [("shiny", "Boolean")]
    op = operation(text)
    assert "requestBody" not in op
    assert [(x["in"], x["name"], x["schema"]) for x in op["parameters"]] == [("query", "shiny", {"type": "boolean"})]


def test_a_page_that_accepts_no_request_body_never_gets_a_body_table():
    text = page(param_table("The following table lists what the widget holds.",
                            [("colour", "String", "Its colour.")])
                + "Widgets go by. This operation does not accept a request body at all.\n")
    parsed = parse_text(text, "nobody.rst")
    border = next(i for i, x in enumerate(text.splitlines()) if x.startswith("|Name "))  # the line above, 1-based
    assert parsed.request_params == [] and not parsed.accepts_body
    assert parsed.warnings == [
        f"nobody.rst:{border}: skipped a body parameter table: the page says the operation accepts no request body"]
    assert "requestBody" not in page_to_path_item(parsed)["/v2/{project_id}/widgets"]["get"]


def test_bold_that_starts_inside_a_dotted_name_is_ignored():
    text = page(param_table("This table shows the body parameters for the response:",
                            [("gadget.ho**les.**size", "Integer", "Hole size."),
                             ("gadget.**rim**", "String", "Rim."),
                             ("gad**get**", "Object", "The gadget.")]))
    parsed = parse_text(text, "bold.rst")
    assert parsed.warnings == []
    assert [x.name for x in parsed.response_params] == ["gadget.holes.size", "gadget.rim", "gadget"]
    schema = operation(text)["responses"]["200"]["content"]["application/json"]["schema"]
    gadget = schema["properties"]["gadget"]
    assert gadget["properties"]["holes"]["properties"]["size"]["type"] == "integer"
    assert gadget["properties"]["rim"]["type"] == "string"


def test_flat_body_rows_the_example_does_not_place_go_at_the_top_level():
    text = page(param_table("This table shows the body parameters for the request:",
                            [("size", "Integer", "Size."), ("gadget", "", "The gadget."),
                             ("size", "Integer", "Its size."), ("colour", "String", "Colour."),
                             ("size", "Integer", "Size again.")])
                + textwrap.dedent("""
                    **Example: Add a widget, JSON request**

                    .. code::

                       POST /v2/110011/widgets HTTP/1.1
                       Content-Type: application/json

                       {"size": 3, "gadget": {"size": 1}}

                    """), method_path="POST /v2/{project_id}/widgets")
    schema = operation(text)["requestBody"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == ["size", "gadget", "colour"]
    assert schema["properties"]["gadget"]["properties"]["size"] == {"type": "integer", "description": "Its size."}
    assert schema["properties"]["colour"] == {"type": "string", "description": "Colour."}
    assert schema["x-docs-unplaced"] == ["size"]  # the top level has a size already


# ---- the current reference page of every operation


@pytest.fixture(scope="module")
def built(api_reference_dir):
    return build_from_pages(api_reference_dir)


def test_every_operation_page_is_read_without_a_warning(api_reference_dir):
    pages = sorted(api_reference_dir.glob("*.rst"))
    assert len(pages) == OPERATION_PAGES
    assert {page_file.name: parse_page(page_file).warnings for page_file in pages} == {
        page_file.name: [] for page_file in pages}


def test_every_operation_page_builds_one_valid_contract(built):
    document, warnings = built
    assert warnings == []
    validate(document)
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == len({op["operationId"] for op in operations}) == OPERATION_PAGES


def test_no_page_that_accepts_no_request_body_has_one(api_reference_dir, built):
    document, _ = built
    for page_file in sorted(api_reference_dir.glob("*.rst")):
        parsed = parse_page(page_file)
        if not parsed.accepts_body:
            assert parsed.request_params == [], page_file.name
            assert "requestBody" not in document["paths"][parsed.path][parsed.method.lower()], page_file.name
