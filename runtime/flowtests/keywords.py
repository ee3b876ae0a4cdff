"""``-k EXPR``, as pytest reads it: words matched as substrings of a case's ``FILE::NAME``
(case-insensitively), joined with ``and``, ``or``, ``not`` and parentheses."""

from __future__ import annotations

import re
from collections.abc import Callable

from runtime.errors import ConfigurationError

Matcher = Callable[[str], bool]
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_OPERATORS = ("and", "or", ")")


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.words = _TOKEN.findall(expression)
        self.at = 0

    def fail(self, why: str) -> ConfigurationError:
        return ConfigurationError(f"-k {self.expression!r}: {why}")

    def peek(self) -> str | None:
        return self.words[self.at] if self.at < len(self.words) else None

    def take(self) -> str:
        if self.at >= len(self.words):
            raise self.fail("ends too early")
        self.at += 1
        return str(self.words[self.at - 1])

    def either(self) -> Matcher:
        left = self.both()
        while self.peek() == "or":
            self.take()
            left = _any_of(left, self.both())
        return left

    def both(self) -> Matcher:
        left = self.negation()
        while self.peek() == "and":
            self.take()
            left = _all_of(left, self.negation())
        return left

    def negation(self) -> Matcher:
        if self.peek() == "not":
            self.take()
            return _none_of(self.negation())
        word = self.take()
        if word == "(":
            inner = self.either()
            if self.peek() != ")":
                raise self.fail("a ( without its )")
            self.take()
            return inner
        if word in _OPERATORS:
            raise self.fail(f"unexpected {word!r}")
        return _contains(word.lower())


def _any_of(a: Matcher, b: Matcher) -> Matcher:
    return lambda name: a(name) or b(name)


def _all_of(a: Matcher, b: Matcher) -> Matcher:
    return lambda name: a(name) and b(name)


def _none_of(a: Matcher) -> Matcher:
    return lambda name: not a(name)


def _contains(word: str) -> Matcher:
    return lambda name: word in name.lower()


def keyword_matcher(expression: str) -> Matcher:
    """The matcher ``expression`` describes; ``ConfigurationError`` when it is malformed."""
    parser = _Parser(expression)
    if not parser.words:
        raise parser.fail("an empty expression")
    matcher = parser.either()
    if parser.at != len(parser.words):
        raise parser.fail(f"unexpected {parser.words[parser.at]!r}")
    return matcher
