"""Jinja2 templates inside scenario files, compiled once when the file is loaded.

A string that is exactly one ``{{ expression }}`` renders to the expression's value with
its type (a dict, a bool, None); any other string containing ``{{``/``{%`` renders as text.
Dicts and lists are walked, so a response body can mix literal and templated values.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.S)


class TemplateError(ValueError):
    """A template that does not compile or fails while rendering."""


class _Expression:
    __slots__ = ("source", "fn")

    def __init__(self, source: str):
        self.source = source
        self.fn = _ENV.compile_expression(source, undefined_to_none=True)

    def render(self, context: dict[str, Any]) -> Any:
        return _plain(self.fn(**context))


class _Text:
    __slots__ = ("source", "template")

    def __init__(self, source: str):
        self.source = source
        self.template = _ENV.from_string(source)

    def render(self, context: dict[str, Any]) -> str:
        return self.template.render(**context)


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


def is_static(compiled: Any) -> bool:
    if isinstance(compiled, (_Expression, _Text)):
        return False
    if isinstance(compiled, dict):
        return all(is_static(v) for v in compiled.values())
    if isinstance(compiled, list):
        return all(is_static(v) for v in compiled)
    return True


def render(compiled: Any, context: dict[str, Any]) -> Any:
    try:
        if isinstance(compiled, (_Expression, _Text)):
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
