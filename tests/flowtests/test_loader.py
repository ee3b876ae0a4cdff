"""Bad test files: every problem with its FILE:LINE:COL, never a traceback."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from flowtest_support import FLOWS, Write
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import FlowError, Runtime
from runtime.flowtests import Session
from runtime.flowtests.loader import load_test_text
from runtime.registry import Registry
from runtime.schemas import load_schema


def problems(path: Path) -> list[str]:
    with pytest.raises(FlowError) as caught:
        Session().load(str(path))
    return [str(p) for p in caught.value.problems]


def test_the_schema_is_published_and_valid() -> None:
    from jsonschema import Draft202012Validator

    schema = load_schema("flowtest")
    Draft202012Validator.check_schema(schema)
    assert (FLOWS.parent / "schemas" / "flowtest.schema.json").read_text() == (
        FLOWS.parent / "runtime" / "bundled_schemas" / "flowtest.schema.json"
    ).read_text()


def test_structure_problems_each_at_its_place(write: Write) -> None:
    path = write(
        "tests/test_bad.yaml",
        """\
        flow: ../flow.yaml
        casse: []
        cases:
          - name: one
            payload: {items: []}
            expect:
              - 7
            fixtures:
              - step: items
                outptu: 1
          - payload: {}
        """,
    )
    found = problems(path)
    assert f"{path}:2:1: unknown key 'casse' (did you mean 'cases'?)" in found
    assert f"{path}:7:9: cases[0].expect[0]: 7 is not a string or a mapping" in found
    assert (
        f"{path}:10:9: cases[0].fixtures[0]: unknown key 'outptu' (did you mean 'output'?)" in found
    )
    assert f"{path}:11:5: cases[1]: missing required key 'name'" in found
    assert len(found) == 5, found


def test_references_to_the_flow_are_checked(write: Write) -> None:
    path = write(
        "tests/test_bad.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: one
            payload: {items: []}
            fixtures:
              - step: itemz
                output: 1
              - step: items
              - step: items
                output: 1
                error: {message: no}
              - request: GET /x
                output: 1
              - step: items
                status: 500
                output: 1
              - output: 1
            expect:
              - stpes.items.status == 'completed'
              - status ==
              - steps.items.output.data.map(x, x + 1) == [] && outputs.size() == 2
          - name: one
            payload: {}
            scenario: [{book: {}}]
        """,
    )
    found = problems(path)
    expected = [
        f"{path}:6:15: cases[0].fixtures[0].step: the flow has no step 'itemz' (did you mean 'items'?)",
        f"{path}:8:9: cases[0].fixtures[1]: a step fixture has one of output or error",
        f"{path}:9:9: cases[0].fixtures[2]: a step fixture has one of output or error",
        f"{path}:13:9: cases[0].fixtures[3]: 'output' belongs to a step fixture, not a request's",
        f"{path}:15:9: cases[0].fixtures[4]: 'status' belongs to a request fixture, not a step's",
        f"{path}:17:9: cases[0].fixtures[5]: a fixture has one of step (with output or error) or request (METHOD /path)",
        f"{path}:22:11: cases[1].name: a second case named 'one' (the first: {path}:3:11)",
    ]
    for line in expected:
        assert line in found, found
    assert any(
        p.startswith(f"{path}:19:9: cases[0].expect[0]: assertion")
        and "unknown name 'stpes' (did you mean 'steps'?)" in p
        for p in found
    ), found
    assert any(
        p.startswith(f"{path}:20:9: cases[0].expect[1]: assertion 'status ==': syntax error")
        for p in found
    )
    assert not any("expect[2]" in p for p in found)  # a macro's variable is not unknown
    assert len(found) == 9, found


def test_a_missing_or_broken_flow_is_reported_with_the_flow_s_own_problems(write: Write) -> None:
    missing = write("tests/test_missing.yaml", "flow: ../nowhere.yaml\ncases: [{name: a}]\n")
    assert problems(missing) == [
        f"{missing}:1:7: flow: no flow file '../nowhere.yaml' (looked for {missing.parent.parent / 'nowhere.yaml'})"
    ]
    broken = write("broken.yaml", "name: broken\nsteps:\n  - id: a\n    action: relay.nope\n")
    path = write("tests/test_broken.yaml", "flow: ../broken.yaml\ncases: [{name: a}]\n")
    found = problems(path)
    assert found == [
        f"{path}:1:7: flow: the flow '../broken.yaml' does not load (1 problem(s) follow)",
        f"{broken}:4:13: steps[0].action: component 'relay' has no action 'nope'",
    ]
    assert broken.is_file()


def test_scenarios_are_checked_against_the_sandbox_s_vocabulary(write: Write) -> None:
    path = write(
        "tests/test_bad.yaml",
        f"""\
        flow: {FLOWS / "booking-follow-up.yaml"}
        cases:
          - name: one
            scenario:
              - bok: {{}}
              - book: {{email: 7, colour: red}}
              - fail_next: {{times: 0}}
              - book: {{}}
                cancel: {{}}
            payload: {{}}
        """,
    )
    assert problems(path) == [
        f"{path}:4:5: cases[0]: a case has one of payload, payload_file, scenario; this one has payload and scenario",
        f"{path}:5:9: cases[0].scenario[0]: unknown scenario action 'bok' (did you mean 'book'?) (known: book, break_calendar, cancel, fail_next, mend_calendar, no_show, reschedule, set_plan, submit_routing_form)",
        f"{path}:6:15: cases[0].scenario[1].book: unknown key 'colour'",
        f"{path}:6:23: cases[0].scenario[1].book.email: 7 is not a string",
        f"{path}:7:20: cases[0].scenario[2].fail_next: missing required key 'status'",
        f"{path}:7:28: cases[0].scenario[2].fail_next.times: 0 is less than the minimum of 1",
        f"{path}:8:9: cases[0].scenario[3]: a scenario step is one action; this one has book and cancel",
    ]


def test_a_scenario_needs_a_sandbox_and_a_webhook_trigger(write: Write) -> None:
    path = write(
        "tests/test_bad.yaml",
        """\
        flow: ../flow.yaml
        sandbox: calendy
        cases:
          - name: one
            scenario: [{book: {}}]
        """,
    )
    found = problems(path)
    assert (
        f"{path}:2:10: sandbox: no test sandbox 'calendy' (did you mean 'calendly'?) (offered: calendly)"
        in found
    )
    assert any(
        p.startswith(f"{path}:5:15: cases[0].scenario: a scenario needs a test sandbox")
        for p in found
    )
    path = write(
        "tests/test_bad2.yaml",
        "flow: ../flow.yaml\nsandbox: calendly\ncases:\n  - name: one\n    scenario: [{book: {}}]\n",
    )
    assert problems(path) == [
        f"{path}:5:15: cases[0].scenario: a scenario starts runs by webhook: this flow's trigger receives none (give a payload)"
    ]


def test_yaml_and_payload_file_problems_have_places(write: Write) -> None:
    path = write("tests/test_bad.yaml", "flow: ../flow.yaml\ncases:\n  - name: [\n")
    (only,) = problems(path)
    assert only.startswith(f"{path}:") and "YAML syntax error" in only
    path = write("tests/test_list.yaml", "- 1\n")
    assert problems(path) == [f"{path}:1:1: a flow test file must be a mapping"]
    write("bad.json", '{"a": 1, "a": 2}')
    path = write(
        "tests/test_payload.yaml",
        "flow: ../flow.yaml\ncases:\n  - name: a\n    payload_file: ../bad.json\n  - name: b\n    payload_file: ../none.json\n",
    )
    found = problems(path)
    assert (
        f"{path}:4:19: cases[0].payload_file: '../bad.json' does not parse (1 problem(s) follow)"
        in found
    )
    assert any(
        p.startswith(f"{path.parent.parent / 'bad.json'}:1:10:") and "duplicate key 'a'" in p
        for p in found
    )
    assert any(
        p.startswith(f"{path}:6:19: cases[1].payload_file: '../none.json': cannot read")
        for p in found
    )


@functools.cache
def _registry() -> Registry:
    return Runtime().registry


_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "flow",
                    "cases",
                    "name",
                    "payload",
                    "scenario",
                    "fixtures",
                    "expect",
                    "step",
                    "output",
                    "error",
                    "request",
                    "that",
                    "snapshot",
                    "config",
                    "book",
                    "state",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(_VALUES)
def test_any_document_loads_or_is_a_flow_error(value: object) -> None:
    import json

    registry = _registry()
    try:
        load_test_text(
            json.dumps(value), str(FLOWS / "tests" / "x.yaml"), registry, {"calendly": {}}
        )
    except FlowError as exc:
        assert exc.problems
        assert all(p.file and p.line >= 1 for p in exc.problems)
