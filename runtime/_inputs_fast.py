"""The one-pass input check: ``InputSchema.validate``'s fast path for values that are valid.

Validating a step's inputs with jsonschema costs ~0.1 ms per step, nearly all of it for values
that are valid. ``quick_check`` compiles the subset of Draft 2020-12 that declared inputs use
into plain Python checks with exactly jsonschema's semantics (same type checker, same format
checker, same comparisons). A check answers True only when the value is certainly valid.
``OnePass`` checks and cleans a set of values in one loop and answers None whenever it is not
sure; the caller then takes the full jsonschema path, which reports the problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

Check = Callable[[Any], bool]
Cleaner = Callable[[Any], Any]

_FORMAT_CHECKER = FormatChecker()

#: Keywords without effect on validity (annotations).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "writeOnly",
        "readOnly",
        "deprecated",
    }
)
_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER
_EXACT_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
    "integer": lambda v: _TYPE_CHECKER.is_type(v, "integer"),
    "number": lambda v: _TYPE_CHECKER.is_type(v, "number"),
}


class OnePass:
    """Checks, cleans and completes with defaults a set of input values in a single loop."""

    def __init__(
        self,
        table: dict[str, tuple[Check, Cleaner | None]],
        defaults: tuple[tuple[str, Any], ...],
        required: frozenset[str],
    ) -> None:
        self._table = table
        self._defaults = defaults
        self._required = required

    @classmethod
    def compile(
        cls,
        properties: Mapping[str, Any],
        cleaners: Mapping[str, Cleaner | None],
        defaults: tuple[tuple[str, Any], ...],
        required: frozenset[str],
    ) -> OnePass | None:
        """The one pass over inputs with these schemas (by key), cleaners and defaults; None
        when a schema is beyond the quick check, or a default fails it (the full path
        reports that)."""
        table: dict[str, tuple[Check, Cleaner | None]] = {}
        for key, schema in properties.items():
            check = quick_check(schema)
            if check is None:
                return None
            table[key] = (check, cleaners[key])
        if any(not table[key][0](default) for key, default in defaults):
            return None
        return cls(table, defaults, required)

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cleaned params, exactly as the full path would return them; None when this pass
        is not sure (an unknown or invalid value, a cleaner refusing, a required input
        missing)."""
        table = self._table
        cleaned: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            entry = table.get(key)
            if entry is None or not entry[0](value):
                return None
            clean = entry[1]
            if clean is not None:
                try:
                    value = clean(value)
                except (ValueError, TypeError):
                    return None
            cleaned[key] = value
        try:
            for key, default in self._defaults:
                if key not in cleaned:
                    clean = table[key][1]
                    cleaned[key] = default if clean is None else clean(default)
        except (ValueError, TypeError):
            return None  # a default its own cleaner refuses: reported by the full path
        return cleaned if self._required <= cleaned.keys() else None


def _is_number(value: Any) -> bool:
    return bool(_TYPE_CHECKER.is_type(value, "number"))


def quick_check(schema: Any) -> Check | None:
    """A check of ``schema``, or None when it uses a keyword the quick check does not know."""
    if schema is True or schema == {}:
        return lambda _value: True
    if not isinstance(schema, dict):
        return None
    combined = _combined_check(schema)
    if combined is not None:
        return combined
    checks: list[Check] = []
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS or (
            keyword == "additionalProperties" and "properties" in schema
        ):
            continue  # (checked with "properties", in the same pass over the value)
        check = _keyword_check(keyword, arg, schema)
        if check is None:
            return None
        checks.append(check)
    if not checks:
        return lambda _value: True
    if len(checks) == 1:
        return checks[0]

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 (a loop: no generator set up per value)
            if not check(value):
                return False
        return True

    return every


def _combined_check(schema: dict[str, Any]) -> Check | None:
    """One function for the two most common shapes (a connection input, a string with a
    pattern), the same checks as the keyword-by-keyword ones in a single call."""
    rules = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
    if rules.keys() == {"type", "required"} and rules["type"] == "object":
        needed = rules["required"]
        if not isinstance(needed, list) or not all(isinstance(k, str) for k in needed):
            return None
        keys = frozenset(needed)
        return lambda value: isinstance(value, dict) and keys <= value.keys()
    if rules.keys() == {"type", "pattern"} and rules["type"] == "string":
        compiled = _pattern(rules["pattern"])
        if compiled is None:
            return None
        return lambda value: isinstance(value, str) and compiled.search(value) is not None
    return None


def _pattern(arg: Any) -> re.Pattern[str] | None:
    """What jsonschema's ``re.search(arg, value)`` compiles; None for a pattern it would
    refuse (jsonschema reports it)."""
    if not isinstance(arg, str):
        return None
    try:
        return re.compile(arg)
    except re.error:
        return None


Builder = Callable[[str, Any, dict[str, Any]], Check | None]


def _type_check(_keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    names = [arg] if isinstance(arg, str) else arg
    if not isinstance(names, list) or not all(n in _EXACT_TYPES for n in names):
        return None
    tests = [_EXACT_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _enum_check(_keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(arg, list) or not all(isinstance(c, str) for c in arg):
        return None
    choices = frozenset(arg)
    return lambda value: isinstance(value, str) and value in choices


def _format_check(_keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(arg, str):
        return None
    return lambda value: _FORMAT_CHECKER.conforms(value, arg)


def _bound_check(keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    if not _is_number(arg):
        return None
    if keyword == "minimum":
        return lambda value: not _is_number(value) or not value < arg
    return lambda value: not _is_number(value) or not value > arg


def _length_check(keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    if not _TYPE_CHECKER.is_type(arg, "integer"):
        return None
    if keyword == "minLength":
        return lambda value: not isinstance(value, str) or not len(value) < arg
    return lambda value: not isinstance(value, str) or not len(value) > arg


def _pattern_check(_keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    pattern = _pattern(arg)
    if pattern is None:
        return None
    return lambda value: not isinstance(value, str) or pattern.search(value) is not None


def _required_check(_keyword: str, arg: Any, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(arg, list) or not all(isinstance(k, str) for k in arg):
        return None
    needed = frozenset(arg)
    return lambda value: not isinstance(value, dict) or needed <= value.keys()


def _items_check(_keyword: str, arg: Any, schema: dict[str, Any]) -> Check | None:
    if "prefixItems" in schema:
        return None
    item = quick_check(arg)
    if item is None:
        return None
    return lambda value: not isinstance(value, list) or all(item(v) for v in value)


def _properties_check(_keyword: str, arg: Any, schema: dict[str, Any]) -> Check | None:
    """``properties`` with its ``additionalProperties`` (only true or false), in one pass."""
    if not isinstance(arg, dict):
        return None
    props: dict[str, Check] = {}
    for key, sub in arg.items():
        check = quick_check(sub)
        if check is None:
            return None
        props[key] = check
    extra = schema.get("additionalProperties", True)
    if extra is not True and (extra is not False or "patternProperties" in schema):
        return None
    closed = extra is False

    def each_property(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            check = props.get(key)
            if check is None:
                if closed:  # additionalProperties: false
                    return False
            elif not check(item):
                return False
        return True

    return each_property


def _additional_check(_keyword: str, arg: Any, schema: dict[str, Any]) -> Check | None:
    """``additionalProperties`` without ``properties``: only true or false are known."""
    if "patternProperties" in schema:
        return None
    if arg is True:
        return lambda _value: True
    if arg is not False:
        return None
    known = frozenset(schema.get("properties") or ())
    return lambda value: not isinstance(value, dict) or all(k in known for k in value)


#: The keywords the quick check knows, each with the builder of its check (the builder
#: answers None for an argument it cannot check exactly as jsonschema would).
_KEYWORD_CHECKS: dict[str, Builder] = {
    "type": _type_check,
    "enum": _enum_check,
    "format": _format_check,
    "minimum": _bound_check,
    "maximum": _bound_check,
    "minLength": _length_check,
    "maxLength": _length_check,
    "pattern": _pattern_check,
    "required": _required_check,
    "items": _items_check,
    "properties": _properties_check,
    "additionalProperties": _additional_check,
}


def _keyword_check(keyword: str, arg: Any, schema: dict[str, Any]) -> Check | None:
    """The check of one keyword of ``schema``; None for a keyword (or argument) it does not know."""
    build = _KEYWORD_CHECKS.get(keyword)
    return None if build is None else build(keyword, arg, schema)
