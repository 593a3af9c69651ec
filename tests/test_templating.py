"""Templates of one request render in one shared Jinja context: what that must not change."""

from cloud_backup_mock.engine.templating import Variables, compile_condition, compile_value, render


def test_a_whole_expression_keeps_its_type_and_text_renders_as_text():
    variables = Variables({"body": {"id": 7, "flags": [True]}})
    assert render(compile_value("{{ body }}"), variables) == {"id": 7, "flags": [True]}
    assert render(compile_value("agent {{ body.id }}"), variables) == "agent 7"
    assert render(compile_value("{{ body.missing.deeper }}"), variables) is None


def test_names_added_after_the_first_render_are_seen():
    variables = Variables({"project_id": "p1"})
    assert render(compile_condition("project_id"), variables) == "p1"
    variables["token"] = {"id": "t1"}  # an effect's `as: token`
    assert render(compile_value("{{ token.id }}"), variables) == "t1"


def test_one_template_leaves_nothing_behind_for_the_next():
    variables = Variables({"result": "bound by an effect"})
    assert render(compile_condition("1 + 1"), variables) == 2
    assert render(compile_condition("result"), variables) == "bound by an effect"
    assert render(compile_value("{% set shadow = 'x' %}{{ shadow }}"), variables) == "x"
    assert render(compile_condition("shadow"), variables) is None


def test_jinja_globals_and_a_plain_dict_still_work():
    assert render(compile_condition("range(3) | list"), Variables({})) == [0, 1, 2]
    assert render(compile_value({"n": "{{ n * 2 }}", "k": ["{{ n }}"]}), {"n": 4}) == {"n": 8, "k": [4]}


def test_unknown_filters_and_tests_are_refused_when_the_file_loads():
    import pytest

    from cloud_backup_mock.engine.templating import TemplateError

    with pytest.raises(TemplateError, match="no filter named 'shout'"):
        compile_value("{{ body.id | shout }}")
    with pytest.raises(TemplateError, match="no test named 'purple'"):
        compile_condition("body is purple")
    assert render(compile_value("{{ body.id | upper }}"), {"body": {"id": "a"}}) == "A"
