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
from typing import Any, Callable, Sequence

import jsonschema_rs
from jsonschema import Draft202012Validator

from ..contract import Contract, Operation, field_path, schema_errors
from .templating import TemplateError, compile_condition, compile_value, constant_arguments, is_static
from . import parameters
from .parameters import Parameter
from .world import effect_names
from ..shipped import NOT_SCENARIOS
from ..yaml_files import YAMLError, line_finder, load_yaml

ANY_OPERATION = "*"
DEFAULT_SCENARIO = "default"
_ALWAYS_ALLOWED_HEADERS = {"content-type"}


class ScenarioError(ValueError):
    """A scenario file that cannot be used: names the file, the scenario and the reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


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


@lru_cache(maxsize=2)
def _file_validator(listed: bool) -> Draft202012Validator:
    """The file schema with its top level decided: one scenario, or (``listed``) a list under
    ``scenarios``. Deciding it here, not by the schema's ``oneOf``, lets every problem of the chosen
    form be said, each at its place, rather than one "not valid under any of the given schemas"."""
    schema = json.loads(resources.files(__package__).joinpath("scenario.schema.json").read_text(encoding="utf-8"))
    forms = schema.pop("oneOf")
    return Draft202012Validator({**schema, "allOf": [forms[1 if listed else 0]]})


@lru_cache(maxsize=2)
def _fast_file_validator(listed: bool) -> Any:
    """The same schema in jsonschema-rs: it decides; jsonschema explains a document that does not fit."""
    try:
        return jsonschema_rs.Draft202012Validator(_file_validator(listed).schema)
    except (ValueError, jsonschema_rs.ValidationError):
        return None


def _file_schema_problems(data: Any, listed: bool) -> list[_Problem]:
    """What does not fit the file schema. jsonschema-rs decides for what JSON could carry; jsonschema says
    why (and decides alone for what it cannot take: YAML's dates, Python's tuples). Where the two disagree
    (Python's ``$`` also matches before a final newline) the stricter one's problems are kept."""
    fast = _fast_file_validator(listed)
    decided = fast is not None and _json_shaped(data)
    try:
        if decided and fast.is_valid(data):
            return []
    except ValueError:  # what jsonschema-rs cannot take (UnicodeEncodeError included)
        decided = False
    found = [_Problem(tuple(e.absolute_path), e.message)
             for e in sorted(_file_validator(listed).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])]
    if not found and decided:
        found = [_Problem(tuple(e.instance_path), e.message) for e in fast.iter_errors(data)]
    return found


def _json_shaped(value: Any) -> bool:
    """Only what JSON has: jsonschema-rs would take a tuple for an array, the rest of this module would not."""
    if isinstance(value, dict):
        return all(_json_shaped(v) for v in value.values())
    if isinstance(value, list):
        return all(_json_shaped(v) for v in value)
    return not isinstance(value, tuple)


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
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScenarioError([f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from None
    return load_document(data, contract, str(path), left_out, line_finder(text))


@dataclass
class _Problem:
    """One thing wrong in a scenario document, at a place in it (``["rules", 2, "operation"]``)."""

    place: tuple[Any, ...]
    message: str
    unfit: bool = False  # the contract does not have or allow it (rather than the document being wrong)


def load_document(data: Any, contract: Contract, path: str = "(document)",
                  left_out: list[str] | None = None,
                  lines: Callable[[Sequence[Any]], int | None] | None = None) -> list[Scenario]:
    """The scenarios of one scenario document already read (a file's content, or one sent to the admin
    API or built by ``respond``): checked by the same schema and against the contract, compiled.

    Raises :class:`ScenarioError` with every problem the document has, schema and contract alike, each
    one line ``PATH[:LINE]: PLACE: what is wrong`` (``lines`` finds the line of a place in the file)."""
    listed = isinstance(data, dict) and "scenarios" in data
    found = _file_schema_problems(data, listed)
    wrong = [problem.place for problem in found]
    entries = data.get("scenarios") if listed else [data]
    scenarios = []
    for position, entry in enumerate(entries if isinstance(entries, list) else []):
        base = ("scenarios", position) if listed else ()
        if not isinstance(entry, dict) or not isinstance(entry.get("rules"), list):
            continue
        name = entry.get("name") if isinstance(entry.get("name"), str) else "?"
        rules = []
        for index, raw in enumerate(entry["rules"]):
            place = (*base, "rules", index)
            if any(w[:len(place)] == place for w in wrong):
                continue  # the schema's problems with this rule are said; compiling it would only guess
            rule, problems = _compile_rule(name, index, raw, contract)
            unfit = [p for p in problems if p.unfit]
            if left_out is not None and unfit:
                first = unfit[0]
                where = (*place, *first.place)
                left_out.append(f"{_line(path, lines, where)}: {_where(where)}: left out, it does not fit "
                                f"{contract.source}: {first.message}")
                problems = [p for p in problems if not p.unfit]
            found += [_Problem((*place, *p.place), p.message, p.unfit) for p in problems]
            if rule is not None and not problems:
                rules.append(rule)
        defaults: dict[str, Any] = {}
        declared: dict[str, Parameter] = {}
        if not any(w[:len(base) + 1] == (*base, "parameters") for w in wrong):
            declared = parameters.declared(entry.get("parameters") or {})
            for parameter_name, parameter in declared.items():
                try:
                    defaults[parameter_name] = parameter.check(parameter.default)
                except ValueError as exc:
                    found.append(_Problem((*base, "parameters", parameter_name), f"default of {exc}"))
        scenarios.append(Scenario(name, entry.get("description", ""), rules, str(path), defaults, declared))
    if found:
        if lines is not None:  # in the order of the file
            found.sort(key=lambda p: lines(p.place) or 0)
        raise ScenarioError([f"{_line(path, lines, p.place)}: {_where(p.place)}: {p.message}" for p in found])
    return scenarios


def _line(path: str, lines: Callable[[Sequence[Any]], int | None] | None, place: Sequence[Any]) -> str:
    """``file:line`` of a place in a file (the file alone when the line is not known)."""
    line = lines(place) if lines is not None else None
    return f"{path}:{line}" if line else path


def _where(path) -> str:
    return field_path(path, root="(top level)")


def _compile_rule(scenario: str, index: int, raw: dict[str, Any],
                  contract: Contract) -> tuple[Rule | None, list[_Problem]]:
    """The rule, and every problem it has, each at its place in the rule (a rule with problems is not
    used, but all of them are said at once)."""
    problems: list[_Problem] = []

    def compiled(place: tuple[Any, ...], value: Any, compile=compile_value) -> Any:
        try:
            return compile(value)
        except TemplateError as exc:
            problems.append(_Problem(place, str(exc)))
            return None

    operation = raw["operation"]
    if operation == ANY_OPERATION:
        operations = list(contract.operations.values())
    elif operation in contract.operations:
        operations = [contract.operations[operation]]
    else:
        operations = []
        problems.append(_Problem(("operation",), contract.unknown(operation, also=(ANY_OPERATION,)), unfit=True))
    rule = Rule(scenario, index, operation, times=compiled(("times",), raw.get("times")),
                delay=compiled(("delay",), raw.get("delay", 0)), drop=bool(raw.get("drop", False)))
    for part, matchers in (raw.get("match") or {}).items():
        rule.match[part] = {}
        for key, m in matchers.items():
            try:
                matcher = Matcher(pattern=re.compile(m["pattern"])) if isinstance(m, dict) else Matcher(exact=m)
            except re.error as exc:
                problems.append(_Problem(("match", part, key, "pattern"), f"not a regular expression: {exc}"))
                continue
            rule.match[part][key.lower() if part == "headers" else key] = matcher
    if "when" in raw:
        rule.when = compiled(("when",), raw["when"], compile_condition)
    known_effects = effect_names()
    for position, effect in enumerate(raw.get("effects") or []):
        if effect["do"] not in known_effects:
            problems.append(_Problem(("effects", position, "do"),
                                     f"unknown effect {effect['do']!r}; known: {', '.join(known_effects)}"))
            continue
        args = {k: v for k, v in effect.items() if k not in ("do", "as")}
        rule.effects.append(Effect(effect["do"], effect.get("as"), compiled(("effects", position), args)))
    named = [(place, name) for place, part in ((("when",), rule.when), (("times",), rule.times),
                                               (("delay",), rule.delay), (("effects",), [e.args for e in rule.effects]))
             for name in constant_arguments(part, "url")]
    if "response" in raw:
        response = raw["response"]
        headers = {str(k): str(v) if isinstance(v, int) else v for k, v in (response.get("headers") or {}).items()}
        rule.response = Response(response["status"], compiled(("response", "headers"), headers) or {},
                                 compiled(("response", "body"), response.get("body")), "body" in response)
        unfit = [p for op in operations for p in response_problems(op, rule.response)]
        problems += [_Problem(("response", *place), message, unfit=True)
                     for place, message in sorted(set(unfit), key=unfit.index)]
        named += [(("response", part), name) for part, value in (("headers", rule.response.headers),
                                                                  ("body", rule.response.body))
                  for name in constant_arguments(value, "url")]
    for place, name in sorted(set(named), key=named.index):
        if name not in contract.operations:
            problems.append(_Problem(place, f"url({name!r}) names an operation the contract does not have", unfit=True))
    return (None if problems else rule), problems


def response_problems(op: Operation, response: Response) -> list[tuple[tuple[str, ...], str]]:
    """What in a scenario response the contract does not allow (static parts; templates are checked when
    sent), each with its place in the response (``("headers", "X-Debug")``)."""
    documented = op.response(response.status)
    if documented is None:
        return [(("status",), f"{op.operation_id} does not document status {response.status} "
                              f"(documented: {', '.join(map(str, op.statuses))})")]
    problems = []
    given = {name.lower() for name in response.headers}
    for name, spec in op.response_headers(response.status).items():
        if spec.get("required") and name.lower() not in given:
            problems.append((("headers",), f"{op.operation_id} {response.status} needs header {name!r} "
                                           "(the contract requires it)"))
    allowed = {h.lower() for h in op.response_headers(response.status)} | _ALWAYS_ALLOWED_HEADERS
    for name in response.headers:
        if name.lower() not in allowed:
            problems.append((("headers", name), f"{op.operation_id} {response.status} does not document header "
                                                f"{name!r} (documented: "
                                                f"{', '.join(sorted(op.response_headers(response.status))) or 'none'})"))
    schema = op.response_schema(response.status)
    if schema is None and response.has_body and response.body is not None:
        problems.append((("body",), f"{op.operation_id} {response.status} documents no body, but the scenario sends one"))
    elif schema is not None and not response.has_body:
        problems.append(((), f"{op.operation_id} {response.status} needs a body"))
    elif schema is not None and is_static(response.body):
        problems.extend((("body",), f"{op.operation_id} {response.status} body: {e}")
                        for e in schema_errors(schema, response.body))
    return problems
