"""Rules across inputs (scope and user, period type and dates, a time window) and values
Calendly refuses: checked before any request, against the sandbox, which must see none."""

from __future__ import annotations

from typing import Any

import pytest
from calendly_support import api_calls

from components.calendly.component import build_component
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, InputValidationError, Runtime


async def _refused(
    runtime: Runtime, sandbox: Sandbox, ref: str, inputs: dict[str, Any], key: str
) -> str:
    with pytest.raises(InputValidationError) as caught:
        await runtime.invoke_action(ref, inputs)
    paths = [p.path for p in caught.value.problems]
    assert f"$.{key}" in paths, paths
    assert api_calls(sandbox) == [], "refused before any request"
    return str(next(p for p in caught.value.problems if p.path == f"$.{key}"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "ref",
    ["createWebhookSubscription", "listWebhookSubscription", "deleteInstancedWebhooks"],
)
async def test_user_scope_needs_a_user(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox, ref: str
) -> None:
    inputs = {
        "connection": connection,
        "organization": sandbox.org_uri(),
        "scope": "user",
        "url": "https://relay.example.com/hook",
        "event": ["invitee.created"],
        "webhookUrls": ["https://relay.example.com/hook"],
    }
    action = build_component().action(ref)
    assert action is not None
    declared = {i.key for i in action.inputs}
    message = await _refused(
        runtime,
        sandbox,
        f"calendly.{ref}",
        {k: v for k, v in inputs.items() if k in declared},
        "user",
    )
    assert "scope is 'user'" in message


@pytest.mark.asyncio
async def test_the_webhook_trigger_with_user_scope_needs_a_user(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    inputs = {
        "connection": connection,
        "eventNamesInput": ["invitee.created"],
        "organization": sandbox.org_uri(),
        "scope": "user",
    }
    with pytest.raises(InputValidationError) as caught:
        await runtime.deploy_trigger(
            "calendly.calendlyTrigger", inputs, webhook_url="https://relay.example.com/h"
        )
    assert [p.path for p in caught.value.problems] == ["$.user"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("period", "given", "missing"),
    [
        ("fixed", {"startDate": "2030-01-02"}, "endDate"),
        ("fixed", {"endDate": "2030-01-09"}, "startDate"),
        ("moving", {}, "maxBookingTime"),
        ("available_moving", {}, "maxBookingTime"),
    ],
)
async def test_a_share_period_needs_its_dates(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    period: str,
    given: dict[str, Any],
    missing: str,
) -> None:
    event_type = next(iter(sandbox.state.event_types.values()))
    inputs = {"connection": connection, "eventType": event_type.uuid, "periodType": period}
    message = await _refused(runtime, sandbox, "calendly.createShare", {**inputs, **given}, missing)
    assert f"periodType is '{period}'" in message


@pytest.mark.asyncio
@pytest.mark.parametrize("ref", ["listUserBusyTimes", "listEventTypeAvailableTimes"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2030-01-10T00:00:00Z", "2030-01-09T00:00:00Z"),  # ends before it starts
        ("2030-01-01T00:00:00Z", "2030-01-08T00:00:01Z"),  # more than 7 days
    ],
)
async def test_a_time_window_is_at_most_seven_days_forward(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    ref: str,
    start: str,
    end: str,
) -> None:
    inputs: dict[str, Any] = {"connection": connection, "startTime": start, "endTime": end}
    if ref == "listUserBusyTimes":
        inputs["user"] = sandbox.owner.uuid
    else:
        inputs["eventType"] = next(iter(sandbox.state.event_types.values())).uuid
    await _refused(runtime, sandbox, f"calendly.{ref}", inputs, "endTime")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("ref", "inputs", "key"),
    [
        ("createShare", {"duration": 721}, "duration"),
        ("createShare", {"duration": "0"}, "duration"),
        ("createWebhookSubscription", {"url": "not a uri"}, "url"),
        ("createWebhookSubscription", {"url": "https://"}, "url"),
        ("createWebhookSubscription", {"event": ["invitee.rescheduled"]}, "event[0]"),
        ("listActivityLogEntries", {"sortList": ["occurred_at:up"]}, "sortList[0]"),
        ("listEvents", {"sort": "start_time:descending"}, "sort"),
    ],
)
async def test_refused_values_never_reach_the_sandbox(
    runtime: Runtime,
    connection: ConnectionHandle,
    sandbox: Sandbox,
    ref: str,
    inputs: dict[str, Any],
    key: str,
) -> None:
    bases: dict[str, dict[str, Any]] = {
        "createShare": {"eventType": next(iter(sandbox.state.event_types.values())).uuid},
        "createWebhookSubscription": {
            "url": "https://relay.example.com/hook",
            "event": ["invitee.created"],
            "organization": sandbox.org_uri(),
            "scope": "organization",
        },
        "listActivityLogEntries": {"organization": sandbox.org_uri()},
        "listEvents": {},
    }
    await _refused(
        runtime, sandbox, f"calendly.{ref}", {"connection": connection, **bases[ref], **inputs}, key
    )
