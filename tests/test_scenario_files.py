"""Scenario files: every problem is refused with the file, the scenario and the reason."""

import shutil
import textwrap

import pytest
from click.testing import CliRunner

from cloud_backup_mock.cli import main
from cloud_backup_mock.contract import Contract
from cloud_backup_mock.config import MockConfig
from cloud_backup_mock.engine import build_engine
from cloud_backup_mock.shipped import SCENARIOS_DIR
from cloud_backup_mock.engine.reloader import ScenarioReloader
from cloud_backup_mock.engine.scenarios import ScenarioError, load_directory, load_file

CONTRACT = Contract.load()


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
    assert problems(path) == [f"{path}: rules[0].response: 'status' is a required property"]


def test_unknown_operation(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: getAgents, response: {status: 200}}
        """)
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: scenario 'x' rule 1 (getAgents): unknown operation 'getAgents' (did you mean 'getAgent'?); known: authenticateAgent,")


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
    assert problems(path) == [f"{path}: scenario 'x' rule 1 (registerAgent): url('getAgnet') names an operation "
                              "the contract does not have"]


@pytest.mark.parametrize("response,reason", [
    ("{status: 418}", "getAgent does not document status 418 (documented: 200, 400, 401, 403, 404, 405, 408, 409, 413, 431, 500, 501, 503)"),
    ("{status: 200, body: {id: 1}}", "getAgent 200 body: body: 'project_id' is a required property"),
    ("{status: 200}", "getAgent 200 needs a body"),
    ("{status: 404, body: {message: gone}, headers: {X-Debug: '1'}}", "getAgent 404 does not document header 'X-Debug' (documented: none)"),
    ("{status: 403, body: {message: 3}}", "getAgent 403 body: message: 3 is not of type 'string'"),
])
def test_responses_the_contract_does_not_allow_are_refused(tmp_path, response, reason):
    path = write(tmp_path, f"""\
        name: x
        description: y
        rules:
          - operation: getAgent
            response: {response}
        """)
    assert problems(path)[0] == f"{path}: scenario 'x' rule 1 (getAgent): {reason}"


def test_no_body_where_none_is_documented(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: reportVaultEncryption, response: {status: 204, body: {a: 1}}}
        """)
    assert problems(path) == [f"{path}: scenario 'x' rule 1 (reportVaultEncryption): reportVaultEncryption 204 documents no body, but the scenario sends one"]


def test_bad_template_and_unknown_effect(tmp_path):
    path = write(tmp_path, """\
        name: x
        description: y
        rules:
          - {operation: getAgent, when: "agent(", response: {status: 404, body: {message: m}}}
          - {operation: getAgent, effects: [{do: explode}], response: {status: 404, body: {message: m}}}
        """)
    first, second = problems(path)
    assert first.startswith(f"{path}: scenario 'x' rule 1 (getAgent): condition 'agent(':")
    assert second.startswith(f"{path}: scenario 'x' rule 2 (getAgent): unknown effect 'explode'; known: advance_clock, configure, create_request,")


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
    assert f"{bad_dir / 'broken.yaml'}: scenario 'broken' rule 1 (getAgent): getAgent does not document status 299" in result.output
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
