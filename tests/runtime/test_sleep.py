"""relay.sleep: `seconds` or `until` (exactly one), in memory without a store; any `until`
value either waits until then (a past time: not at all) or fails the step naming the input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runtime import Runtime
from runtime.clock import ManualClock

FLOW = """\
name: nap
steps:
  - id: nap
    action: relay.sleep
    inputs: {INPUTS}
"""

NOW = 1_800_000_000.0


def _run(inputs: str, payload: Any = None) -> tuple[Any, ManualClock]:
    clock = ManualClock(now=NOW)
    rt = Runtime(clock=clock)
    flow = rt.load_flow_text(FLOW.replace("{INPUTS}", inputs))
    return rt.run_sync(flow, payload=payload), clock


def test_seconds_wait_on_the_clock_in_memory() -> None:
    result, clock = _run("{seconds: 7200}")
    assert result.status == "completed" and clock.slept == [7200.0]
    assert result.outputs["nap"] == {"data": 7200.0}


def test_until_an_iso_time_waits_until_then() -> None:
    at = datetime.fromtimestamp(NOW + 90, tz=UTC).isoformat().replace("+00:00", "Z")
    result, clock = _run('{until: "${{ trigger.at }}"}', {"at": at})
    assert result.status == "completed" and clock.slept == [90.0]


def test_until_unix_seconds_in_the_past_does_not_wait() -> None:
    result, clock = _run('{until: "${{ trigger.at }}"}', {"at": NOW - 5})
    assert result.status == "completed" and clock.slept == [0.0]


def test_neither_or_both_is_one_error_naming_the_inputs() -> None:
    for inputs in ("{}", "{seconds: 1, until: 5}"):
        result, _ = _run(inputs)
        assert result.status == "failed"
        assert result.error is not None
        assert "give `seconds` or `until`" in str(result.error["problems"])


def test_a_local_time_without_its_offset_is_refused() -> None:
    result, _ = _run('{until: "2027-01-01T09:00:00"}')
    assert result.status == "failed" and result.error is not None
    assert result.error["problems"][0]["path"] == "inputs.until"


@given(until=st.one_of(st.text(max_size=40), st.floats(allow_nan=False, allow_infinity=False)))
def test_any_until_waits_or_fails_naming_the_input(until: Any) -> None:
    result, clock = _run('{until: "${{ trigger.at }}"}', {"at": until})
    if result.status == "completed":
        assert len(clock.slept) == 1 and 0.0 <= clock.slept[0] <= 366 * 86400
    else:
        assert result.error is not None
        assert result.error["step"] == "nap"
        paths = [p["path"] for p in result.error.get("problems", [])]
        assert paths and all("until" in p for p in paths), result.error
