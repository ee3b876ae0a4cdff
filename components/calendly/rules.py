"""What Calendly refuses across inputs, checked before any request is sent.

A JSON Schema on one input cannot see the others, so the combinations Calendly refuses
(``user`` with user scope, a share's dates for its period type, a time window of at most seven
days) are checked here and raised like a schema failure: an ``InputValidationError`` naming the
input to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from runtime import InputValidationError, Problem

Rule = Callable[[Mapping[str, Any]], Iterator[Problem]]


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == []


def required_when(key: str, when: str, values: Iterable[str]) -> Rule:
    """``key`` is required when input ``when`` has one of ``values``."""
    wanted = tuple(values)

    def rule(params: Mapping[str, Any]) -> Iterator[Problem]:
        current = params.get(when)
        if current in wanted and _unset(params.get(key)):
            yield Problem(f"is required when {when} is {current!r}", f"$.{key}")

    return rule


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def time_window(start: str, end: str, *, max_days: int) -> Rule:
    """``end`` is after ``start`` and at most ``max_days`` later (both RFC 3339, validated)."""

    def rule(params: Mapping[str, Any]) -> Iterator[Problem]:
        try:
            begins, ends = _instant(str(params[start])), _instant(str(params[end]))
        except (KeyError, ValueError):
            return  # unset or not a timestamp: the schema reports it
        if ends <= begins:
            yield Problem(f"must be after {start}", f"$.{end}")
        elif ends - begins > timedelta(days=max_days):
            yield Problem(f"must be at most {max_days} days after {start}", f"$.{end}")

    return rule


def _by_path(problem: Problem) -> str:
    return problem.path  # the order schema problems are reported in


def check(owner: str, params: Mapping[str, Any], *rules: Rule) -> None:
    """Raise one ``InputValidationError`` with every rule's problems (none: return)."""
    problems = sorted((problem for rule in rules for problem in rule(params)), key=_by_path)
    if problems:
        raise InputValidationError(f"invalid inputs for calendly.{owner}", problems)


#: Calendly needs ``user`` for a user-scoped subscription (create, list, delete, trigger).
USER_FOR_USER_SCOPE = required_when("user", "scope", ("user",))
