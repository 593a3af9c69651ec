"""Scenario files: every problem is refused with the file, the place in it and the reason, all at once."""

import shutil
import textwrap

import httpx
import pytest
from click.testing import CliRunner

from cloud_backup_mock.cli import main
from cloud_backup_mock.contract import Contract
from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.engine import build_engine
from cloud_backup_mock.shipped import SCENARIOS_DIR
from cloud_backup_mock.engine.reloader import ScenarioReloader
from cloud_backup_mock.engine.scenarios import ScenarioError, load_directory, load_file
from cloud_backup_mock.engine.world import effect_names
from cloud_backup_mock.testing.mock_server import MockServer
from cloud_backup_mock.yaml_files import load_yaml

pytest_plugins = ["pytester"]

CONTRACT = Contract.load()

# One scenario with a problem of each kind: the schema's (no description, a rule's field of the wrong
# type), the contract's (an operation it does not have, a status it does not document, a header it
# requires) and the engine's (an effect it does not know).
BROKEN = """\
name: broken
rules:
  - operation: getAgnet
    response: {status: 200}
  - operation: getAgent
    response: {status: 418, body: {message: m}}
  - operation: registerAgent
    response:
      status: 201
      body: "{{ agent_view('a') }}"
  - {operation: getAgent, drop: sometimes}
  - {operation: getAgent, effects: [{do: explode}]}
"""


def broken_problems(source, with_lines=True):
    """The problems BROKEN has, each as loading it from ``source`` says it, in the order of the file."""
    def at(line):
        return f"{source}:{line}" if with_lines else str(source)

    return [
        f"{at(1)}: (top level): 'description' is a required property",
        f"{at(3)}: rules[0].operation: {CONTRACT.unknown('getAgnet', also=('*',))}",
        f"{at(6)}: rules[1].response.status: getAgent does not document status 418 (documented: 200, 400, 401, 403, "
        "404, 405, 408, 409, 413, 431, 500, 501, 503)",
        f"{at(9)}: rules[2].response.headers: registerAgent 201 needs header 'Location' (the contract requires it)",
        f"{at(11)}: rules[3].drop: 'sometimes' is not of type 'boolean'",
        f"{at(12)}: rules[4].effects[0].do: unknown effect 'explode'; known: {', '.join(effect_names())}",
    ]


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path):
    with pytest.raises(ScenarioError) as err:
        load_file(path, CONTRACT)
    return err.value.problems


def test_shipped_scenarios_load():
    scenarios = load_directory(SCENARIOS_DIR, CONTRACT)
    assert scenarios["upstream-unavailable"].operations == ["*"]
    assert all(s.description for s in scenarios.values())


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules: [
        """)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:4: not valid YAML")


def test_schema_violation_names_the_field(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - operation: getAgent
            response: {body: {}}
        """)
    assert problems(path) == [f"{path}:5: rules[0].response: 'status' is a required property"]


def test_unknown_operation(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: getAgents, response: {status: 200}}
        """)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:4: rules[0].operation: unknown operation 'getAgents' (did you mean 'getAgent'?); known: authenticateAgent,")


def test_url_naming_an_unknown_operation(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - operation: registerAgent
            response:
              status: 201
              headers: {Location: "{{ url('getAgnet', agent_id='a') }}"}
              body: "{{ agent_view('a') }}"
        """)
    assert problems(path) == [f"{path}:7: rules[0].response.headers: url('getAgnet') names an operation "
                              "the contract does not have"]


@pytest.mark.parametrize("response,place,reason", [
    ("{status: 418}", "response.status", "getAgent does not document status 418 (documented: 200, 400, 401, 403, 404, 405, 408, 409, 413, 431, 500, 501, 503)"),
    ("{status: 200, body: {id: 1}}", "response.body", "getAgent 200 body: body: 'project_id' is a required property"),
    ("{status: 200}", "response", "getAgent 200 needs a body"),
    ("{status: 404, body: {message: gone}, headers: {X-Debug: '1'}}", "response.headers.X-Debug", "getAgent 404 does not document header 'X-Debug' (documented: none)"),
    ("{status: 403, body: {message: 3}}", "response.body", "getAgent 403 body: message: 3 is not of type 'string'"),
])
def test_responses_the_contract_does_not_allow_are_refused(tmp_path, response, place, reason):
    path = write(tmp_path, f"""\
        name: x
        description: y
        rules:
          - operation: getAgent
            response: {response}
        """)
    assert problems(path)[0] == f"{path}:5: rules[0].{place}: {reason}"


def test_no_body_where_none_is_documented(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: reportVaultEncryption, response: {status: 204, body: {a: 1}}}
        """)
    assert problems(path) == [f"{path}:4: rules[0].response.body: reportVaultEncryption 204 documents no body, but the scenario sends one"]


def test_bad_template_and_unknown_effect(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: getAgent, when: "agent(", response: {status: 404, body: {message: m}}}
          - {operation: getAgent, effects: [{do: explode}], response: {status: 404, body: {message: m}}}
        """)
    first, second = problems(path)
    assert first.startswith(f"{path}:4: rules[0].when: condition 'agent(':")
    assert second.startswith(f"{path}:5: rules[1].effects[0].do: unknown effect 'explode'; known: advance_clock, configure, create_request,")


def test_list_form_and_duplicates(tmp_path):
    write(tmp_path, """\
        scenarios:
          - {name: one, description: d, rules: [{operation: getAgent, response: {status: 500, body: {message: m}}}]}
          - {name: default, description: d, rules: [{operation: getAgent, response: {status: 500, body: {message: m}}}]}
        """, "a.yaml")
    write(tmp_path, """\
        name: one
        description: again
        rules: [{operation: getAgent, response: {status: 500, body: {message: m}}}]
        """, "b.yaml")
    with pytest.raises(ScenarioError) as err:
        load_directory(tmp_path, CONTRACT)
    assert err.value.problems == [f"{tmp_path / 'b.yaml'}: scenario 'one' is also defined in {tmp_path / 'a.yaml'}"]


def test_lint_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["lint"])
    assert ok.exit_code == 0 and ok.output.startswith("13 scenarios in ")
    bad_dir = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, bad_dir)
    write(bad_dir, "name: broken\ndescription: d\nrules: [{operation: getAgent, response: {status: 299}}]\n", "broken.yaml")
    result = runner.invoke(main, ["lint", str(bad_dir)])
    assert result.exit_code == 1
    assert f"{bad_dir / 'broken.yaml'}:3: rules[0].response.status: getAgent does not document status 299" in result.output
    assert "1 problem(s) in" in result.output


def test_reload_keeps_the_last_good_set(tmp_path):
    directory = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, directory)
    engine = build_engine(MockConfig(scenarios_dir=directory))
    reloader = ScenarioReloader(engine, directory)
    assert reloader.check() is None
    write(directory, "name: added\ndescription: d\nrules: [{operation: getAgent, response: {status: 500, body: {message: m}}}]\n", "added.yaml")
    assert reloader.check() is True and "added" in engine.scenarios
    write(directory, "name: added\ndescription: d\nrules: [{operation: nope, response: {status: 500}}]\n", "added.yaml")
    assert reloader.check() is False and "added" in engine.scenarios
    (directory / "added.yaml").unlink()
    assert reloader.check() is True and "added" not in engine.scenarios


def test_the_example_in_scenarios_readme_loads():
    import re

    from cloud_backup_mock.engine.scenarios import load_document
    from cloud_backup_mock.yaml_files import load_yaml

    text = (SCENARIOS_DIR / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    (scenario,) = load_document(load_yaml(block), CONTRACT, "scenarios/README.md")
    assert scenario.name == "flaky-token" and scenario.declared["failures"].maximum == 100


def test_every_problem_of_a_file_is_said_at_once(tmp_path):
    path = write(tmp_path, BROKEN)
    assert problems(path) == broken_problems(path)


def test_lint_lists_every_problem_of_a_file(tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS_DIR, folder)
    path = write(folder, BROKEN, "broken.yaml")
    result = CliRunner().invoke(main, ["lint", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines()[:-1] == broken_problems(path)
    assert result.output.splitlines()[-1].startswith(f"6 problem(s) in {folder}")


def test_mock_server_raises_one_error_listing_every_problem(tmp_path):
    path = write(tmp_path, BROKEN, "broken.yaml")
    with pytest.raises(ScenarioError) as err:
        MockServer(MockConfig(scenario_files=[path]))
    assert str(err.value).splitlines() == broken_problems(path)


def test_the_fixture_fails_with_every_problem(pytester):
    path = write(pytester.path, BROKEN, "broken.yaml")
    pytester.makepyfile(test_uses_the_mock="def test_it(cloud_backup_mock):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cloud-backup-mock-scenario-file", str(path))
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert all(problem in output for problem in broken_problems(path))


def test_admin_api_refuses_a_scenario_with_every_problem_in_errors():
    with MockServer() as mock:
        answer = httpx.post(f"{mock.url}/__mock/projects/110011/scenarios", json=load_yaml(BROKEN), timeout=10)
    source = "scenario added for project 110011"
    found = broken_problems(source, with_lines=False)
    # JSON has no lines: the problems come in the order they are found, the schema's first.
    expected = [found[0], found[4], found[1], found[2], found[3], found[5]]
    assert answer.status_code == 400
    assert answer.json() == {"message": f"The scenario cannot be used: {expected[0]} (and 5 more problem(s), in errors)",
                             "errors": expected}


@pytest.mark.parametrize("listed", [False, True])
def test_the_file_schema_is_decided_by_jsonschema_rs_and_values_it_cannot_take_by_jsonschema(listed, tmp_path):
    from cloud_backup_mock.engine.scenarios import _fast_file_validator, _file_schema_problems

    assert _fast_file_validator(listed) is not None  # else every document would be walked in pure Python
    good = {"name": "fine", "description": "d", "rules": [{"operation": "getAgent", "response": {"status": 200}}]}
    assert _file_schema_problems({"scenarios": [good]} if listed else good, listed) == []
    # A tuple is no array to the rest of the loader: refused, not passed over.
    tupled = {**good, "rules": tuple(good["rules"])}
    problems = _file_schema_problems({"scenarios": [tupled]} if listed else tupled, listed)
    assert [p.message for p in problems] == [f"{tuple(good['rules'])!r} is not of type 'array'"]
    # A name with a final newline (what a YAML block gives): Python's $ matches before it, jsonschema-rs's does
    # not; the stricter answer stands.
    problems = _file_schema_problems({**good, "name": "fine\n"} if not listed else {"scenarios": [{**good, "name": "fine\n"}]}, listed)
    assert len(problems) == 1 and "does not match" in problems[0].message and problems[0].place[-1] == "name"
    # YAML reads an unquoted date as a date, which jsonschema-rs cannot take: jsonschema says what is wrong.
    path = tmp_path / "dated.yaml"
    path.write_text("name: dated\ndescription: 2026-12-06\nrules:\n  - {operation: getAgent, response: {status: 200}}\n")
    with pytest.raises(ScenarioError) as raised:
        load_file(path, CONTRACT)
    assert any("description" in problem and "is not of type 'string'" in problem for problem in raised.value.problems)
