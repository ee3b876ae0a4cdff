"""Declared inputs as JSON Schema (Draft 2020-12): compile once, validate all errors, clean.

Every value that enters an action, trigger or data source passes through ``InputSchema``:
defaults are applied, values are validated against the compiled schema (every failure reported
with its JSON path), then each input's ``clean`` function runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from runtime.declarations import Input
from runtime.errors import InputValidationError, Problem

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


def _problem(error: ValidationError, prefix: Iterable[Any]) -> Problem:
    path = [*prefix, *error.absolute_path]
    message = error.message
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        if missing:
            path.append(missing)
            message = "is required"
    elif error.validator == "additionalProperties":
        message = f"unknown input: {error.message}"
    return Problem(message=message, path=json_path(path))


class InputSchema:
    """The compiled schema of a set of inputs; build once per declaration, reuse always."""

    def __init__(self, owner: str, inputs: Iterable[Input]) -> None:
        self.owner = owner
        self.inputs: tuple[Input, ...] = tuple(inputs)
        self.by_key = {spec.key: spec for spec in self.inputs}
        self.schema = inputs_schema(self.inputs)
        self._validator = Draft202012Validator(self.schema, format_checker=_FORMAT_CHECKER)

    def problems(self, values: Mapping[str, Any], prefix: Iterable[Any] = ()) -> list[Problem]:
        """Every failure of ``values`` (after defaults), sorted by path."""
        prefix = tuple(prefix)
        errors = self._validator.iter_errors(self.with_defaults(values))
        found = [_problem(error, prefix) for error in errors]
        return sorted(found, key=lambda p: p.path)

    def with_defaults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without unset (None) entries, plus the defaults of missing inputs."""
        out = {k: v for k, v in values.items() if v is not None}
        for spec in self.inputs:
            if spec.key not in out and spec.has_default and spec.default is not None:
                out[spec.key] = spec.default
        return out

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Apply defaults, validate (raising every problem at once), clean; return the params."""
        present = self.with_defaults(values)
        problems = self.problems(present)
        failed = {p.path.removeprefix("$.").split(".")[0].split("[")[0] for p in problems}
        cleaned: dict[str, Any] = {}
        for key, value in present.items():
            spec = self.by_key.get(key)
            if spec is None or key in failed:
                continue  # already reported by the schema
            try:
                cleaned[key] = _clean(spec, value)
            except (ValueError, TypeError) as exc:
                problems.append(Problem(message=str(exc), path=json_path([key])))
        if problems:
            raise InputValidationError(f"invalid inputs for {self.owner}", problems)
        return cleaned


def _clean(spec: Input, value: Any) -> Any:
    if spec.type == "code" and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if spec.clean is None:
        return value
    if spec.collection == "valuelist":
        return [spec.clean(item) for item in value]
    if spec.collection == "keyvaluelist":
        return [{"key": kv["key"], "value": spec.clean(kv["value"])} for kv in value]
    return spec.clean(value)
