"""The builder on the current page of every operation of the API (61 pages, the newer format): read with no
warning, built into a valid contract with the formats and nesting the pages show; and a synthetic page for
each irregularity of those pages that the builder once misread."""

import re
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
    text = page(param_table("Below is the single query parameter for the request.",
                            [("shiny", "Boolean", "Only shiny widgets.")])
                + "Widgets are only read: the call does not accept a request body.\n")
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


def test_formats_come_from_what_the_examples_show():
    uuid, other = "3f2b8c1e-4d5a-4e6f-9a7b-0c1d2e3f4a5b", "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
    text = page(param_table("This table shows the URI parameters for the request:",
                            [("{widget_id}", "String", f"The widget. For example, {uuid}.")])
                + param_table("This table shows the body parameters for the response:",
                              [("id", "String", "ID."), ("made", "String", "When."), ("name", "String", "Name."),
                               ("parts", "Array", "Parts."), ("parts.id", "String", "Part ID."),
                               ("parts.ref", "String", "Part reference.")])
                + textwrap.dedent(f"""
                    **Example: Show a widget, JSON response**

                    .. code::

                       200 (OK)
                       Content-Type: application/json

                       {{"id": "{uuid}", "made": "2015-03-04T05:06:07.123456Z", "name": "{other}x",
                        "parts": [{{"id": "{other}", "ref": "{uuid}"}}, {{"id": "{uuid}", "ref": "none"}}]}}

                    """), method_path="GET /v2/{project_id}/widgets/{widget_id}")
    op = operation(text)
    assert op["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert schema["id"]["format"] == "uuid" and schema["made"]["format"] == "date-time"
    assert "format" not in schema["name"]
    parts = schema["parts"]["items"]["properties"]
    assert parts["id"]["format"] == "uuid" and "format" not in parts["ref"]  # every item's value counts


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


_SHOWN = {"uuid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
          "date-time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.I)}


def _strings_by_schema(schema: dict, value, found: dict) -> None:
    """Each string schema an example reaches, with every value the example has there."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in schema.get("properties", {}):
                _strings_by_schema(schema["properties"][key], child, found)
    elif isinstance(value, list) and schema.get("type") == "array":
        for child in value:
            _strings_by_schema(schema["items"], child, found)
    elif schema.get("type") == "string":
        found.setdefault(id(schema), (schema, []))[1].append(value)


def test_every_operation_page_carries_the_formats_its_examples_show(built):
    document, _ = built
    found: dict = {}
    for item in document["paths"].values():
        for op in item.values():
            media = [op.get("requestBody", {}).get("content", {})] + [r.get("content", {})
                                                                        for r in op["responses"].values()]
            for content in media:
                for one in content.values():
                    if "example" in one:
                        _strings_by_schema(one["schema"], one["example"], found)
    shown = {name: 0 for name in _SHOWN}
    for schema, values in found.values():
        strings = [v for v in values if v is not None]
        expected = next((name for name, pattern in _SHOWN.items()
                         if strings and all(isinstance(v, str) and pattern.fullmatch(v) for v in strings)), None)
        assert schema.get("format") == expected, (schema, values)
        shown[expected] = shown.get(expected, 0) + 1
    assert shown["uuid"] > 100 and shown["date-time"] > 30


def test_dotted_names_nest_in_every_operation_page(api_reference_dir, built):
    document, _ = built
    for page_file in sorted(api_reference_dir.glob("*.rst")):
        parsed = parse_page(page_file)
        op = document["paths"][parsed.path][parsed.method.lower()]
        request = op.get("requestBody", {})
        if "application/json-patch+json" in request.get("content", {}):  # the table lists what it may change
            assert request["x-docs-patchable"] == [p.name for p in parsed.request_params], page_file.name
            request = {}
        bodies = [(parsed.request_params, request.get("content", {}))]
        bodies += [(parsed.response_params, r.get("content", {})) for code, r in op["responses"].items()
                   if code.startswith("2")]
        for params, content in bodies:
            for one in content.values():
                for param in params:
                    node = one["schema"]
                    for key in param.name.split("."):
                        node = node.get("items", node)
                        assert key in node.get("properties", {}), (page_file.name, param.name)
                        node = node["properties"][key]


def test_a_json_patch_body_is_an_array_of_operations_listing_what_it_may_change():
    text = page(param_table("This table shows the body parameters for the request:",
                            [("enabled", "Boolean", "Whether it runs.")]) + textwrap.dedent("""
        **Example: Update, JSON request**

        .. code::

           PATCH /v2/110011/widgets HTTP/1.1
           Content-Type: application/json-patch+json

           [{"op": "replace", "path": "/enabled", "value": true}]
        """), method_path="PATCH /v2/{project_id}/widgets")
    body = operation(text)["requestBody"]
    assert list(body["content"]) == ["application/json-patch+json"]
    media = body["content"]["application/json-patch+json"]
    assert media["schema"]["type"] == "array" and media["schema"]["items"]["required"] == ["op", "path"]
    assert media["example"] == [{"op": "replace", "path": "/enabled", "value": True}]
    assert body["x-docs-patchable"] == ["enabled"]


def test_an_array_of_plain_values_keeps_their_type():
    text = page(param_table("This table shows the body parameters for the response:",
                            [("times", "Array", "When it runs."), ("ids", "Array", "Snapshots.")])
                + textwrap.dedent("""
        **Example: List, JSON response**

        .. code::

           200 (OK)
           Content-Type: application/json

           {"times": ["2014-08-05T20:22:21Z"], "ids": [23, 51]}
        """))
    schema = operation(text)["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert schema["times"]["type"] == "array" and schema["times"]["items"] == {"type": "string", "format": "date-time"}
    assert schema["ids"]["type"] == "array" and schema["ids"]["items"] == {"type": "integer"}
