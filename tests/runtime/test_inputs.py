"""Inputs compile to JSON Schema; every failure is reported with its JSON path."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from relay_widgets import WIDGETS

from runtime import Choice, Input, InputValidationError
from runtime._inputs_fast import quick_check
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
            spec = Input(key="k", label="K", type=kind, collection=collection)
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
    schema = InputSchema("t", (Input(key="u", label="U", clean=lambda v: v.rsplit("/", 1)[-1]),))
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

    schema = InputSchema(
        "t",
        (Input(key="u", label="U", clean=must_be_upper), Input(key="n", label="N", type="integer")),
    )
    with pytest.raises(InputValidationError) as info:
        schema.validate({"u": "lower", "n": "x"})
    assert {p.path: p.message for p in info.value.problems} == {
        "$.n": "'x' is not an integer",
        "$.u": "must be upper case",
    }


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (
            Input(key="d", label="D", schema={"pattern": "^[0-9]+$"}),
            "1x",
            "'1x' is not a whole number",
        ),
        (
            Input(key="d", label="D", schema={"pattern": "^ab+$"}),
            "a",
            "'a' is not in the form this value needs",
        ),
        (
            Input(key="d", label="D", type="timestamp"),
            "soon",
            "'soon' is not a date and time (RFC 3339, e.g. 2026-01-31T09:00:00Z)",
        ),
        (Input(key="d", label="D", type="date"), "3 May", "'3 May' is not a date (YYYY-MM-DD)"),
        (
            Input(
                key="d",
                label="D",
                choices=(Choice(value="red", label="Red"), Choice(value="blue", label="Blue")),
            ),
            "rde",
            "'rde' is not one of: red, blue (did you mean 'red'?)",
        ),
        (
            Input(key="d", label="D", type="integer", schema={"minimum": 1, "maximum": 720}),
            721,
            "721 is more than the maximum of 720",
        ),
        (
            Input(key="d", label="D", type="integer", schema={"minimum": 1}),
            0,
            "0 is less than the minimum of 1",
        ),
        (Input(key="d", label="D", schema={"minLength": 1}), "", "must not be empty"),
        (Input(key="d", label="D", type="boolean"), "yes", "'yes' is not true or false"),
        (Input(key="d", label="D", collection="valuelist"), "x", "'x' is not a list"),
        (
            Input(
                key="d", label="D", schema={"anyOf": [{"format": "date"}, {"format": "date-time"}]}
            ),
            "x",
            "'x' is not a date (YYYY-MM-DD) or a date and time (RFC 3339, e.g. 2026-01-31T09:00:00Z)",
        ),
    ],
)
def test_problems_say_what_was_expected_in_words(spec: Input, value: Any, expected: str) -> None:
    schema = InputSchema("t", (spec,))
    with pytest.raises(InputValidationError) as info:
        schema.validate({"d": value})
    assert [str(p) for p in info.value.problems] == [f"$.d: {expected}"]


def test_unknown_inputs_are_named_each_with_a_suggestion() -> None:
    schema = InputSchema(
        "t", (Input(key="color", label="Color"), Input(key="count", label="Count", type="integer"))
    )
    with pytest.raises(InputValidationError) as info:
        schema.validate({"colour": "red", "cuont": 1, "zzz": 2})
    assert [str(p) for p in info.value.problems] == [
        "$.colour: unknown input 'colour' (did you mean 'color'?)",
        "$.cuont: unknown input 'cuont' (did you mean 'count'?)",
        "$.zzz: unknown input 'zzz'",
    ]


# --- the quick check: "valid" only where jsonschema agrees ---------------------------------------


def _all_schemas() -> list[InputSchema]:
    from runtime import Runtime

    rt = Runtime()
    out = [SCHEMA]
    for registered in rt.registry:
        out.extend(registered.schemas.values())
    return out


ALL_SCHEMAS = _all_schemas()
quick_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "2024-01-02",
            "2024-01-02T03:04:05Z",
            "yesterday",
            "a@b.c",
            "https://x",
            "1",
            1,
            1.0,
            0,
            -1,
            True,
            "",
            "active",
            "x" * 400,
            {"$connection": "c"},
            [{"key": "a", "value": "b"}],
            [{"key": "a"}],
        ]
    ),
)


def test_the_quick_check_covers_the_declared_inputs() -> None:
    covered = [s for s in ALL_SCHEMAS if quick_check(s.schema) is not None]
    assert len(covered) >= 0.8 * len(ALL_SCHEMAS)


@given(st.data())
def test_the_quick_check_says_valid_only_when_jsonschema_does(data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(ALL_SCHEMAS))
    keys = [*schema.by_key, "zzz"]
    values = data.draw(st.dictionaries(st.sampled_from(keys), quick_values, max_size=len(keys)))
    present = schema.with_defaults(values)
    quick = quick_check(schema.schema)
    if quick is not None and quick(present):
        assert schema.findings(present) == []


PROPERTY_SCHEMAS = sorted(
    {
        json.dumps(sub, sort_keys=True)
        for schema in ALL_SCHEMAS
        for sub in schema.schema["properties"].values()
    }
)


@given(st.sampled_from(PROPERTY_SCHEMAS), quick_values)
def test_each_input_quick_check_agrees_with_jsonschema(text: str, value: Any) -> None:
    sub = json.loads(text)
    check = quick_check(sub)
    if check is not None and check(value):
        validator = Draft202012Validator(sub, format_checker=FormatChecker())
        assert list(validator.iter_errors(value)) == []


PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    10**6,
    "",
    "x",
    "1",
    "yesterday",
    "2024-01-02",
    "2024-01-02T03:04:05Z",
    "a@b.c",
    "https://x",
    "x" * 60,
    "x" * 400,
    {},
    {"$connection": "c"},
    {"a": 1},
    [],
    ["a", 1],
    ["2024-01-02T03:04:05Z"],
    [{"key": "a", "value": "b"}],
    [{"key": "a", "value": 1}],
    [{"key": "a"}],
    [{"key": "a", "value": "b", "more": 1}],
]


def test_each_input_quick_check_agrees_with_jsonschema_on_probes() -> None:
    for text in PROPERTY_SCHEMAS:
        sub = json.loads(text)
        check = quick_check(sub)
        if check is None:
            continue
        validator = Draft202012Validator(sub, format_checker=FormatChecker())
        choices = sub.get("enum") or sub.get("items", {}).get("enum") or []
        for value in [*PROBES, *choices, *[[c] for c in choices]]:
            valid = not list(validator.iter_errors(value))
            assert check(value) == valid, (sub, value)


# --- the one-pass validate: the same answers as the full path ------------------------------------


def test_the_one_pass_validate_covers_the_declared_inputs() -> None:
    covered = [s for s in ALL_SCHEMAS if s.one_pass is not None]
    assert len(covered) >= 0.8 * len(ALL_SCHEMAS)


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except InputValidationError as exc:
        return ("invalid", sorted((p.path, p.message) for p in exc.problems))


#: Each schema beside the same inputs compiled without the one pass (the plain path).
PAIRS = [(s, InputSchema(s.owner, s.inputs, fast=False)) for s in ALL_SCHEMAS]


@given(st.data())
def test_the_one_pass_validate_answers_as_the_full_path(data: st.DataObject) -> None:
    schema, plain = data.draw(st.sampled_from(PAIRS))
    keys = [*schema.by_key, "zzz"]
    values = data.draw(st.dictionaries(st.sampled_from(keys), quick_values, max_size=len(keys)))
    assert _outcome(lambda: schema.validate(values)) == _outcome(lambda: plain.validate(values))


def test_the_one_pass_validate_answers_as_the_full_path_on_probes() -> None:
    answered = 0
    for schema, plain in PAIRS:
        required = [spec.key for spec in schema.inputs if spec.required]
        for key in schema.by_key:
            for value in PROBES:
                values = {k: {"$connection": "c"} for k in required}
                values[key] = value
                fast = _outcome(functools.partial(schema.validate, values))
                slow = _outcome(functools.partial(plain.validate, values))
                assert fast == slow, (schema.owner, key, value)
                answered += schema.one_pass is not None and schema.one_pass(values) is not None
    assert answered > 100  # the one pass answered these itself, without the full path


def test_a_default_its_cleaner_refuses_is_a_problem_on_both_paths() -> None:
    def refuse(value: Any) -> Any:
        raise ValueError("not today")

    schema = InputSchema("t.x", [Input(key="day", label="Day", default="monday", clean=refuse)])
    assert schema.one_pass is not None  # the one pass is tried first
    with pytest.raises(InputValidationError) as caught:
        schema.validate({})
    assert [(p.path, p.message) for p in caught.value.problems] == [("$.day", "not today")]


@pytest.mark.parametrize(
    ("fmt", "bad"),
    [("date-time", "noon"), ("date", "2026-02-30"), ("email", "nobody"), ("uri", "no scheme")],
)
def test_formats_are_checked(fmt: str, bad: str) -> None:
    schema = InputSchema("t", (Input(key="d", label="D", schema={"format": fmt}),))
    with pytest.raises(InputValidationError) as info:
        schema.validate({"d": bad})
    assert [p.path for p in info.value.problems] == ["$.d"]


def test_duration_format_is_not_checked() -> None:
    """As the README says: its checker library (isoduration) is not installed."""
    schema = InputSchema("t", (Input(key="d", label="D", schema={"format": "duration"}),))
    assert schema.validate({"d": "not a duration"}) == {"d": "not a duration"}
