"""Why an assertion failed: the values its parts gave.

A failed ``a && b`` is narrowed to the conjuncts that failed; a comparison shows what each side
gave. The parts are evaluated as CEL in the same scope (no side effects, so evaluating them
again is safe)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from runtime.errors import ExpressionError
from runtime.expressions import compile_expression

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", " in ")
_LITERAL = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|-?\d+(?:\.\d+)?u?|true|false|null""")
#: Longest rendering of one value in a failure message.
MAX_SHOWN = 600


def _top_level(source: str) -> Iterator[tuple[int, str]]:
    """Each position outside brackets and string literals, with the text from there."""
    depth = 0
    quote = ""
    index = 0
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            yield index, source[index:]
        index += 1


def split_top(source: str, operator: str) -> list[str]:
    """``source`` split at each top-level ``operator``."""
    parts, start = [], 0
    for index, rest in _top_level(source):
        if index >= start and rest.startswith(operator):
            parts.append(source[start:index])
            start = index + len(operator)
    parts.append(source[start:])
    return [p.strip() for p in parts]


def _comparison(source: str) -> tuple[str, str, str] | None:
    for index, rest in _top_level(source):
        for operator in _COMPARISONS:
            if rest.startswith(operator):
                if operator in ("<", ">") and rest[1:2] == "=":
                    continue
                left, right = source[:index].strip(), source[index + len(operator) :].strip()
                if left and right:
                    return left, operator.strip(), right
    return None


def show(value: Any) -> str:
    """A value as a failure message shows it: JSON, cut short."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def value_of(source: str, scope: Mapping[str, Any]) -> str:
    """What ``source`` gives in ``scope``, shown; an evaluation error says so."""
    try:
        return show(compile_expression(source).evaluate(scope))
    except ExpressionError as exc:
        return f"<error: {exc}>"


def explain(source: str, scope: Mapping[str, Any]) -> list[str]:
    """Lines naming what the failing parts of ``source`` gave."""
    conjuncts = split_top(source, "&&")
    failing = conjuncts
    if len(conjuncts) > 1:
        failing = [c for c in conjuncts if value_of(c, scope) != "true"]
    lines: list[str] = []
    for part in failing:
        compared = _comparison(part) if not part.startswith("!") else None
        if len(conjuncts) > 1:
            lines.append(f"failed: {part}")
        if compared is None:
            lines.append(f"  {part} gave {value_of(part, scope)}")
            continue
        left, operator, right = compared
        for side in (left, right):
            if not _LITERAL.fullmatch(side):  # a literal says what it gives
                lines.append(f"  {side} gave {value_of(side, scope)}")
        lines.append(f"  expected: {left} {operator} {right}")
    return lines
