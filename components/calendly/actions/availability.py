"""Availability: free slots of an event type, a user's busy times and schedules.

These three collections are not paginated: Calendly answers ``{"collection": [...]}`` and the
actions return it as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    AVAILABLE_TIME,
    BUSY_TIME,
    SCHEDULE,
    TIME_EXAMPLE_END,
    TIME_EXAMPLE_START,
    UUID_EXAMPLE,
    collection_output,
    ref_input,
    resource_output,
    time_input,
    user_ref,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, uuid_input
from components.calendly.rules import check, time_window
from runtime import Action, Input

if TYPE_CHECKING:
    from runtime import Context


def _range_inputs(suffix: str) -> tuple[Input, Input]:
    """``endTime``/``startTime`` as the reference declares them (wording differs by action)."""
    return (
        time_input(
            "endTime",
            "End Time",
            required=True,
            example=TIME_EXAMPLE_END,
            comments=f"End time of the requested availability range{suffix}",
        ),
        time_input(
            "startTime",
            "Start Time",
            required=True,
            example=TIME_EXAMPLE_START,
            comments=f"Start time of the requested availability range{suffix}",
        ),
    )


def _range(params: dict[str, Any]) -> dict[str, Any]:
    """Calendly's snake_case range (``start_time``/``end_time``; camelCase names are ignored)."""
    return {"start_time": params["startTime"], "end_time": params["endTime"]}


#: Calendly answers only windows that end after they start, at most a week later.
_WINDOW = time_window("startTime", "endTime", max_days=7)


async def list_available_times(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /event_type_available_times``."""
    check("listEventTypeAvailableTimes", params, _WINDOW)
    client = CalendlyClient(ctx, params["connection"])
    query = {"event_type": client.uri("event_types", params["eventType"]), **_range(params)}
    return {"data": await client.get("/event_type_available_times", query)}


async def list_busy_times(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /user_busy_times``."""
    check("listUserBusyTimes", params, _WINDOW)
    client = CalendlyClient(ctx, params["connection"])
    query = {"user": client.uri("users", params["user"]), **_range(params)}
    return {"data": await client.get("/user_busy_times", query)}


async def list_schedules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /user_availability_schedules``."""
    client = CalendlyClient(ctx, params["connection"])
    query = {"user": client.uri("users", params["user"])}
    return {"data": await client.get("/user_availability_schedules", query)}


async def get_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /user_availability_schedules/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/user_availability_schedules/{params['uuid']}")}


_SLOTS_END, _SLOTS_START = _range_inputs(".")

LIST_AVAILABLE_TIMES = Action(
    key="listEventTypeAvailableTimes",
    label="List Event Type Available Times",
    description=(
        "Returns a list of available times for an event type within a specified date range."
    ),
    inputs=(
        CONNECTION,
        _SLOTS_END,
        ref_input(
            "eventType",
            "Event Type",
            required=True,
            comments="The uri associated with the event type",
        ),
        _SLOTS_START,
    ),
    perform=list_available_times,
    read_only=True,
    output_schema=collection_output(AVAILABLE_TIME),
)

GET_SCHEDULE = Action(
    key="getUserAvailabilitySchedule",
    label="Get User Availability Schedule",
    description="This will return the availability schedule of the given UUID.",
    inputs=(
        CONNECTION,
        uuid_input(example=UUID_EXAMPLE, comments="The UUID of the availability schedule."),
    ),
    perform=get_schedule,
    read_only=True,
    output_schema=resource_output(SCHEDULE),
)

LIST_SCHEDULES = Action(
    key="listUserAvailabilitySchedules",
    label="List User Availability Schedules",
    description="Returns the availability schedules of the given user.",
    inputs=(CONNECTION, user_ref(required=True, comments="A URI reference to a user")),
    perform=list_schedules,
    read_only=True,
    output_schema=collection_output(SCHEDULE),
)

LIST_BUSY_TIMES = Action(
    key="listUserBusyTimes",
    label="List User Busy Times",
    description=(
        "Returns an ascending list of user internal and external scheduled events within a "
        "specified date range."
    ),
    inputs=(
        CONNECTION,
        *_range_inputs(""),
        user_ref(required=True, comments="The uri associated with the user"),
    ),
    perform=list_busy_times,
    read_only=True,
    output_schema=collection_output(BUSY_TIME),
)

ACTIONS: tuple[Action, ...] = (LIST_AVAILABLE_TIMES, GET_SCHEDULE, LIST_SCHEDULES, LIST_BUSY_TIMES)
