"""Scenario parameters: their declared types and ranges, and the checking of values given for them
(``X-Mock-Scenario: name;key=value``, the admin API, ``serve --scenario``).

A parameter is declared either by its default alone (its type is the default's: ``failures: 2`` is an
integer) or in full (``{type: integer, minimum: 0, maximum: 1000, default: 2}``; a string may list its
values: ``{type: string, enum: [a, b], default: a}``). A value that does
not fit is refused, naming the parameter and what it takes; strings never hold control characters
(they may reach a response header) and are at most ``max_length`` characters (256 unless declared).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

STRING_MAX_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # integer, number, string, boolean
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = STRING_MAX_LENGTH
    enum: tuple[str, ...] = ()  # a string's allowed values (none: any)

    @classmethod
    def declared(cls, name: str, declaration: Any) -> "Parameter":
        if isinstance(declaration, dict):
            return cls(name, declaration["type"], declaration["default"], declaration.get("minimum"),
                       declaration.get("maximum"), declaration.get("max_length", STRING_MAX_LENGTH),
                       tuple(declaration.get("enum") or ()))
        kind = ("boolean" if isinstance(declaration, bool) else "integer" if isinstance(declaration, int)
                else "number" if isinstance(declaration, float) else "string")
        return cls(name, kind, declaration)

    def expected(self) -> str:
        if self.type == "string" and self.enum:
            return f"one of {', '.join(self.enum)}"
        if self.type == "string":
            return f"a string of at most {self.max_length} characters, without control characters"
        if self.type == "boolean":
            return "true or false"
        low = "" if self.minimum is None else f"{self.minimum:g}"
        high = "" if self.maximum is None else f"{self.maximum:g}"
        span = f" from {low} to {high}" if low and high else f" of at least {low}" if low else \
            f" of at most {high}" if high else ""
        return f"{'an integer' if self.type == 'integer' else 'a number'}{span}"

    def check(self, value: Any) -> Any:
        """The value as this parameter's type; ValueError naming the parameter and the type when it does not fit."""
        problem = ValueError(f"parameter {self.name}: {value!r} is not {self.expected()}")
        if self.type == "string":
            text = str(value)
            if len(text) > self.max_length or _CONTROL.search(text) or (self.enum and text not in self.enum):
                raise problem
            return text
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise problem
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            raise problem from None
        if not math.isfinite(number):
            raise problem
        if self.type == "integer":
            if number != int(number) or (isinstance(value, str) and not re.fullmatch(r"[+-]?\d+", value.strip())):
                raise problem
            number = int(number)
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            raise problem
        return number


def declared(parameters: dict[str, Any]) -> dict[str, Parameter]:
    return {name: Parameter.declared(name, declaration) for name, declaration in (parameters or {}).items()}
