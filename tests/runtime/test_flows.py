"""Flow files: static checks report every problem with file:line:col."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flow_problems import problems_of
from hypothesis import given
from hypothesis import strategies as st
from relay_widgets import WidgetsPlugin

from runtime import FlowError, Runtime
from runtime.cli import CliState, cli
from runtime.flows.yamlsource import parse_yaml

FIVE_PROBLEMS = """\
name: five problems
steps:
  - id: first
    action: widgets.echo
    inputs:
      text: hello
      text: again
  - id: second
    action: widgets.nope
  - id: third
    action: widgets.add
    inputs: {}
  - id: fourth
    action: widgets.echo
    inputs:
      text: ${{ steps.ghost.data }}
  - id: fifth
    action: widgets.echo
    inputs:
      text: ${{ steps.first.data + }}
"""


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)


def test_five_problems_all_reported_with_positions(runtime: Runtime) -> None:
    found = problems_of(runtime, FIVE_PROBLEMS)
    where = [f.split(": ", 1)[0] for f in found]
    assert where == ["f.yaml:7:7", "f.yaml:9:13", "f.yaml:12:13", "f.yaml:16:13", "f.yaml:20:13"]
    messages = [f.split(": ", 1)[1] for f in found]
    assert messages[:4] == [
        "steps[0].inputs: duplicate key 'text'",
        "steps[1].action: component 'widgets' has no action 'nope'",
        "steps[2].inputs: missing required input 'values' for widgets.add",
        "steps[3].inputs.text: reference to unknown step 'ghost'",
    ]
    # the rest of the wording is the CEL library's; the position is ours
    assert messages[4].startswith("steps[4].inputs.text: expression error: syntax error:")


def test_relay_validate_prints_all_five_and_exits_1(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(FIVE_PROBLEMS)
    # the CLI builds its runtime with the factory it is given: one with the widgets plugin only
    state = CliState(
        runtime_factory=lambda: Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
    )
    result = CliRunner().invoke(cli, ["validate", str(path)], obj=state)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(lines) == 5
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: '${{ steps.b.data }}'}\n  - id: b\n    action: widgets.echo\n    inputs: {text: x}\n",
            "5:20: steps[0].inputs.text: reference to step 'b' before it runs",
        ),
        (
            "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: 1, count: many}\n",
            "steps[0].inputs.count: 'many' is not an integer",
        ),
        (
            "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: x, bogus: 1}\n",
            "unknown input 'bogus'",
        ),
        ("name: x\nsteps:\n  - id: a\n    action: nope.echo\n", "unknown component 'nope'"),
        (
            "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: x}\n  - id: a\n    action: widgets.echo\n    inputs: {text: x}\n",
            "duplicate step id 'a'",
        ),
        (
            "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: '${{ config.nope }}'}\n",
            "unknown config variable 'nope'",
        ),
        ("name: x\nsteps: [\n", "YAML syntax error"),
        ("name: x\nstep: []\n", "unknown key 'step'"),
        ("- 1\n", "a flow must be a mapping"),
        ("", "the file is empty"),
    ],
)
def test_each_check(runtime: Runtime, text: str, expected: str) -> None:
    found = problems_of(runtime, text)
    assert any(expected in p for p in found), found


def test_yaml_12_keeps_no_as_a_string(runtime: Runtime) -> None:
    flow = runtime.load_flow_text(
        "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    inputs: {text: no}\n"
    )
    step = flow.steps[0]
    assert step.inputs == {"text": "no"}  # type: ignore[union-attr]


def test_alias_bombs_are_bounded(runtime: Runtime) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    found = problems_of(runtime, "\n".join(lines) + "\nname: x\nsteps: []\n")
    assert any("exceeds" in p for p in found)


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: *x}\n", "&x [[*x]]\n"])
def test_an_alias_inside_its_own_anchor_is_a_problem_not_a_crash(text: str) -> None:
    doc = parse_yaml(text, "r.yaml")
    assert [p.message for p in doc.problems] == ["an alias refers to a node that contains it"]
    assert all(p.line >= 1 and p.column >= 1 for p in doc.problems)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # libyaml's own composer crashes the process on this
        "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 300)),
        "\n".join(["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 150)]),
    ],
)
def test_nesting_is_bounded(text: str) -> None:
    doc = parse_yaml(text, "deep.yaml")
    assert doc.problems and all("nesting deeper than 100 levels" in p.message for p in doc.problems)


@pytest.mark.parametrize(
    ("text", "where"),
    [("x: 1\na: \x07\n", (2, 4)), ("a: \ud800\n", (1, 4)), ("a: b\x00\n", (1, 5))],
)
def test_unacceptable_characters_are_problems_with_their_place(
    text: str, where: tuple[int, int]
) -> None:
    doc = parse_yaml(text, "c.yaml")
    assert [(p.line, p.column) for p in doc.problems] == [where]
    assert doc.problems[0].message.startswith("unacceptable character #x")


@given(st.text(max_size=300))
def test_any_text_parses_or_gives_problems(text: str) -> None:
    doc = parse_yaml(text, "any.yaml")  # never raises: every failure is a problem
    assert all(p.file == "any.yaml" and p.line >= 1 and p.column >= 1 for p in doc.problems)


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("yes", "yes"),  # YAML 1.1 booleans stay strings
        ("on", "on"),
        ("True", True),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("12", 12),
        ("-1_000", -1000),
        ("0x1F", 31),
        ("0o17", 15),
        ("1:30", "1:30"),  # no sexagesimals
        ("1.5e3", 1500.0),
        ("-.inf", float("-inf")),
        ("2026-11-24", "2026-11-24"),  # timestamps stay strings
        ("'12'", "12"),  # quoted: always a string
        ('"true"', "true"),
        ("!!int '7'", 7),  # an explicit tag wins
        ("!!str 7", "7"),
    ],
)
def test_plain_scalars_follow_yaml_12(plain: str, value: Any) -> None:
    doc = parse_yaml(f"v: {plain}\n", "s.yaml")
    assert doc.problems == []
    assert doc.data == {"v": value} and type(doc.data["v"]) is type(value)


yaml_text = st.text(
    alphabet=st.sampled_from(list("ab:-[]{}\n &*!|>'\"#$%{}.,?0123456789 ")), max_size=120
)


@given(yaml_text)
def test_random_text_only_raises_flow_errors(text: str) -> None:
    runtime = Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
    try:
        runtime.load_flow_text(text, "r.yaml")
    except FlowError as exc:
        assert all(p.file == "r.yaml" and p.line >= 1 for p in exc.problems)


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.just("${{ steps.a.data }}"),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "action",
                    "inputs",
                    "steps",
                    "branch",
                    "when",
                    "for_each",
                    "name",
                    "text",
                    "else",
                    "retry",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(
    st.dictionaries(
        st.sampled_from(["name", "steps", "config", "trigger", "extra"]), json_like, max_size=4
    )
)
def test_random_documents_only_raise_flow_errors(document: dict[str, Any]) -> None:
    import json

    runtime = Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
    try:
        runtime.load_flow_text(json.dumps(document), "d.yaml")
    except FlowError as exc:
        assert exc.problems


def test_block_scalars_fold_and_keep_lines(runtime: Runtime) -> None:
    flow = runtime.load_flow_text(
        "name: x\nsteps:\n  - id: a\n    action: widgets.echo\n    when: >-\n      ${{ 1 +\n      1 == 2 }}\n"
        "    inputs:\n      text: |\n        line one\n        line two\n"
    )
    step = flow.steps[0]
    assert step.inputs == {"text": "line one\nline two\n"}  # type: ignore[union-attr]
    assert step.when is not None  # type: ignore[union-attr]
    assert step.when.raw == "${{ 1 + 1 == 2 }}"  # type: ignore[union-attr]
