"""JSON Schema failures in words: what was expected, never a raw regular expression.

jsonschema's own messages (``'1x' does not match '^[0-9]+...'``, ``is not of type
'integer'``) speak about the schema; a flow author or an action's caller needs to hear about
the value. ``describe`` turns one ``ValidationError`` into a sentence about its value;
``key_path`` writes where it is (``steps[2].retry.initial``); ``did_you_mean`` adds the
closest known name to an unknown one.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

#: Regular expressions relay and its components use, in words.
_PATTERNS: dict[str, str] = {
    r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)?$": "a duration (e.g. 30s, 5m, 1h, 7d)",
    r"^\s*\$\{\{.*\}\}\s*$": "one ${{ expression }}",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "a name (letters, digits and _, not starting with a digit)",
    r"^[A-Za-z][A-Za-z0-9_-]*\.[A-Za-z][A-Za-z0-9_-]*$": "an action reference (component.action)",
    r"^[0-9]+$": "a whole number",
    r"^\s*\d+\s*$": "a whole number",
    r"^https?://": "an http(s) URL",
}

_FORMATS: dict[str, str] = {
    "date": "a date (YYYY-MM-DD)",
    "date-time": "a date and time (RFC 3339, e.g. 2026-01-31T09:00:00Z)",
    "time": "a time (RFC 3339, e.g. 09:00:00Z)",
    "email": "an email address",
    "uri": "an absolute URI",
    "uri-reference": "a URI reference",
    "uuid": "a UUID",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "hostname": "a host name",
    "duration": "an ISO 8601 duration",
}

_TYPES: dict[str, str] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


if TYPE_CHECKING:  # jsonschema costs ~50 ms to import; only its errors come here
    from collections.abc import Callable, Iterable

    from jsonschema.exceptions import SchemaError, ValidationError


def key_path(parts: Iterable[Any]) -> str:
    """``steps[2].retry.initial`` for a path of keys and indexes (empty for the root)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def did_you_mean(name: Any, known: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``name``, or ``""``."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def show(value: Any) -> str:
    """A value as a message quotes it: short, and a container by its kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def kind_of(value: Any) -> str:
    """A value's JSON kind in words (``a string``, ``null``): for messages that must not
    repeat the value itself."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__


def expected(schema: Any) -> str:
    """What a (sub)schema accepts, in words, as far as its type, pattern, format or choices say."""
    if not isinstance(schema, dict):
        return "allowed here" if schema is True else "nothing (no value is allowed here)"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "one of: " + ", ".join(str(show(c)).strip("'") for c in schema["enum"])
    if "const" in schema:
        return show(schema["const"])
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    words = ""
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        words = _PATTERNS.get(pattern, "in the form this value needs")
    fmt = schema.get("format")
    if not words and isinstance(fmt, str):
        words = _FORMATS.get(fmt, f"a valid {fmt}")
    if words:
        # the type words only for the types the pattern or format does not speak for
        others = [_TYPES[n] for n in names if n in _TYPES and n not in ("string", "number")]
        if not others:
            return words
        if others == ["true or false"]:
            return f"true, false or {words}"
        return f"{' or '.join(others)} or {words}"
    if names:
        return " or ".join(_TYPES.get(n, n) for n in names)
    return "a valid value"


#: Messages that need only the value (as ``show`` quotes it) and the keyword's argument.
_TEMPLATES: dict[str, str] = {
    "minimum": "{value} is less than the minimum of {arg}",
    "exclusiveMinimum": "{value} is not more than {arg}",
    "maximum": "{value} is more than the maximum of {arg}",
    "exclusiveMaximum": "{value} is not less than {arg}",
    "multipleOf": "{value} is not a multiple of {arg}",
    "uniqueItems": "has an item more than once",
    "dependentRequired": "misses a key that goes with another one",
    "not": "{value} is not allowed here",
    "false": "is not allowed here",
}
#: What a size keyword counts.
_UNITS: dict[str, str] = {
    "minLength": "characters",
    "minItems": "items",
    "minProperties": "keys",
    "maxLength": "characters",
    "maxItems": "items",
    "maxProperties": "keys",
}


def _not_expected(error: ValidationError | SchemaError) -> str:
    """A value of the wrong type, form or choice, with what was expected."""
    arg: Any = error.validator_value
    value = error.instance
    hint = did_you_mean(value, arg) if error.validator == "enum" and isinstance(arg, list) else ""
    return f"{show(value)} is not {expected(error.schema)}{hint}"


def _too_small(error: ValidationError | SchemaError) -> str:
    """A string, list or mapping below its minimum size (a minimum of one reads as empty)."""
    arg: Any = error.validator_value
    if arg == 1:
        return "must not be empty"
    return f"has fewer than {arg} {_UNITS[str(error.validator)]}"


def _too_large(error: ValidationError | SchemaError) -> str:
    """A string, list or mapping above its maximum size."""
    return f"has more than {error.validator_value} {_UNITS[str(error.validator)]}"


def _missing_key(error: ValidationError | SchemaError) -> str:
    """The first required key the mapping lacks."""
    value = error.instance
    needed: Any = error.validator_value
    missing = [k for k in needed if isinstance(value, dict) and k not in value]
    return f"missing required key {missing[0]!r}" if missing else "missing a required key"


def _unknown_keys(error: ValidationError | SchemaError) -> str:
    """Each key the schema does not declare, with the declared key it may have meant."""
    value = error.instance
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    extra = sorted(set(value) - set(known)) if isinstance(value, dict) else []
    return "; ".join(f"unknown key {k!r}{did_you_mean(k, known)}" for k in extra)


def _no_form(error: ValidationError | SchemaError) -> str:
    """A value matching none of the alternatives, named when each one can be."""
    arg: Any = error.validator_value
    value = error.instance
    choices = [expected(sub) for sub in arg] if isinstance(arg, list) else []
    if choices and all(c != "a valid value" for c in choices):
        return f"{show(value)} is not {' or '.join(choices)}"
    return f"{show(value)} is not any of the forms allowed here"


_DESCRIBERS: dict[str, Callable[[ValidationError | SchemaError], str]] = {
    **dict.fromkeys(("type", "pattern", "format", "enum", "const"), _not_expected),
    **dict.fromkeys(("minLength", "minItems", "minProperties"), _too_small),
    **dict.fromkeys(("maxLength", "maxItems", "maxProperties"), _too_large),
    "required": _missing_key,
    "additionalProperties": _unknown_keys,
    "anyOf": _no_form,
    "oneOf": _no_form,
}


def describe(error: ValidationError | SchemaError) -> str:
    """One sentence about ``error``'s value (the caller says where it is)."""
    validator = str(error.validator)
    template = _TEMPLATES.get(validator)
    if template is not None:
        return template.format(value=show(error.instance), arg=error.validator_value)
    describer = _DESCRIBERS.get(validator)
    if describer is not None:
        return describer(error)
    return f"{show(error.instance)} is not valid here"
