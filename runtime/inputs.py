"""Declared inputs as JSON Schema (Draft 2020-12): compile once, validate all errors, clean.

Every value that enters an action, trigger or data source passes through ``InputSchema``:
defaults are applied, values are validated against the compiled schema (every failure reported
with its JSON path), then each input's ``clean`` function runs.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from runtime.declarations import Input
from runtime.errors import InputValidationError, Problem
from runtime.schema_messages import describe, did_you_mean, expected

_FORMAT_CHECKER = FormatChecker()

_BASE_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "password": {"type": "string", "writeOnly": True},
    "boolean": {"type": "boolean"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    # code inputs hold JSON: a structured value, or a string holding JSON text.
    "code": {},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "connection": {"type": "object", "required": ["$connection"]},
}

CONNECTION_MARKER = "$connection"


def input_schema(spec: Input) -> dict[str, Any]:
    """The JSON Schema of one input's value."""
    item: dict[str, Any] = dict(_BASE_TYPES[spec.type])
    if spec.choices:
        item["enum"] = [c.value for c in spec.choices]
    item.update(spec.schema)
    schema: dict[str, Any]
    if spec.collection == "valuelist":
        schema = {"type": "array", "items": item}
    elif spec.collection == "keyvaluelist":
        schema = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": item},
                "required": ["key", "value"],
                "additionalProperties": False,
            },
        }
    else:
        schema = item
    schema["title"] = spec.label
    if spec.comments:
        schema["description"] = spec.comments
    if spec.has_default and spec.default is not None:
        schema["default"] = spec.default
    if spec.example is not None:
        schema["examples"] = [spec.example]
    return schema


def inputs_schema(inputs: Iterable[Input]) -> dict[str, Any]:
    """The JSON Schema of an object holding every input by key."""
    specs = list(inputs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {spec.key: input_schema(spec) for spec in specs},
        "required": [spec.key for spec in specs if spec.required],
        "additionalProperties": False,
    }


def json_path(parts: Iterable[Any]) -> str:
    """``$.a[0].b`` for a path of keys and indexes."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _findings(error: ValidationError) -> Iterator[tuple[tuple[Any, ...], str]]:
    """``error`` in words, with the path (keys and indexes) of the value it is about."""
    path = tuple(error.absolute_path)
    schema: Any = error.schema  # (jsonschema types these as "or Unset")
    required: Any = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict):
        for missing in required:
            if missing not in error.instance:
                yield (*path, missing), "is required"
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = schema.get("properties", {})
        what = "key" if path else "input"
        for extra in sorted(set(error.instance) - set(known), key=str):
            yield (*path, extra), f"unknown {what} {extra!r}{did_you_mean(extra, known)}"
        return
    if isinstance(schema, dict) and schema.get("writeOnly"):
        yield path, f"is not {expected(schema)}"  # a password's value is never repeated
        return
    yield path, describe(error)


class InputSchema:
    """The compiled schema of a set of inputs; build once per declaration, reuse always."""

    def __init__(self, owner: str, inputs: Iterable[Input]) -> None:
        self.owner = owner
        self.inputs: tuple[Input, ...] = tuple(inputs)
        self.by_key = {spec.key: spec for spec in self.inputs}
        self._defaults = tuple(
            (spec.key, spec.default)
            for spec in self.inputs
            if spec.has_default and spec.default is not None
        )
        self.schema = inputs_schema(self.inputs)
        self._validator = Draft202012Validator(self.schema, format_checker=_FORMAT_CHECKER)
        #: A quick check that only ever says "valid" when jsonschema would (None: the schema
        #: uses keywords it does not know, and every validation goes to jsonschema).
        self._surely_valid = _quick_check(self.schema)
        #: key -> what turns a valid value into the function's value (None: kept as it is).
        self._cleaners: dict[str, Callable[[Any], Any] | None] = {
            spec.key: _cleaner(spec) for spec in self.inputs
        }
        self._required = frozenset(spec.key for spec in self.inputs if spec.required)
        self._fast = self._fast_table()

    def _fast_table(self) -> dict[str, tuple[Check, Callable[[Any], Any] | None]] | None:
        """key -> (quick check, cleaner) for the one-pass ``validate``; None when an input's
        schema is beyond the quick check, or a default fails it (jsonschema reports that)."""
        table: dict[str, tuple[Check, Callable[[Any], Any] | None]] = {}
        for spec in self.inputs:
            check = _quick_check(self.schema["properties"][spec.key])
            if check is None:
                return None
            table[spec.key] = (check, self._cleaners[spec.key])
        if any(not table[key][0](default) for key, default in self._defaults):
            return None
        return table

    def problems(self, values: Mapping[str, Any], prefix: Iterable[Any] = ()) -> list[Problem]:
        """Every failure of ``values`` (after defaults), sorted by path."""
        prefix = tuple(prefix)
        found = [
            Problem(message=message, path=json_path((*prefix, *path)))
            for path, message in self.findings(values)
        ]
        return sorted(found, key=lambda p: p.path)

    def findings(self, values: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
        """Every failure of ``values`` (after defaults) as (path of keys and indexes, words)."""
        errors = self._validator.iter_errors(self.with_defaults(values))
        return [finding for error in errors for finding in _findings(error)]

    def with_defaults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without unset (None) entries, plus the defaults of missing inputs."""
        out = {k: v for k, v in values.items() if v is not None}
        for key, default in self._defaults:
            if key not in out:
                out[key] = default
        return out

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Apply defaults, validate (raising every problem at once), clean; return the params."""
        fast = self._fast
        if fast is not None:
            # one pass that only ever returns what the full path below would; anything it is
            # not sure of (an unknown or invalid value, a cleaner refusing) goes the full path
            cleaned: dict[str, Any] = {}
            for key, value in values.items():
                if value is None:
                    continue
                entry = fast.get(key)
                if entry is None or not entry[0](value):
                    break
                clean = entry[1]
                if clean is not None:
                    try:
                        value = clean(value)
                    except (ValueError, TypeError):
                        break
                cleaned[key] = value
            else:
                try:
                    for key, default in self._defaults:
                        if key not in cleaned:
                            clean = fast[key][1]
                            cleaned[key] = default if clean is None else clean(default)
                except (ValueError, TypeError):
                    pass  # a default its own cleaner refuses: reported by the full path
                else:
                    if self._required <= cleaned.keys():
                        return cleaned
        return self._validate_fully(values)

    def _validate_fully(self, values: Mapping[str, Any]) -> dict[str, Any]:
        present = self.with_defaults(values)
        quick = self._surely_valid
        # The quick check says "valid" only where jsonschema would, so jsonschema (and its
        # messages) is only run for values that may be invalid.
        problems = [] if quick is not None and quick(present) else self.problems(present)
        failed = {p.path.removeprefix("$.").split(".")[0].split("[")[0] for p in problems}
        cleaners = self._cleaners
        cleaned: dict[str, Any] = {}
        for key, value in present.items():
            if key not in cleaners or key in failed:
                continue  # unknown or invalid: already reported by the schema
            clean = cleaners[key]
            if clean is None:
                cleaned[key] = value
                continue
            try:
                cleaned[key] = clean(value)
            except (ValueError, TypeError) as exc:
                problems.append(Problem(message=str(exc), path=json_path([key])))
        if problems:
            raise InputValidationError(f"invalid inputs for {self.owner}", problems)
        return cleaned


def _cleaner(spec: Input) -> Callable[[Any], Any] | None:
    """``_clean`` for one input, or None when it would return every value unchanged (the
    input's own ``clean`` itself where ``_clean`` would only call it)."""
    if spec.type != "code" and (spec.clean is None or spec.collection is None):
        return spec.clean
    return functools.partial(_clean, spec)


def _clean(spec: Input, value: Any) -> Any:
    if spec.type == "code" and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at column {exc.colno})") from exc
        except RecursionError:
            raise ValueError("is JSON nested too deeply to read") from None
    if spec.clean is None:
        return value
    if spec.collection == "valuelist":
        return [spec.clean(item) for item in value]
    if spec.collection == "keyvaluelist":
        return [{"key": kv["key"], "value": spec.clean(kv["value"])} for kv in value]
    return spec.clean(value)


# --- the quick check ----------------------------------------------------------------------------
#
# Validating a step's inputs with jsonschema costs ~0.1 ms per step, nearly all of it for values
# that are valid. ``_quick_check`` compiles the subset of Draft 2020-12 that declared inputs use
# into plain Python checks with exactly jsonschema's semantics (same type checker, same format
# checker, same comparisons). A check answers True only when the value is certainly valid; on
# False the value is validated by jsonschema as before, which reports the problems.

Check = Callable[[Any], bool]

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


def _is_number(value: Any) -> bool:
    return bool(_TYPE_CHECKER.is_type(value, "number"))


def _quick_check(schema: Any) -> Check | None:
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


def _keyword_check(keyword: str, arg: Any, schema: dict[str, Any]) -> Check | None:
    if keyword == "type":
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not all(n in _EXACT_TYPES for n in names):
            return None
        tests = [_EXACT_TYPES[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)
    if keyword == "enum":
        if not isinstance(arg, list) or not all(isinstance(c, str) for c in arg):
            return None
        choices = frozenset(arg)
        return lambda value: isinstance(value, str) and value in choices
    if keyword == "format":
        if not isinstance(arg, str):
            return None
        return lambda value: _FORMAT_CHECKER.conforms(value, arg)
    if keyword in ("minimum", "maximum"):
        if not _is_number(arg):
            return None
        if keyword == "minimum":
            return lambda value: not _is_number(value) or not value < arg
        return lambda value: not _is_number(value) or not value > arg
    if keyword in ("minLength", "maxLength"):
        if not _TYPE_CHECKER.is_type(arg, "integer"):
            return None
        if keyword == "minLength":
            return lambda value: not isinstance(value, str) or not len(value) < arg
        return lambda value: not isinstance(value, str) or not len(value) > arg
    if keyword == "pattern":
        pattern = _pattern(arg)
        if pattern is None:
            return None
        return lambda value: not isinstance(value, str) or pattern.search(value) is not None
    if keyword == "required":
        if not isinstance(arg, list) or not all(isinstance(k, str) for k in arg):
            return None
        needed = frozenset(arg)
        return lambda value: not isinstance(value, dict) or needed <= value.keys()
    if keyword == "items":
        if "prefixItems" in schema:
            return None
        item = _quick_check(arg)
        if item is None:
            return None
        return lambda value: not isinstance(value, list) or all(item(v) for v in value)
    if keyword == "properties":
        if not isinstance(arg, dict):
            return None
        props: dict[str, Check] = {}
        for key, sub in arg.items():
            check = _quick_check(sub)
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
    if keyword == "additionalProperties":
        if "patternProperties" in schema:
            return None
        if arg is True:
            return lambda _value: True
        if arg is not False:
            return None
        known = frozenset(schema.get("properties") or ())
        return lambda value: not isinstance(value, dict) or all(k in known for k in value)
    return None
