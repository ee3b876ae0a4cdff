"""`relay validate` reports every problem of a flow at once, each at its place, in words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flow_problems import flow, problems_of
from relay_widgets import WidgetsPlugin

from runtime import Runtime
from runtime.cli import CliState, cli

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)


# --- the README's first flow, and an empty else ---------------------------------------------


def test_the_readmes_first_flow_validates(tmp_path: Path) -> None:
    found = re.search(r"## Flows\n\n```yaml\n(.*?)```", README.read_text(), re.S)
    assert found is not None
    path = tmp_path / "readme.yaml"
    path.write_text(found.group(1))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.output


def test_an_empty_else_is_valid_and_runs_nothing(runtime: Runtime) -> None:
    loaded = runtime.load_flow_text(
        flow(
            "  - id: b\n    branch:\n      - when: ${{ true }}\n        steps:\n"
            "          - {id: a, action: widgets.echo, inputs: {text: x}}\n    else: []\n"
        )
    )
    assert loaded.steps[0].otherwise == ()  # type: ignore[union-attr]


def test_an_else_of_the_wrong_shape_names_else(runtime: Runtime) -> None:
    found = problems_of(
        runtime,
        flow(
            "  - id: b\n    branch:\n      - when: ${{ true }}\n        steps:\n"
            "          - {id: a, action: widgets.echo, inputs: {text: x}}\n    else: nope\n"
        ),
    )
    assert found == ["f.yaml:8:11: steps[0].else: 'nope' is not a list"]


# --- everything at once ---------------------------------------------------------------------

EVERYTHING = """\
name: everything
extra: 1
steps:
  - id: one
    action: widgets.echo
    for_each: ${{ [1] }}
    inputs: {text: x, count: many}
  - id: two
    action: widgets.echo
    retry: {attempts: 0, initial: 1x, tries: 3}
    inputs: {count: 2.5, colour: red}
  - id: three
    action: widgets.echo
    inputs: {text: "${{ item.name }}", when: yesterday}
"""


def test_structural_errors_hide_nothing(runtime: Runtime) -> None:
    found = problems_of(runtime, EVERYTHING)
    assert found == [
        "f.yaml:2:1: unknown key 'extra'",
        "f.yaml:4:5: steps[0]: a step has exactly one of action, branch, for_each; "
        "this one has action and for_each",
        "f.yaml:4:5: steps[0]: missing required key 'steps'",  # (of a for_each)
        "f.yaml:7:30: steps[0].inputs.count: 'many' is not an integer",
        "f.yaml:10:23: steps[1].retry.attempts: 0 is less than the minimum of 1",
        "f.yaml:10:35: steps[1].retry.initial: '1x' is not a duration (e.g. 30s, 5m, 1h, 7d)",
        "f.yaml:10:39: steps[1].retry: unknown key 'tries'",
        "f.yaml:11:13: steps[1].inputs: missing required input 'text' for widgets.echo",
        "f.yaml:11:21: steps[1].inputs.count: 2.5 is not an integer",
        "f.yaml:11:26: steps[1].inputs: unknown input 'colour' for widgets.echo "
        "(did you mean 'color'?)",
        "f.yaml:14:20: steps[2].inputs.text: item is only defined inside for_each",
        "f.yaml:14:46: steps[2].inputs.when: 'yesterday' is not a date and time "
        "(RFC 3339, e.g. 2026-01-31T09:00:00Z)",
    ]


def test_relay_validate_prints_every_problem(
    tmp_path: Path,
) -> None:
    path = tmp_path / "all.yaml"
    path.write_text(EVERYTHING)
    state = CliState(
        runtime_factory=lambda: Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
    )
    result = CliRunner().invoke(cli, ["validate", str(path)], obj=state)
    assert result.exit_code == 1
    assert len([ln for ln in result.output.splitlines() if ln.startswith(str(path))]) == 12


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, timeout: soon}\n",
            "steps[0].timeout: 'soon' is not a duration (e.g. 30s, 5m, 1h, 7d)",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, retry: {backoff: linear}}\n",
            "steps[0].retry.backoff: 'linear' is not one of: fixed, exponential",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, on_error: ignore}\n",
            "steps[0].on_error: 'ignore' is not one of: fail, continue",
        ),
        (
            "  - {id: 1a, action: widgets.echo, inputs: {text: x}}\n",
            "steps[0].id: '1a' is not a name (letters, digits and _, not starting with a digit)",
        ),
        (
            "  - {id: a, action: echo, inputs: {text: x}}\n",
            "steps[0].action: 'echo' is not an action reference (component.action)",
        ),
        ("  - {action: widgets.echo, inputs: {text: x}}\n", "steps[0]: missing required key 'id'"),
        (
            "  - {id: a, inputs: {text: x}}\n",
            "steps[0]: a step needs one of action, branch, for_each",
        ),
        ("  - {id: a, for_each: '${{ [1] }}'}\n", "steps[0]: missing required key 'steps'"),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, retry: {attempts: many}}\n",
            "steps[0].retry.attempts: 'many' is not an integer",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: [x]}\n",
            "steps[0].inputs: a list is not a mapping",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x, tags: 3}}\n",
            "steps[0].inputs.tags: 3 is not a list",
        ),
    ],
)
def test_messages_name_the_key_in_words(runtime: Runtime, steps: str, expected: str) -> None:
    found = problems_of(runtime, flow(steps))
    assert any(p.endswith(expected) for p in found), found
    assert not any(re.search(r"\^|\$'|is not of type|does not match", p) for p in found), found


def test_config_and_trigger_problems_name_their_keys(runtime: Runtime) -> None:
    found = problems_of(
        runtime,
        "name: x\nconfig:\n  9lives: {type: string}\n  n: {type: text}\n"
        "  c: {type: connection, component: widgets}\n"
        "trigger: {schedule: {every: often}}\n"
        "steps:\n  - {id: a, action: widgets.echo, inputs: {text: x}}\n",
    )
    assert found == [
        "f.yaml:3:3: config: '9lives' is not a name "
        "(letters, digits and _, not starting with a digit)",
        "f.yaml:4:13: config.n.type: 'text' is not one of: string, number, integer, boolean, "
        "json, connection",
        "f.yaml:5:6: config.c: missing required key 'connection'",
        "f.yaml:6:29: trigger.schedule.every: 'often' is not a duration (e.g. 30s, 5m, 1h, 7d)",
    ]


# --- did you mean ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "  - {id: a, action: widgets.ecko, inputs: {text: x}}\n",
            "component 'widgets' has no action 'ecko' (did you mean 'echo'?)",
        ),
        (
            "  - {id: a, action: widget.echo, inputs: {text: x}}\n",
            "unknown component 'widget' (did you mean 'widgets'?)",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, retyr: {}}\n",
            "unknown key 'retyr' (did you mean 'retry'?)",
        ),
        (
            "  - {id: a, action: widgets.echo, inputs: {text: x}, retry: {attempt: 2}}\n",
            "unknown key 'attempt' (did you mean 'attempts'?)",
        ),
        (
            "  - {id: a, action: widgets.echo, input: {text: x}}\n",
            "unknown key 'input' (did you mean 'inputs'?)",
        ),
    ],
)
def test_did_you_mean(runtime: Runtime, steps: str, expected: str) -> None:
    found = problems_of(runtime, flow(steps))
    assert any(p.endswith(expected) for p in found), found


def test_did_you_mean_for_connections_triggers_and_top_level_keys(runtime: Runtime) -> None:
    found = problems_of(
        runtime,
        "name: x\ndescripton: y\nconfig:\n"
        "  c: {type: connection, component: widgets, connection: oath}\n"
        "trigger: {component: widgets, trigger: nope}\n"
        "steps:\n  - {id: a, action: widgets.echo, inputs: {text: x}}\n",
    )
    assert "f.yaml:2:1: unknown key 'descripton' (did you mean 'description'?)" in found
    assert any(p.endswith("has no connection 'oath' (did you mean 'oauth'?)") for p in found)
    assert any(p.endswith("has no trigger 'nope'") for p in found)  # nothing close


def test_a_password_inputs_value_is_never_repeated(runtime: Runtime) -> None:
    found = problems_of(
        runtime, flow("  - {id: a, action: widgets.echo, inputs: {text: x, secret: 987654321}}\n")
    )
    assert found == ["f.yaml:3:61: steps[0].inputs.secret: is not a string"]


def test_did_you_mean_for_a_components_trigger() -> None:
    found = problems_of(
        Runtime(),
        "name: x\ntrigger: {component: calendly, trigger: calendlyTriger}\n"
        "steps:\n  - {id: a, action: calendly.getEvnt, inputs: {uuid: x}}\n",
    )
    assert found == [
        "f.yaml:2:41: trigger.trigger: component 'calendly' has no trigger 'calendlyTriger' "
        "(did you mean 'calendlyTrigger'?)",
        "f.yaml:4:21: steps[0].action: component 'calendly' has no action 'getEvnt' "
        "(did you mean 'getEvent'?)",
    ]


def test_an_invalid_input_schema_is_named_by_its_key_path() -> None:
    from runtime import Action, Component, Input, PluginError
    from runtime.registry import Registry

    async def noop(ctx: object, params: object) -> None:
        return None

    inputs = (Input(key="a", label="A", schema={"minimum": "x"}),)
    with pytest.raises(PluginError) as info:
        Registry().add(
            Component(
                key="bad",
                label="Bad",
                description="d",
                actions=(Action(key="x", label="X", description="d", inputs=inputs, perform=noop),),
            ),
            plugin="p",
        )
    assert str(info.value).endswith("input 'a' has an invalid schema: minimum: 'x' is not a number")


def test_a_nested_step_may_not_reuse_its_parents_id(runtime: Runtime) -> None:
    found = problems_of(
        runtime,
        flow(
            "  - id: b\n    branch:\n      - when: ${{ true }}\n        steps:\n"
            "          - {id: b, action: widgets.echo, inputs: {text: x}}\n"
        ),
    )
    assert found == ["f.yaml:7:18: steps[0].branch[0].steps[0].id: duplicate step id 'b'"]


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ("{text: x, text: y}", "f.yaml:3:53: steps[0].inputs: duplicate key 'text'"),
        ("{<<: {text: x}}", "f.yaml:3:44: steps[0].inputs: merge keys (<<) are not supported"),
        ("{[1]: x, text: y}", "f.yaml:3:44: steps[0].inputs: mapping keys must be plain scalars"),
    ],
)
def test_yaml_key_problems_name_the_mapping(runtime: Runtime, inputs: str, expected: str) -> None:
    found = problems_of(runtime, flow(f"  - {{id: a, action: widgets.echo, inputs: {inputs}}}\n"))
    assert expected in found, found
