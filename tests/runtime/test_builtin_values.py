"""relay.value, relay.setState and relay.getState take values as they are: a string is a string."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from runtime import Runtime

FLOW = """\
name: values
config:
  text: {type: string}
steps:
  - id: literal
    action: relay.value
    inputs: {value: hello}
  - id: json_text
    action: relay.value
    inputs: {value: '{"a": 1}'}
  - id: structured
    action: relay.value
    inputs: {value: {a: [1, 2]}}
  - id: put
    action: relay.setState
    inputs: {scope: execution, key: k, value: "${{ config.text }}"}
  - id: got
    action: relay.getState
    inputs: {scope: execution, key: k}
  - id: fallback
    action: relay.getState
    inputs: {scope: execution, key: missing, default: "[1"}
"""


def _run(config: dict[str, Any]) -> Any:
    rt = Runtime()
    flow = rt.load_flow_text(FLOW)
    return rt.run_sync(flow, config=config)


def test_strings_stay_strings() -> None:
    result = _run({"text": "not json {"})
    assert result.status == "completed", result.error
    assert result.outputs["literal"] == {"data": "hello"}
    assert result.outputs["json_text"] == {"data": '{"a": 1}'}
    assert result.outputs["structured"] == {"data": {"a": [1, 2]}}
    assert result.outputs["got"] == {"data": "not json {"}
    assert result.outputs["fallback"] == {"data": "[1"}


@given(st.text(max_size=30))
def test_any_string_round_trips_through_state(text: str) -> None:
    result = _run({"text": text})
    assert result.status == "completed", result.error
    assert result.outputs["got"] == {"data": text}


def test_a_payload_object_with_a_connection_key_is_data() -> None:
    """Only a declared connection input binds a connection: a ``$connection`` key in a payload
    (a hostile sender's, say) is data like any other."""
    rt = Runtime()
    flow = rt.load_flow_text(
        "name: echo\nsteps:\n  - id: echo\n    action: relay.value\n"
        '    inputs: {value: "${{ trigger }}"}\n'
    )
    payload = {"$connection": "calendly", "nested": {"$connection": "x"}}
    result = rt.run_sync(flow, payload=payload)
    assert result.status == "completed", result.error
    assert result.outputs["echo"] == {"data": payload}
    assert result.steps[0].inputs == {"value": payload}
