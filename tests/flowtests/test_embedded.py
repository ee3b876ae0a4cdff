"""A flow's own ``tests:`` section: the same cases as a test file's, in the flow's file, found
by ``relay test`` and by the pytest plugin, checked with the same places."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flowtest_support import EMBEDDED as FLOW
from flowtest_support import Write

from runtime import FlowError, Runtime
from runtime.cli import cli
from runtime.flowtests import Session


def test_a_flow_with_tests_still_loads_as_a_flow(write: Write) -> None:
    path = write("embedded.yaml", FLOW)
    flow = Runtime().load_flow(path)
    assert [s.id for s in flow.steps] == ["say"]


def test_relay_test_finds_and_runs_a_flow_s_own_tests(write: Write) -> None:
    path = write("embedded.yaml", FLOW)
    result = CliRunner().invoke(cli, ["test", str(path.parent), "--cov-fail-under", "100"])
    assert result.exit_code == 0, result.output
    assert f"PASSED {path}::says hello" in result.output
    assert f"PASSED {path}::says what it is told to" in result.output
    assert f"PASSED {path.parent / 'tests'}" not in result.output  # the tally flow has none


def test_problems_of_a_flow_s_tests_are_placed_in_the_flow(write: Write) -> None:
    path = write(
        "embedded.yaml",
        FLOW.replace(
            "expect: [steps.say.output.data == 'hello Ann']", "expect: [stpes.say == 1]"
        ).replace("    config: {greeting: hi}\n", "    confg: {greeting: hi}\n"),
    )
    with pytest.raises(FlowError) as caught:
        Session().load(str(path))
    found = [str(p) for p in caught.value.problems]
    assert f"{path}:14:5: tests[1]: unknown key 'confg' (did you mean 'config'?)" in found
    assert any(
        p.startswith(f"{path}:11:14: tests[0].expect[0]: assertion 'stpes.say == 1': unknown name")
        for p in found
    ), found
    assert len(found) == 2


def test_a_broken_flow_s_tests_report_the_flow_s_problems(write: Write) -> None:
    path = write("embedded.yaml", FLOW.replace("action: relay.value", "action: relay.valu"))
    with pytest.raises(FlowError) as caught:
        Session().load(str(path))
    (only,) = [str(p) for p in caught.value.problems]
    assert (
        only
        == f"{path}:6:13: steps[0].action: component 'relay' has no action 'valu' (did you mean 'value'?)"
    )
