"""Declared inputs as JSON Schema (Draft 2020-12): compile once, validate all errors, clean.

Every value that enters an action, trigger or data source passes through ``InputSchema``:
defaults are applied, values are validated against the compiled schema (every failure reported
with its JSON path), then each input's ``clean`` function runs.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, FormatChecker

from runtime._inputs_fast import OnePass
from runtime.errors import InputValidationError, Problem
from runtime.schema_messages import describe, did_you_mean, expected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from jsonschema.exceptions import ValidationError

    from runtime.declarations import Input

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
NOT_A_CONNECTION = (
    "is not a connection (a flow gives ${{ config.NAME }} for a config variable of type "
    "connection; code gives the handle Runtime.open_connection or Harness.connect returns)"
)


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
    if isinstance(schema, dict) and schema.get("required") == [CONNECTION_MARKER]:
        # relay's own marker for a connection stays inside: say what to pass instead
        yield path, NOT_A_CONNECTION
        return
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

    def __init__(self, owner: str, inputs: Iterable[Input], *, fast: bool = True) -> None:
        """``fast=False``: every validation takes the full jsonschema path (the plain path the
        one pass is checked against)."""
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
        #: key -> what turns a valid value into the function's value (None: kept as it is).
        self._cleaners: dict[str, Callable[[Any], Any] | None] = {
            spec.key: _cleaner(spec) for spec in self.inputs
        }
        #: The fast path for valid values (None: off, or the schema is beyond it).
        self.one_pass: OnePass | None = (
            OnePass.compile(
                self.schema["properties"],
                self._cleaners,
                self._defaults,
                frozenset(spec.key for spec in self.inputs if spec.required),
            )
            if fast
            else None
        )

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
        if self.one_pass is not None:
            answered = self.one_pass(values)
            if answered is not None:
                return answered
        # what the one pass is not sure of: validated by jsonschema, which reports problems
        present = self.with_defaults(values)
        problems = self.problems(present)
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
