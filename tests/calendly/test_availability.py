"""Availability actions against the sandbox (unpaginated collections)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from calendly_support import api_calls, check_output

from components.calendly.actions import availability
from components.calendly.sandbox import Sandbox
from runtime import ConnectionHandle, FatalApiError, InputValidationError, Runtime


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def next_week() -> tuple[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return iso(start), iso(start + timedelta(days=6))


def owners_event_type(sandbox: Sandbox) -> Any:
    return next(
        e
        for e in sandbox.state.event_types.values()
        if e.active and e.host_uuids == [sandbox.owner.uuid]
    )


@pytest.mark.asyncio
async def test_event_type_available_times(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    start, end = next_week()
    et = owners_event_type(sandbox)
    out = await runtime.invoke_action(
        "calendly.listEventTypeAvailableTimes",
        {"connection": connection, "eventType": et.uuid, "startTime": start, "endTime": end},
    )
    check_output(availability.LIST_AVAILABLE_TIMES, out)
    assert out["data"]["collection"]
    assert all(slot["status"] == "available" for slot in out["data"]["collection"])
    (call,) = api_calls(sandbox)
    assert call["path"] == "/event_type_available_times"
    assert call["query"] == {
        "event_type": f"{sandbox.config.base_url}/event_types/{et.uuid}",
        "start_time": start,
        "end_time": end,
    }


@pytest.mark.asyncio
async def test_busy_times_send_snake_case_range(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    """The range goes out as start_time/end_time, not startTime/endTime."""
    start, end = next_week()
    booked = sandbox.book(
        owners_event_type(sandbox).uuid,
        datetime.now(UTC) + timedelta(days=2),
        email="busy@example.org",
    )
    out = await runtime.invoke_action(
        "calendly.listUserBusyTimes",
        {
            "connection": connection,
            "user": sandbox.user_uri(sandbox.owner),
            "startTime": start,
            "endTime": end,
        },
    )
    check_output(availability.LIST_BUSY_TIMES, out)
    assert booked["event"] in [b["event"]["uri"] for b in out["data"]["collection"]]
    (call,) = api_calls(sandbox)
    assert call["path"] == "/user_busy_times"
    assert call["query"] == {
        "user": sandbox.user_uri(sandbox.owner),
        "start_time": start,
        "end_time": end,
    }


@pytest.mark.asyncio
async def test_range_over_seven_days_is_refused_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(InputValidationError) as caught:
        await runtime.invoke_action(
            "calendly.listUserBusyTimes",
            {
                "connection": connection,
                "user": sandbox.owner.uuid,
                "startTime": iso(start),
                "endTime": iso(start + timedelta(days=8)),
            },
        )
    assert [p.path for p in caught.value.problems] == ["$.endTime"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_an_unreadable_calendar_is_a_424_with_calendlys_words(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    start, end = next_week()
    sandbox.set_calendar_error(sandbox.owner.uuid, True)
    inputs = {"connection": connection, "user": sandbox.owner.uuid, "startTime": start}
    with pytest.raises(FatalApiError) as caught:
        await runtime.invoke_action("calendly.listUserBusyTimes", {**inputs, "endTime": end})
    assert caught.value.status == 424
    assert caught.value.title == "External Calendar Error"
    assert "accessing your calendar" in str(caught.value)
    assert not caught.value.retriable  # it needs the user to reconnect their calendar
    assert len(api_calls(sandbox, "/user_busy_times")) == 1  # not retried by the client
    sandbox.set_calendar_error(sandbox.owner.uuid, False)
    out = await runtime.invoke_action("calendly.listUserBusyTimes", {**inputs, "endTime": end})
    check_output(availability.LIST_BUSY_TIMES, out)


@pytest.mark.asyncio
async def test_times_are_checked_before_any_request(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    with pytest.raises(InputValidationError) as caught:
        await runtime.invoke_action(
            "calendly.listUserBusyTimes",
            {
                "connection": connection,
                "user": sandbox.owner.uuid,
                "startTime": "tomorrow",
                "endTime": "2021-13-45",
            },
        )
    assert sorted(p.path for p in caught.value.problems) == ["$.endTime", "$.startTime"]
    assert api_calls(sandbox) == []


@pytest.mark.asyncio
async def test_list_availability_schedules(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    out = await runtime.invoke_action(
        "calendly.listUserAvailabilitySchedules",
        {"connection": connection, "user": sandbox.owner.uuid},
    )
    check_output(availability.LIST_SCHEDULES, out)
    names = {s["name"] for s in out["data"]["collection"]}
    assert names == {"Working Hours", "Evening Hours"}
    (call,) = api_calls(sandbox)
    assert call["query"] == {"user": sandbox.user_uri(sandbox.owner)}


@pytest.mark.asyncio
async def test_get_availability_schedule_by_uri(
    runtime: Runtime, connection: ConnectionHandle, sandbox: Sandbox
) -> None:
    sched = next(iter(sandbox.state.schedules.values()))
    uri = f"{sandbox.config.base_url}/user_availability_schedules/{sched.uuid}"
    out = await runtime.invoke_action(
        "calendly.getUserAvailabilitySchedule", {"connection": connection, "uuid": uri}
    )
    check_output(availability.GET_SCHEDULE, out)
    assert out["data"]["resource"]["uri"] == uri
    assert [r["path"] for r in api_calls(sandbox)] == [f"/user_availability_schedules/{sched.uuid}"]
