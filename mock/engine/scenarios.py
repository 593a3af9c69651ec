"""Scenario files: loaded, checked against their JSON Schema and against the contract, compiled.

A scenario is a named, ordered list of rules. A rule picks an operation (and optionally
path, query, header and body values, or a condition), may change the world (effects),
wait (delay) or hang up (drop), and answers with a status, headers and a body, all of
which may be templates. See ``scenarios/README.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..contract import Contract, Operation, field_path, schema_errors
from .templating import TemplateError, compile_condition, compile_value, constant_arguments, is_static
from . import parameters
from .parameters import Parameter
from .world import effect_names
from ..shipped import NOT_SCENARIOS
from ..yaml_files import YAMLError, load_yaml

ANY_OPERATION = "*"
DEFAULT_SCENARIO = "default"
_ALWAYS_ALLOWED_HEADERS = {"content-type"}


class ScenarioError(ValueError):
    """A scenario file that cannot be used: names the file, the scenario and the reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ContractMismatch(ScenarioError):
    """A rule that does not fit the contract it is loaded against: an operation the contract does not
    have, or a status, header or body it does not document."""


@dataclass
class Matcher:
    exact: Any = None
    pattern: re.Pattern[str] | None = None

    def matches(self, value: Any) -> bool:
        if self.pattern is not None:
            return value is not None and self.pattern.fullmatch(str(value)) is not None
        if isinstance(self.exact, (bool, int, float)) or self.exact is None:
            return value == self.exact
        return value is not None and str(value) == self.exact


@dataclass
class Effect:
    name: str
    bind: str | None
    args: Any  # compiled templates


@dataclass
class Response:
    status: int
    headers: dict[str, Any]  # compiled templates
    body: Any  # compiled templates
    has_body: bool


@dataclass
class Rule:
    scenario: str
    index: int
    operation: str
    match: dict[str, dict[str, Matcher]] = field(default_factory=dict)
    when: Any = None
    times: Any = None  # an int or a compiled template
    delay: Any = 0.0  # a number or a compiled template
    drop: bool = False
    effects: list[Effect] = field(default_factory=list)
    response: Response | None = None

    @property
    def label(self) -> str:
        return f"{self.scenario}#{self.index + 1}"

    def applies_to(self, operation_id: str) -> bool:
        return self.operation in (ANY_OPERATION, operation_id)


@dataclass
class Scenario:
    name: str
    description: str
    rules: list[Rule]
    source: str
    parameters: dict[str, Any] = field(default_factory=dict)  # name -> default
    declared: dict[str, Parameter] = field(default_factory=dict)  # name -> type, range, default
    _by_operation: dict[str, list[Rule]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def operations(self) -> list[str]:
        return sorted({r.operation for r in self.rules})

    def rules_for(self, operation_id: str) -> list[Rule]:
        """The rules that apply to an operation of the contract, in order (worked out once per operation)."""
        found = self._by_operation.get(operation_id)
        if found is None:
            found = self._by_operation[operation_id] = [r for r in self.rules if r.applies_to(operation_id)]
        return found


@lru_cache(maxsize=1)
def _file_validator() -> Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath("scenario.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def load_directory(directory: str | Path, contract: Contract, extra_files: list[Path] = (),
                   left_out: list[str] | None = None) -> dict[str, Scenario]:
    """Every ``*.yaml`` scenario file in ``directory`` (but ``world.yaml`` and ``resources.yaml``) and ``extra_files``.

    Raises :class:`ScenarioError` listing every problem found, each naming its file. With a
    ``left_out`` list, the rules of ``directory``'s files that do not fit the contract are left out
    and named there instead (the shipped scenarios served with another contract); ``extra_files``
    are always checked in full.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ScenarioError([f"{directory}: not a directory of scenario files"])
    files = sorted(p for p in directory.glob("*.yaml") if p.name not in NOT_SCENARIOS) + [Path(f) for f in extra_files]
    scenarios: dict[str, Scenario] = {}
    problems: list[str] = []
    extra = {Path(f) for f in extra_files}
    for path in files:
        try:
            loaded = load_file(path, contract, None if path in extra else left_out)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        for scenario in loaded:
            if scenario.name in scenarios:
                problems.append(f"{path}: scenario {scenario.name!r} is also defined in {scenarios[scenario.name].source}")
            scenarios[scenario.name] = scenario
    if DEFAULT_SCENARIO not in scenarios and not problems:
        problems.append(f"{directory}: no scenario named {DEFAULT_SCENARIO!r} (the default world's rules)")
    if problems:
        raise ScenarioError(problems)
    return scenarios


def load_file(path: str | Path, contract: Contract, left_out: list[str] | None = None) -> list[Scenario]:
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScenarioError([f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from None
    return load_document(data, contract, str(path), left_out)


def load_document(data: Any, contract: Contract, path: str = "(document)",
                  left_out: list[str] | None = None) -> list[Scenario]:
    """The scenarios of one scenario document already read (a file's content, or one sent to the admin
    API or built by ``respond``): checked by the same schema and against the contract, compiled."""
    errors = sorted(_file_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise ScenarioError([f"{path}: {_schema_message(e)}" for e in errors])
    entries = data["scenarios"] if "scenarios" in data else [data]
    problems: list[str] = []
    scenarios = []
    for entry in entries:
        rules = []
        for index, raw in enumerate(entry["rules"]):
            prefix = f"{path}: scenario {entry['name']!r} rule {index + 1} ({raw['operation']})"
            try:
                rules.append(_compile_rule(entry["name"], index, raw, contract))
            except ContractMismatch as exc:
                if left_out is None:
                    problems.extend(f"{prefix}: {problem}" for problem in exc.problems)
                else:
                    left_out.append(f"{prefix}: left out, it does not fit {contract.source}: {exc.problems[0]}")
            except (ScenarioError, TemplateError, re.error) as exc:
                for problem in getattr(exc, "problems", [str(exc)]):
                    problems.append(f"{prefix}: {problem}")
        declared = parameters.declared(entry.get("parameters") or {})
        defaults = {}
        for name, parameter in declared.items():
            try:
                defaults[name] = parameter.check(parameter.default)
            except ValueError as exc:
                problems.append(f"{path}: scenario {entry['name']!r}: default of {exc}")
        scenarios.append(Scenario(entry["name"], entry["description"], rules, str(path), defaults, declared))
    if problems:
        raise ScenarioError(problems)
    return scenarios


def _where(path) -> str:
    return field_path(path, root="(top level)")


def _schema_message(error) -> str:
    if error.validator == "oneOf" and not error.absolute_path:
        # The top level is "one scenario or a list": say what the single-scenario form misses.
        inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == 0]
        if inner:
            best = inner[0]
            return f"{_where(best.absolute_path)}: {best.message}"
    return f"{_where(error.absolute_path)}: {error.message}"


def _compile_rule(scenario: str, index: int, raw: dict[str, Any], contract: Contract) -> Rule:
    operation = raw["operation"]
    if operation == ANY_OPERATION:
        operations = list(contract.operations.values())
    elif operation in contract.operations:
        operations = [contract.operations[operation]]
    else:
        raise ContractMismatch([contract.unknown(operation, also=(ANY_OPERATION,))])
    rule = Rule(scenario, index, operation, times=compile_value(raw.get("times")),
                delay=compile_value(raw.get("delay", 0)), drop=bool(raw.get("drop", False)))
    for part, matchers in (raw.get("match") or {}).items():
        rule.match[part] = {
            (key.lower() if part == "headers" else key): (
                Matcher(pattern=re.compile(m["pattern"])) if isinstance(m, dict) else Matcher(exact=m))
            for key, m in matchers.items()}
    if "when" in raw:
        rule.when = compile_condition(raw["when"])
    known_effects = effect_names()
    for effect in raw.get("effects") or []:
        if effect["do"] not in known_effects:
            raise ScenarioError([f"unknown effect {effect['do']!r}; known: {', '.join(known_effects)}"])
        args = {k: v for k, v in effect.items() if k not in ("do", "as")}
        rule.effects.append(Effect(effect["do"], effect.get("as"), compile_value(args)))
    named = [name for part in (rule.when, rule.times, rule.delay, [e.args for e in rule.effects])
             for name in constant_arguments(part, "url")]
    if "response" in raw:
        response = raw["response"]
        rule.response = Response(response["status"], compile_value({str(k): str(v) if isinstance(v, int) else v
                                                                    for k, v in (response.get("headers") or {}).items()}),
                                 compile_value(response.get("body")), "body" in response)
        problems = [p for op in operations for p in response_problems(op, rule.response)]
        if problems:
            raise ContractMismatch(sorted(set(problems), key=problems.index))
        named += constant_arguments([rule.response.headers, rule.response.body], "url")
    unknown = sorted({name for name in named if name not in contract.operations})
    if unknown:
        raise ContractMismatch([f"url({name!r}) names an operation the contract does not have" for name in unknown])
    return rule


def response_problems(op: Operation, response: Response) -> list[str]:
    """What in a scenario response the contract does not allow (static parts; templates are checked when sent)."""
    documented = op.response(response.status)
    if documented is None:
        return [f"{op.operation_id} does not document status {response.status} "
                f"(documented: {', '.join(map(str, op.statuses))})"]
    problems = []
    given = {name.lower() for name in response.headers}
    for name, spec in op.response_headers(response.status).items():
        if spec.get("required") and name.lower() not in given:
            problems.append(f"{op.operation_id} {response.status} needs header {name!r} (the contract requires it)")
    allowed = {h.lower() for h in op.response_headers(response.status)} | _ALWAYS_ALLOWED_HEADERS
    for name in response.headers:
        if name.lower() not in allowed:
            problems.append(f"{op.operation_id} {response.status} does not document header {name!r} "
                            f"(documented: {', '.join(sorted(op.response_headers(response.status))) or 'none'})")
    schema = op.response_schema(response.status)
    if schema is None and response.has_body and response.body is not None:
        problems.append(f"{op.operation_id} {response.status} documents no body, but the scenario sends one")
    elif schema is not None and not response.has_body:
        problems.append(f"{op.operation_id} {response.status} needs a body")
    elif schema is not None and is_static(response.body):
        problems.extend(f"{op.operation_id} {response.status} body: {e}" for e in schema_errors(schema, response.body))
    return problems
