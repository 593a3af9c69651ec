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


def _jinja_sandbox_answer(source: str, variables: dict):
    """What Jinja's own sandbox, with none of our shortcuts, makes of an expression."""
    from jinja2 import ChainableUndefined, Undefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
    try:
        value = env.compile_expression(source, undefined_to_none=False)(**variables)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what is compared
        return ("raises", type(exc).__name__)
    return None if isinstance(value, Undefined) else value


def _our_answer(source: str, variables: dict):
    from cloud_backup_mock.engine.templating import TemplateError

    try:
        return render(compile_condition(source), Variables(variables))
    except TemplateError as exc:
        return ("raises", str(exc).split(": ")[1])


def test_dict_keys_and_plain_functions_read_as_jinjas_sandbox_reads_them():
    import jinja2

    class Loud:
        name = "loud"

        def _hidden(self):
            return "hidden"

    def raises_stop():
        raise StopIteration

    @jinja2.pass_context
    def sees_context(context):
        return context.get("project_id")

    def unsafe():
        return "ran"
    unsafe.unsafe_callable = True

    def mutating():
        return "ran"
    mutating.alters_data = True

    class Greeter:
        def hello(self, who="you"):
            return f"hello {who}"

    variables = {
        "body": {"id": "a1", "items": "a key named items", "_under": 1, "nested": {"deep": [1, 2]}, "n": None},
        "project_id": "p1", "loud": Loud(), "greeter": Greeter(), "text": "x={}",
        "agent": lambda agent_id=None: {"id": agent_id, "vault": {"encrypted": True}} if agent_id else None,
        "raises_stop": raises_stop, "sees_context": sees_context, "unsafe": unsafe, "mutating": mutating,
    }
    expressions = [
        "body.id", "body.missing", "body.missing.deeper", "body.items", "body['items']", "body.keys()",
        "body._under", "body.nested.deep", "body.nested.deep.0", "body.n.x", "agent(body.id).vault.encrypted",
        "agent().vault", "not agent(body.id) or agent(body.id).id != body.id", "loud.name", "loud._hidden",
        "loud.missing", "greeter.hello('me')", "greeter.hello(who=project_id)", "text.format(1)",
        "body.items()", "raises_stop()", "sees_context()", "unsafe()", "mutating()", "missing_name.x",
        "missing_function()", "agent", "body.id.upper()", "body.get('id')",
    ]
    for source in expressions:
        ours, jinjas = _our_answer(source, variables), _jinja_sandbox_answer(source, variables)
        if isinstance(jinjas, tuple) or callable(jinjas):
            assert type(ours) is type(jinjas) and (ours == jinjas or callable(ours)), source
        else:
            assert ours == jinjas, source
