"""Jinja2 templates inside scenario files, compiled once when the file is loaded.

A string that is exactly one ``{{ expression }}`` renders to the expression's value with
its type (a dict, a bool, None); any other string containing ``{{``/``{%`` renders as text.
Dicts and lists are walked, so a response body can mix literal and templated values.

All templates of one request render in one Jinja context over a :class:`Variables` dict, so
the variables and Jinja's globals are not copied for each template. Names added to the dict
later (an effect's ``as:``) are seen by the templates rendered after.
"""

from __future__ import annotations

import re
from types import FunctionType, MethodType
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from ..internals import parse_expression, render_chunks, shared_context

_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, with a shorter way to the same answer for what scenario templates do most:
    read a key of a plain dict (``body.id``) and call a plain Python function (``agent(...)``).
    Everything else goes through the sandbox's own ``getattr`` and ``call``."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A dict has no attribute beyond dict's own, so the sandbox would fail the attribute and
        # take the item, or make an undefined: the same, without raising AttributeError first.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        # A function (or a method of one) with nothing set on it carries none of the marks the sandbox
        # and Context.call look for (unsafe_callable, alters_data, jinja_pass_arg) and is no str.format.
        kind = type(__obj)
        if (kind is FunctionType and not __obj.__dict__) or (
                kind is MethodType and type(__obj.__func__) is FunctionType and not __obj.__func__.__dict__):
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.undefined("value was undefined because a callable raised a StopIteration exception")
        return super().call(__context, __obj, *args, **kwargs)


_ENV = _Sandbox(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)


class TemplateError(ValueError):
    """A template that does not compile or fails while rendering."""


class Variables(dict):
    """The variables of one request's templates (Jinja's globals included), and the Jinja context
    they render in, made on first use."""

    def __init__(self, variables: dict[str, Any]):
        super().__init__(_ENV.globals)
        self.update(variables)
        self._jinja: Context | None = None

    def jinja(self) -> Context:
        if self._jinja is None:
            self._jinja = shared_context(_ENV, self)
        return self._jinja


def _jinja(variables: dict[str, Any]) -> Context:
    return (variables if isinstance(variables, Variables) else Variables(variables)).jinja()


class _Template:
    """A template parsed when its file loads (syntax, filter and test names are checked then) and
    turned into Python on first use: a template that is never rendered is never compiled. ``tree`` is
    the parsed template (Jinja's ``nodes.Template``), for a loader to inspect."""

    __slots__ = ("source", "tree", "_template")

    def __init__(self, source: str, ast: nodes.Template):
        for node in ast.find_all((nodes.Filter, nodes.Test)):
            known = _ENV.filters if isinstance(node, nodes.Filter) else _ENV.tests
            if node.name not in known:
                kind = "filter" if isinstance(node, nodes.Filter) else "test"
                raise TemplateSyntaxError(f"no {kind} named {node.name!r}", node.lineno, None, None)
        self.source, self.tree, self._template = source, ast, None

    @property
    def template(self):
        if self._template is None:
            self._template = _ENV.from_string(self.tree)
        return self._template


class _Expression(_Template):
    """``{% set result = EXPRESSION %}``, what ``Environment.compile_expression`` builds, rendered in a
    shared context."""

    __slots__ = ()

    def __init__(self, source: str):
        expression = parse_expression(_ENV, source)
        super().__init__(source, nodes.Template([nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)],
                                                lineno=1))

    def render(self, variables: dict[str, Any]) -> Any:
        context = _jinja(variables)
        try:
            for _ in render_chunks(self.template, context):
                pass
            return _plain(context.vars.get("result"))
        finally:
            context.vars.clear()  # nothing set by one template shadows the variables for the next
            context.exported_vars.clear()


class _Text(_Template):
    __slots__ = ()

    def __init__(self, source: str):
        super().__init__(source, _ENV.parse(source))

    def render(self, variables: dict[str, Any]) -> str:
        context = _jinja(variables)
        try:
            return _ENV.concat(render_chunks(self.template, context))
        finally:
            context.vars.clear()
            context.exported_vars.clear()


def compile_value(value: Any) -> Any:
    """Compile every template in ``value``; plain values are returned as they are."""
    try:
        if isinstance(value, str):
            whole = _WHOLE_EXPRESSION.match(value)
            if whole:
                return _Expression(whole.group("expr"))
            if "{{" in value or "{%" in value:
                return _Text(value)
            return value
        if isinstance(value, dict):
            return {k: compile_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [compile_value(v) for v in value]
        return value
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template {value!r}: {exc.message} (line {exc.lineno})") from None


def compile_condition(source: str) -> _Expression:
    try:
        return _Expression(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"condition {source!r}: {exc.message}") from None


def constant_arguments(compiled: Any, function: str) -> list[str]:
    """The constant first arguments of every call to ``function`` in compiled templates
    (``url('getAgent', ...)`` -> ``['getAgent']``), so a loader can check them."""
    if isinstance(compiled, _Template):
        return [call.args[0].value for call in compiled.tree.find_all(nodes.Call)
                if isinstance(call.node, nodes.Name) and call.node.name == function
                and call.args and isinstance(call.args[0], nodes.Const) and isinstance(call.args[0].value, str)]
    if isinstance(compiled, dict):
        return [name for v in compiled.values() for name in constant_arguments(v, function)]
    if isinstance(compiled, list):
        return [name for v in compiled for name in constant_arguments(v, function)]
    return []


def is_static(compiled: Any) -> bool:
    if isinstance(compiled, _Template):
        return False
    if isinstance(compiled, dict):
        return all(is_static(v) for v in compiled.values())
    if isinstance(compiled, list):
        return all(is_static(v) for v in compiled)
    return True


def render(compiled: Any, context: dict[str, Any]) -> Any:
    try:
        if isinstance(compiled, _Template):
            return compiled.render(context)
        if isinstance(compiled, dict):
            return {k: render(v, context) for k, v in compiled.items()}
        if isinstance(compiled, list):
            return [render(v, context) for v in compiled]
        return compiled
    except TemplateError:
        raise
    except Exception as exc:  # a helper or a filter failed: report which template
        source = getattr(compiled, "source", compiled)
        raise TemplateError(f"template {source!r}: {type(exc).__name__}: {exc}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, Undefined):
        return None
    return value
