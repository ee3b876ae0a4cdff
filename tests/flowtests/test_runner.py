"""Running cases: payload starts, CEL assertions over status, steps, branches, loops, state and
requests; failures that show the assertion, the values it saw and the steps."""

from __future__ import annotations

import asyncio

import pytest
from flowtest_support import FLOWS, Write, run_file

from runtime.flowtests import CaseResult, Session
from runtime.flowtests.explain import explain, split_top
from runtime.flowtests.report import failure_text
from runtime.flowtests.runner import read_snapshots


def test_assertions_read_status_steps_branches_loops_and_state(write: Write) -> None:
    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: many
            payload: {items: [1, 2, 3, 4]}
            expect:
              - status == 'completed'
              - branches.pick == 'many'
              - loops.each == 4
              - steps['each[2].double'].output.data == 6
              - steps.double.output.data == 8
              - state.flow.seen == 4
              - steps.risky.status == 'completed' && steps.risky.output.data == 4
              - outputs.items.data == [1, 2, 3, 4]
              - trigger.items.size() == 4 && runs.size() == 1
              - requests.size() == 0
          - name: few
            payload: {items: [5]}
            expect:
              - branches.pick == 'else'
              - steps.few.output.data == 'few'
              - "!('remember' in steps)"
              - steps.risky.status == 'failed'
              - steps.risky.error.message.contains('index')
              - status == 'completed'
        """,
    )
    results = run_file(path)
    assert [(r.name, r.outcome) for r in results] == [("many", "passed"), ("few", "passed")], [
        failure_text(r) for r in results
    ]


def test_a_failed_assertion_names_itself_its_place_the_values_and_the_steps(write: Write) -> None:
    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: wrong
            payload: {items: [1]}
            expect:
              - status == 'completed'
              - branches.pick == 'many' && loops.each == 1
              - that: steps.few.output.data == 'lots'
                message: the else step says how many
        """,
    )
    (result,) = run_file(path)
    assert result.outcome == "failed"
    first, second = result.failures
    assert first.assertion == "branches.pick == 'many' && loops.each == 1"
    assert first.place == f"{path}:7:9"
    assert first.seen == [
        "failed: branches.pick == 'many'",
        '  branches.pick gave "else"',
        "  expected: branches.pick == 'many'",
    ]
    assert second.message == "the else step says how many"
    assert '  steps.few.output.data gave "few"' in second.seen
    text = failure_text(result)
    assert f"{path}:7:9: assertion" in text
    assert "pick.else.few" in text and "risky" in text and "failed" in text


def test_an_assertion_that_cannot_be_evaluated_or_is_not_boolean_fails(write: Write) -> None:
    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: odd
            payload: {items: [1]}
            expect:
              - steps.nothere.output == 1
              - loops.each
        """,
    )
    (result,) = run_file(path)
    messages = [f.message for f in result.failures]
    assert messages[0].startswith("could not be evaluated:") and "nothere" in messages[0]
    assert messages[1] == "gave 1, not true"


def test_a_run_that_fails_names_the_step_in_the_report(write: Write) -> None:
    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: not a list
            payload: {items: 7}
            expect:
              - status == 'completed'
        """,
    )
    (result,) = run_file(path)
    assert result.outcome == "failed"
    assert result.run_error is not None and result.run_error["step"] == "each"
    assert "the run failed at step each: " in failure_text(result)


def test_state_before_the_run_is_the_case_s(write: Write) -> None:
    flow = write(
        "counter.yaml",
        """\
        name: counter
        steps:
          - id: before
            action: relay.getState
            inputs: {scope: flow, key: n, default: 0}
          - id: bump
            action: relay.setState
            inputs: {scope: flow, key: n, value: "${{ steps.before.data + 1 }}"}
        """,
    )
    path = write(
        "tests/test_counter.yaml",
        f"""\
        flow: {flow}
        cases:
          - name: from 41
            state: {{flow: {{n: 41}}}}
            expect: [state.flow.n == 42]
        """,
    )
    session = Session()
    (result,) = run_file(path, session)
    assert result.ok, failure_text(result)
    (again,) = run_file(path, session)  # the run changed its state, not the case's
    assert again.ok, failure_text(again)


def test_config_of_the_file_and_the_case_are_laid_over_each_other(write: Write) -> None:
    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        config: {limit: 10}
        cases:
          - name: file config
            payload: {items: [1, 2, 3]}
            expect: [branches.pick == 'else', config.limit == 10]
          - name: case config
            payload: {items: [1, 2, 3]}
            config: {limit: 1}
            expect: [branches.pick == 'many']
          - name: a config value of the wrong type
            payload: {items: []}
            config: {limit: many}
            expect: [status == 'completed']
        """,
    )
    results = run_file(path)
    assert [r.outcome for r in results] == ["passed", "passed", "error"]
    assert "limit" in results[2].error and "Traceback" not in results[2].error


async def _with_snapshots(session: Session, path: str) -> list[CaseResult]:
    loaded = session.load(path)
    snapshots = read_snapshots(path)
    return [await session.run(loaded, c, snapshots.get(c.name, {})) for c in loaded.cases]


def test_the_shipped_cases_pass_with_their_snapshots() -> None:
    session = Session()
    files = sorted((FLOWS / "tests").glob("test_*.yaml"))
    assert len(files) == 3
    for path in files:
        for result in asyncio.run(_with_snapshots(session, str(path))):
            assert result.ok, failure_text(result)


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("a && b", ["a", "b"]),
        ("f(a && b) && c", ["f(a && b)", "c"]),
        ("'x && y' == s && t", ["'x && y' == s", "t"]),
        ("[a && b]", ["[a && b]"]),
    ],
)
def test_conjuncts_split_only_at_the_top_level(source: str, parts: list[str]) -> None:
    assert split_top(source, "&&") == parts


def test_explain_shows_both_sides_of_a_comparison_but_not_literals() -> None:
    scope = {"steps": {"a": {"n": 3}}, "loops": {"x": 2}}
    assert explain("steps.a.n == loops.x", scope) == [
        "  steps.a.n gave 3",
        "  loops.x gave 2",
        "  expected: steps.a.n == loops.x",
    ]
    assert explain("steps.a.n < 2", scope) == ["  steps.a.n gave 3", "  expected: steps.a.n < 2"]
    assert explain("!(steps.a.n == 3)", scope) == ["  !(steps.a.n == 3) gave false"]


def test_an_iterating_assertion_is_evaluated_within_the_budget(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime import expression_budget

    path = write(
        "tests/test_tally.yaml",
        """\
        flow: ../flow.yaml
        cases:
          - name: costly
            payload: {items: [1, 2, 3, 4, 5, 6, 7, 8]}
            expect:
              - steps.items.output.data.map(a, steps.items.output.data.map(b, steps.items.output.data.map(c, a + b + c))).size() == 8
              - steps.items.output.data.filter(x, x > 6).size() == 1
        """,
    )
    monkeypatch.setenv("RELAY_EXPRESSION_BUDGET", "10")
    monkeypatch.setenv("RELAY_EXPRESSION_TIME_LIMIT", "0.000001")
    expression_budget.current_budget.cache_clear()
    try:
        (result,) = run_file(path)
    finally:
        expression_budget.current_budget.cache_clear()
    (first, second) = result.failures
    assert "exceeded its evaluation budget" in first.message
    assert first.message.startswith(f"could not be evaluated: {path}:6:9: ")
    assert "exceeded its evaluation budget" in second.message
