"""`relay validate`'s checks of what a step may read where (loops, branches, references) and of
``when`` (a boolean, statically where it can be, at run time where it cannot)."""

from __future__ import annotations

import pytest
from flow_problems import flow, problems_of
from hypothesis import given
from hypothesis import strategies as st
from relay_widgets import WidgetsPlugin

from runtime import Runtime


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)


# --- references that cannot work at run time ------------------------------------------------

LOOP = """\
  - id: each
    for_each: ${{ [1, 2] }}
    steps:
      - id: inner
        action: widgets.echo
        inputs: {text: "${{ item }} ${{ steps.each.count }}"}
  - id: after
    action: widgets.echo
    inputs: {text: "${{ steps.inner.data.text }} ${{ index }}"}
"""

BRANCH = """\
  - id: route
    branch:
      - when: ${{ steps.route.branch == "a" }}
        steps:
          - id: left
            action: widgets.echo
            inputs: {text: "${{ steps.route.branch }}"}
      - when: ${{ true }}
        steps:
          - id: right
            action: widgets.echo
            inputs: {text: "${{ steps.left.data.text }}"}
    else:
      - id: other
        action: widgets.echo
        inputs: {text: "${{ steps.other.data }} ${{ steps.right.data }}"}
  - id: last
    action: widgets.echo
    inputs: {text: "${{ steps.left.data.text }} ${{ steps.route.branch }}"}
"""


def test_loop_scoping(runtime: Runtime) -> None:
    assert problems_of(runtime, flow(LOOP)) == [
        "f.yaml:8:24: steps[0].steps[0].inputs.text: steps.each is set once the loop has "
        "finished; inside it, use item and index",
        "f.yaml:11:20: steps[1].inputs.text: index is only defined inside for_each",
        "f.yaml:11:20: steps[1].inputs.text: step 'inner' runs inside for_each 'each': "
        "outside it, read steps.each.results",
    ]


def test_branch_scoping(runtime: Runtime) -> None:
    # a case's steps see the branch's own output ({branch}); steps after the branch see the
    # steps of whichever case ran; a case never sees another case's steps
    assert problems_of(runtime, flow(BRANCH)) == [
        "f.yaml:5:15: steps[0].branch[0].when: a step cannot read its own output (steps.route)",
        "f.yaml:14:28: steps[0].branch[1].steps[0].inputs.text: step 'left' is in another "
        "case of branch 'route' (only one case runs)",
        "f.yaml:18:24: steps[0].else[0].inputs.text: a step cannot read its own output "
        "(steps.other)",
        "f.yaml:18:24: steps[0].else[0].inputs.text: step 'right' is in another case of "
        "branch 'route' (only one case runs)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "${{ state.flows.count }}",
            "state has execution, flow, cross_flow and integration, not 'flows' "
            "(did you mean 'flow'?)",
        ),
        ("${{ stpes.a }}", "unknown variable 'stpes' (did you mean 'steps'?)"),
        ("${{ steps.frist.data }}", "reference to unknown step 'frist' (did you mean 'first'?)"),
        (
            "${{ config.organisation }}",
            "reference to unknown config variable 'organisation' (did you mean 'organization'?)",
        ),
        ("${{ [1].map(item, item + 1) }}", None),  # a macro's own variable is not the loop's
        ('${{ "config.nope state.nope" }}', None),  # string literals are not references
    ],
)
def test_reference_checks(runtime: Runtime, text: str, expected: str | None) -> None:
    head = "config:\n  organization: {type: string}\n"
    steps = (
        "  - {id: first, action: widgets.echo, inputs: {text: x}}\n"
        f"  - {{id: second, action: widgets.echo, inputs: {{text: '{text}'}}}}\n"
    )
    if expected is None:
        runtime.load_flow_text(flow(steps, head))
        return
    found = problems_of(runtime, flow(steps, head))
    assert [p.split(": ", 2)[2] for p in found] == [expected]


# --- when -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ('"yes"', "'yes' is not true, false or one ${{ expression }}"),
        ("1", "1 is not true, false or one ${{ expression }}"),
        ("${{ 1 }}", "is always 1, not true or false"),
        ('${{ "yes" }}', "is always 'yes', not true or false"),
        (
            '"${{ true }} and ${{ true }}"',
            "is text with expressions in it, always a string: write one ${{ expression }}",
        ),
    ],
)
def test_a_non_boolean_when_is_a_problem(runtime: Runtime, when: str, expected: str) -> None:
    found = problems_of(
        runtime,
        flow(f"  - id: a\n    action: widgets.echo\n    inputs: {{text: x}}\n    when: {when}\n"),
    )
    assert found == [f"f.yaml:6:11: steps[0].when: {expected}"]


def test_a_literal_boolean_when_is_valid(runtime: Runtime) -> None:
    loaded = runtime.load_flow_text(
        flow(
            "  - {id: a, action: widgets.echo, inputs: {text: x}, when: false}\n"
            "  - id: b\n    branch:\n      - {when: true, steps: [{id: c, action: widgets.fail}]}\n"
        )
    )
    assert loaded.steps[0].when is not None  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_when_that_evaluates_to_a_non_boolean_fails_the_step(rt: Runtime) -> None:
    loaded = rt.load_flow_text(
        flow(
            "  - {id: a, action: widgets.echo, inputs: {text: x}, when: '${{ trigger.flag }}'}\n"
            "  - {id: b, action: widgets.echo, inputs: {text: x}, when: '${{ trigger.on }}'}\n"
        )
    )
    result = await rt.run(loaded, payload={"flag": "yes", "on": False})
    assert result.status == "failed"
    assert [(s.id, s.status) for s in result.steps] == [("a", "failed")]
    message = str(result.steps[0].error)
    assert "when" in message and "true or false" in message and "string" in message


@pytest.mark.asyncio
async def test_a_branch_case_when_that_is_not_boolean_fails_the_branch(rt: Runtime) -> None:
    loaded = rt.load_flow_text(
        flow(
            "  - id: b\n    branch:\n      - when: ${{ trigger.n }}\n"
            "        steps: [{id: c, action: widgets.echo, inputs: {text: x}}]\n"
        )
    )
    result = await rt.run(loaded, payload={"n": 1})
    assert result.status == "failed"
    assert "true or false" in str(result.steps[0].error)


WHEN_RUNTIME = Runtime(plugins=[WidgetsPlugin()], load_entry_points=False)
WHEN_FLOW = WHEN_RUNTIME.load_flow_text(
    flow("  - {id: a, action: widgets.echo, inputs: {text: x}, when: '${{ trigger.v }}'}\n")
)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)


@given(any_json)
def test_a_when_runs_its_step_on_true_only_and_fails_it_on_a_non_boolean(value: object) -> None:
    result = WHEN_RUNTIME.run_sync(WHEN_FLOW, payload={"v": value})
    [record] = result.steps
    if value is True:
        assert (result.status, record.status) == ("completed", "completed")
    elif value is False:
        assert (result.status, record.status) == ("completed", "skipped")
    else:
        assert (result.status, record.status) == ("failed", "failed")
        assert "when must give true or false" in str(record.error)
