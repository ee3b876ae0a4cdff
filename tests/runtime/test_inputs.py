"""Inputs compile to JSON Schema; every failure is reported with its JSON path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from relay_widgets import WIDGETS

from runtime import Input, InputValidationError
from runtime.inputs import InputSchema, input_schema

ECHO = WIDGETS.action("echo")
assert ECHO is not None
SCHEMA = InputSchema("widgets.echo", ECHO.inputs)


def test_every_input_type_compiles_to_a_valid_schema() -> None:
    for kind in (
        "string",
        "password",
        "boolean",
        "number",
        "integer",
        "code",
        "date",
        "timestamp",
        "connection",
    ):
        for collection in (None, "valuelist", "keyvaluelist"):
            spec = Input("k", "K", kind, collection=collection)  # type: ignore[arg-type]
            Draft202012Validator.check_schema(input_schema(spec))


def test_all_errors_are_reported_with_paths() -> None:
    with pytest.raises(InputValidationError) as info:
        SCHEMA.validate({"count": "three", "tags": ["a", 2], "when": "yesterday", "extra": 1})
    paths = {p.path: p.message for p in info.value.problems}
    assert paths.keys() >= {"$.text", "$.count", "$.tags[1]", "$.when"}
    assert paths["$.text"] == "is required"
    assert any("unknown input" in m for m in paths.values())


def test_defaults_apply_and_unset_values_are_dropped() -> None:
    params = SCHEMA.validate({"text": "hi", "secret": None})
    assert params == {"text": "hi", "count": 1}


def test_code_inputs_accept_json_text_and_report_bad_json() -> None:
    assert SCHEMA.validate({"text": "x", "body": '{"a": [1]}'})["body"] == {"a": [1]}
    with pytest.raises(InputValidationError) as info:
        SCHEMA.validate({"text": "x", "body": "{nope"})
    assert info.value.problems[0].path == "$.body"


def test_clean_runs_after_validation() -> None:
    schema = InputSchema("t", (Input("u", "U", clean=lambda v: v.rsplit("/", 1)[-1]),))
    assert schema.validate({"u": "https://x/users/ABC"}) == {"u": "ABC"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["text", "count", "tags", "when", "body", "color", "zzz"]), json_values
    )
)
def test_random_values_only_raise_relay_errors(values: dict[str, Any]) -> None:
    try:
        SCHEMA.validate(values)
    except InputValidationError as exc:
        assert exc.problems
        assert all(p.path.startswith("$") for p in exc.problems)


def test_schema_and_clean_problems_are_reported_together() -> None:
    def must_be_upper(value: str) -> str:
        if value != value.upper():
            raise ValueError("must be upper case")
        return value

    schema = InputSchema("t", (Input("u", "U", clean=must_be_upper), Input("n", "N", "integer")))
    with pytest.raises(InputValidationError) as info:
        schema.validate({"u": "lower", "n": "x"})
    assert {p.path: p.message for p in info.value.problems} == {
        "$.n": "'x' is not of type 'integer'",
        "$.u": "must be upper case",
    }
