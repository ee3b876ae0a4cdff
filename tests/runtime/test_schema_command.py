"""``relay schema``: the editor's flow schema accepts every shipped flow and rejects the
mistakes ``relay validate`` catches, with each input's words, defaults and choices in it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from runtime import Action, Choice, Component, FlowError, Input, Runtime
from runtime.cli import cli
from runtime.declarations import INPUT_TYPES
from runtime.editor_schema import editor_schema
from runtime.flows.yamlsource import parse_yaml
from runtime.testing import ComponentPlugin

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [*sorted((ROOT / "flows").glob("*.yaml")), ROOT / "components/calendly/demo_flow.yaml"]
RUNTIME = Runtime()
SCHEMA = editor_schema(RUNTIME.registry)
VALIDATOR = Draft202012Validator(SCHEMA)


def data_of(text: str) -> Any:
    """The document as relay reads it (YAML 1.2: ``on`` and ``no`` stay strings)."""
    doc = parse_yaml(text, "f.yaml")
    assert not doc.problems
    return doc.data


def relay_validate_problems(data: Any) -> list[str]:
    try:
        RUNTIME.load_flow_text(yaml.safe_dump(data, allow_unicode=True), "f.yaml")
    except FlowError as exc:
        return [p.message for p in exc.problems]
    return []


def schema_errors(data: Any) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def readme_flows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)


def test_the_generated_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_flow_is_accepted(path: Path) -> None:
    data = data_of(path.read_text(encoding="utf-8"))
    assert relay_validate_problems(data) == []
    assert schema_errors(data) == []


def test_the_readme_flows_are_accepted() -> None:
    found = readme_flows()
    assert found
    for text in found:
        assert schema_errors(data_of(text)) == []


def booking() -> dict[str, Any]:
    data = data_of((ROOT / "flows/booking-follow-up.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def first_action_step(data: dict[str, Any], action: str) -> dict[str, Any]:
    def walk(steps: list[dict[str, Any]]) -> Any:
        for step in steps:
            if step.get("action") == action:
                return step
            for case in step.get("branch", []):
                found = walk(case["steps"])
                if found:
                    return found
            for inner in (step.get("else") or [], step.get("steps") or []):
                found = walk(inner)
                if found:
                    return found
        return None

    step = walk(data["steps"])
    assert step is not None, action
    return step  # type: ignore[no-any-return]


def with_event_step(change: Any) -> dict[str, Any]:
    """The booking flow with its ``calendly.getEvent`` step changed by ``change(step)``."""
    data = copy.deepcopy(booking())
    change(first_action_step(data, "calendly.getEvent"))
    return data


def _unknown_action(step: dict[str, Any]) -> None:
    step["action"] = "calendly.getEvnt"


def _unknown_input(step: dict[str, Any]) -> None:
    step["inputs"]["uuuid"] = "x"


def _missing_input(step: dict[str, Any]) -> None:
    del step["inputs"]["uuid"]


def _wrong_type(step: dict[str, Any]) -> None:
    step["inputs"]["uuid"] = 12


def _no_inputs(step: dict[str, Any]) -> None:
    del step["inputs"]


def _literal_connection(step: dict[str, Any]) -> None:
    step["inputs"]["connection"] = "my connection"


MISTAKES = {
    "unknown action": _unknown_action,
    "unknown input": _unknown_input,
    "missing required input": _missing_input,
    "input of the wrong type": _wrong_type,
    "no inputs at all": _no_inputs,
    "a connection that is not an expression": _literal_connection,
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_mistake_relay_validate_catches_is_rejected(mistake: str) -> None:
    data = with_event_step(MISTAKES[mistake])
    assert relay_validate_problems(data), "relay validate catches it"
    assert schema_errors(data), "and so does the editor's schema"


def _trigger_change(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(booking())
    change(data["trigger"])
    return data


def test_trigger_mistakes_are_rejected() -> None:
    def wrong_scope(trigger: dict[str, Any]) -> None:
        trigger["inputs"]["scope"] = "everyone"

    def unknown_trigger(trigger: dict[str, Any]) -> None:
        trigger["trigger"] = "calendlyTriger"

    def unknown_component(trigger: dict[str, Any]) -> None:
        trigger["component"] = "calendli"

    def wrong_event(trigger: dict[str, Any]) -> None:
        trigger["inputs"]["eventNamesInput"] = ["invitee.made"]

    for change in (wrong_scope, unknown_trigger, unknown_component, wrong_event):
        data = _trigger_change(change)
        assert relay_validate_problems(data), change.__name__
        assert schema_errors(data), change.__name__


def test_expressions_anywhere_in_a_value_are_left_to_run_time() -> None:
    def templated(trigger: dict[str, Any]) -> None:
        trigger["inputs"]["eventNamesInput"] = ["invitee.created", "${{ config.organization }}"]
        trigger["inputs"]["tolerance"] = "${{ 1 + 2 }}"

    data = _trigger_change(templated)
    assert relay_validate_problems(data) == []
    assert schema_errors(data) == []


def test_an_action_value_lists_the_installed_actions_with_their_words() -> None:
    variant = SCHEMA["$defs"]["step"]["oneOf"][0]["properties"]["action"]
    assert "calendly.getEvent" in variant["enum"]
    assert "relay.sleep" in variant["enum"]
    index = variant["enum"].index("calendly.getEvent")
    assert variant["markdownEnumDescriptions"][index].startswith("Get Event")


def test_inputs_carry_descriptions_defaults_and_choices() -> None:
    trigger = SCHEMA["$defs"]["trigger:calendly.calendlyTrigger"]
    tolerance = trigger["properties"]["tolerance"]
    assert tolerance["default"] == 180
    assert "replays" in tolerance["description"]
    scope = trigger["properties"]["scope"]
    assert scope["anyOf"][0]["enum"] == ["organization", "user"]
    assert set(trigger["required"]) == {"connection", "eventNamesInput", "organization", "scope"}
    assert "$connection" not in json.dumps(SCHEMA), "relay's internal marker stays inside"


# a literal for an integer input: the editor's schema and relay validate agree on each one
LITERALS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8).filter(lambda s: "${{" not in s),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(limit=LITERALS, status=LITERALS)
def test_literal_inputs_are_judged_as_relay_validate_judges_them(limit: Any, status: Any) -> None:
    data = copy.deepcopy(booking())
    data["steps"].append(
        {
            "id": "listing",
            "action": "calendly.listEvents",
            "inputs": {
                "connection": "${{ config.calendly }}",
                "limit": limit,
                "status": status,
            },
        }
    )
    assert bool(relay_validate_problems(data)) == bool(schema_errors(data))


GET_EVENT_INPUTS = sorted(
    RUNTIME.registry.require("calendly").component.action("getEvent").inputs,  # type: ignore[union-attr]
    key=lambda spec: spec.key,
)


@given(
    key=st.one_of(
        st.sampled_from([spec.key for spec in GET_EVENT_INPUTS]),
        st.text(min_size=1, max_size=10),
    )
)
def test_input_keys_are_judged_as_relay_validate_judges_them(key: str) -> None:
    def add(step: dict[str, Any]) -> None:
        step["inputs"][key] = "${{ config.organization }}"

    data = with_event_step(add)
    assert bool(relay_validate_problems(data)) == bool(schema_errors(data)), key


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from(["", "a", "2024-02-30", "2024-01-31", "2024-01-31T10:00:00Z", "x" * 9])
    | st.text(max_size=4).filter(lambda s: "${{" not in s),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["key", "value", "k"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@st.composite
def declared_input(draw: st.DrawFn) -> Input:
    kind = draw(st.sampled_from([t for t in INPUT_TYPES if t != "connection"]))
    choices: tuple[Choice, ...] = ()
    if kind == "string" and draw(st.booleans()):
        choices = (Choice(value="a"), Choice(value="b"))
    extra: dict[str, Any] = {}
    if kind in ("integer", "number") and draw(st.booleans()):
        extra = {"minimum": 0}
    if kind == "string" and draw(st.booleans()):
        extra = {"maxLength": 3}
    return Input(
        key="value",
        label="Value",
        type=kind,  # type: ignore[arg-type]
        required=draw(st.booleans()),
        collection=draw(st.sampled_from([None, "valuelist", "keyvaluelist"])),
        choices=choices,
        schema=extra,
    )


def _perform(ctx: Any, params: Any) -> None:
    return None


@given(spec=declared_input(), value=JSON, given_at_all=st.booleans())
def test_any_declared_input_and_literal_is_judged_as_relay_validate_judges_it(
    spec: Input, value: Any, given_at_all: bool
) -> None:
    component = Component(
        key="gen",
        label="Gen",
        description="Generated.",
        actions=(
            Action(key="act", label="Act", description="D.", inputs=(spec,), perform=_perform),
        ),
    )
    runtime = Runtime(plugins=[ComponentPlugin(component)], load_entry_points=False)
    validator = Draft202012Validator(
        editor_schema(runtime.registry), format_checker=FormatChecker()
    )
    inputs = {"value": value} if given_at_all else {}
    data = {"name": "x", "steps": [{"id": "a", "action": "gen.act", "inputs": inputs}]}
    try:
        runtime.load_flow_text(yaml.safe_dump(data, allow_unicode=True), "f.yaml")
        relay_says = True
    except FlowError:
        relay_says = False
    schema_says = validator.is_valid(data)
    assert relay_says == schema_says, (spec, value)


def test_relay_schema_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "flow.schema.json"
    result = CliRunner().invoke(cli, ["schema", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == json.loads(json.dumps(SCHEMA))
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == json.loads(target.read_text())


def test_relay_schema_names_the_option_for_a_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "--output", str(tmp_path / "no" / "s.json")])
    assert result.exit_code == 2
    assert "--output" in result.stderr
    assert "Traceback" not in result.stderr
