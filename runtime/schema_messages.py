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
    r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)?$": "a duration (e.g. 30s, 5m, 1h)",
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
    from collections.abc import Iterable

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


def describe(error: ValidationError | SchemaError) -> str:
    """One sentence about ``error``'s value (the caller says where it is)."""
    validator = error.validator
    value = error.instance
    arg: Any = error.validator_value
    if validator in ("type", "pattern", "format", "enum", "const"):
        hint = did_you_mean(value, arg) if validator == "enum" and isinstance(arg, list) else ""
        return f"{show(value)} is not {expected(error.schema)}{hint}"
    if validator == "minimum":
        return f"{show(value)} is less than the minimum of {arg}"
    if validator == "exclusiveMinimum":
        return f"{show(value)} is not more than {arg}"
    if validator == "maximum":
        return f"{show(value)} is more than the maximum of {arg}"
    if validator == "exclusiveMaximum":
        return f"{show(value)} is not less than {arg}"
    if validator == "multipleOf":
        return f"{show(value)} is not a multiple of {arg}"
    if validator in ("minLength", "minItems", "minProperties"):
        if arg == 1:
            return "must not be empty"
        unit = {"minLength": "characters", "minItems": "items", "minProperties": "keys"}[validator]
        return f"has fewer than {arg} {unit}"
    if validator in ("maxLength", "maxItems", "maxProperties"):
        unit = {"maxLength": "characters", "maxItems": "items", "maxProperties": "keys"}[validator]
        return f"has more than {arg} {unit}"
    if validator == "uniqueItems":
        return "has an item more than once"
    if validator == "required":
        missing = [k for k in arg if isinstance(value, dict) and k not in value]
        return f"missing required key {missing[0]!r}" if missing else "missing a required key"
    if validator == "dependentRequired":
        return "misses a key that goes with another one"
    if validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(set(value) - set(known)) if isinstance(value, dict) else []
        return "; ".join(f"unknown key {k!r}{did_you_mean(k, known)}" for k in extra)
    if validator in ("anyOf", "oneOf"):
        choices = [expected(sub) for sub in arg] if isinstance(arg, list) else []
        if choices and all(c != "a valid value" for c in choices):
            return f"{show(value)} is not {' or '.join(choices)}"
        return f"{show(value)} is not any of the forms allowed here"
    if validator == "not":
        return f"{show(value)} is not allowed here"
    if validator == "false":
        return "is not allowed here"
    return f"{show(value)} is not valid here"
