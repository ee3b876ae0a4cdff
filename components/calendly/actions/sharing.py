"""Sharing actions: a customised share of an event type, and single-use scheduling links.

Neither can be made safe to repeat: Calendly can create shares and scheduling links but has no
endpoint to list or find them, so a repeat cannot tell whether an earlier attempt made one.
Their descriptions say so, and point at the step option that fails instead of repeating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from components.calendly.actions._common import (
    BOOL,
    INT,
    STR,
    STR_OR_NULL,
    Schema,
    obj,
    ref_input,
    resource_output,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION
from components.calendly.rules import check, required_when
from runtime import Action, Choice, Input

if TYPE_CHECKING:
    from runtime import Context

#: What a user reads about repeating these actions (after a crash the engine repeats a step).
NOT_REPEATABLE = (
    " Not safe to repeat: Calendly cannot find a {what} again, so a repeat of the step after a "
    "crash creates a second one. Give the step idempotent: false to have it failed instead of "
    "repeated."
)

#: The reference types these numbers as strings; flows may pass real integers too.
_WHOLE_NUMBER: dict[str, Any] = {"type": ["string", "integer"], "pattern": "^[0-9]+$", "minimum": 0}
_DATE: dict[str, Any] = {"format": "date"}
_FIXED_NOTE = "is required when period_type is 'fixed' Format: YYYY-MM-DD"


def _whole_number(value: Any) -> int:
    return int(value)


#: A share's duration in minutes: Calendly takes 1 to 720.
_DURATION: dict[str, Any] = {**_WHOLE_NUMBER, "minimum": 1, "maximum": 720}


def _duration(value: Any) -> int:
    # the schema's range covers integers only; a numeric string is checked here
    minutes = int(value)
    if not _DURATION["minimum"] <= minutes <= _DURATION["maximum"]:
        raise ValueError(f"must be {_DURATION['minimum']} to {_DURATION['maximum']} minutes")
    return minutes


#: The location kinds Calendly accepts in a share's location configurations.
LOCATION_KINDS: tuple[str, ...] = (
    "physical",
    "ask_invitee",
    "custom",
    "outbound_call",
    "inbound_call",
    "google_conference",
    "gotomeeting_conference",
    "microsoft_teams_conference",
    "webex_conference",
    "zoom_conference",
)
_LOCATION_TEXT = {"location": 255, "additional_info": 255, "phone_number": None}


def _location_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "must be an object"
    kind = item.get("kind")
    if kind is not None and kind not in LOCATION_KINDS:
        return f"kind {kind!r} is not one of {', '.join(LOCATION_KINDS)}"
    for key, most in _LOCATION_TEXT.items():
        text = item.get(key)
        if text is not None and (not isinstance(text, str) or (most and len(text) > most)):
            return f"{key} must be text" + (f" of at most {most} characters" if most else "")
    position = item.get("position")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool)):
        return "position must be an integer"
    return None


def _locations(value: Any) -> list[Any]:
    """Location configurations as Calendly accepts them (checked before any request)."""
    if not isinstance(value, list):
        raise ValueError("must be a JSON array of location objects")
    for n, item in enumerate(value):
        problem = _location_problem(item)
        if problem:
            raise ValueError(f"item {n}: {problem}")
    return value


#: Which dates a period type needs (Calendly refuses the share without them).
_PERIOD_RULES = (
    required_when("startDate", "periodType", ("fixed",)),
    required_when("endDate", "periodType", ("fixed",)),
    required_when("maxBookingTime", "periodType", ("moving", "available_moving")),
)


def _event_type_ref(key: str, label: str, *, comments: str, example: str | None = None) -> Input:
    """A required event type (URI or UUID), offered from the ``eventTypes`` picklist."""
    spec = ref_input(key, label, required=True, comments=comments, example=example)
    return attrs.evolve(spec, data_source="eventTypes")


SCHEDULING_LINK: Schema = obj(
    ("booking_url", "owner", "owner_type"),
    booking_url=STR,
    owner=STR,
    owner_type=STR,
)
SHARE: Schema = obj(
    ("scheduling_links", "share_override"),
    scheduling_links={"type": "array", "items": SCHEDULING_LINK},
    share_override=obj(
        (),
        name=STR,
        duration=INT,
        period_type=STR,
        start_date=STR_OR_NULL,
        end_date=STR_OR_NULL,
        max_booking_time={"type": ["integer", "null"]},
        hide_location=BOOL,
        location_configurations={"type": "array", "items": {"type": "object"}},
        availability_rule={"type": ["object", "null"]},
    ),
)

# Input key -> Calendly body field, for the share overrides sent as given.
_SHARE_FIELDS = {
    "name": "name",
    "duration": "duration",
    "periodType": "period_type",
    "startDate": "start_date",
    "endDate": "end_date",
    "maxBookingTime": "max_booking_time",
    "hideLocation": "hide_location",
    "locationConfigurations": "location_configurations",
    "availabilityRule": "availability_rule",
}


async def create_share(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /shares`` with the event type's URI and only the overrides that were set."""
    check("createShare", params, *_PERIOD_RULES)
    client = CalendlyClient(ctx, params["connection"])
    body: dict[str, Any] = {"event_type": client.uri("event_types", params["eventType"])}
    body.update({field: params.get(key) for key, field in _SHARE_FIELDS.items()})
    return {"data": await client.post("/shares", body)}


async def create_scheduling_link(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /scheduling_links`` for an event type (``max_event_count`` is always 1)."""
    client = CalendlyClient(ctx, params["connection"])
    body = {
        "max_event_count": params["maxEventCount"],
        "owner": client.uri("event_types", params["owner"]),
        "owner_type": params["ownerType"],
    }
    return {"data": await client.post("/scheduling_links", body)}


CREATE_SHARE = Action(
    key="createShare",
    label="Create Share",
    description=(
        "Allows you to create an endpoint for the Customize Once and Share feature."
        + NOT_REPEATABLE.format(what="share")
    ),
    inputs=(
        Input(
            key="availabilityRule",
            label="Availability Rule",
            type="code",
            comments="The availability rules and timezone (JSON object).",
            schema={"type": ["object", "string"]},
        ),
        CONNECTION,
        Input(
            key="duration",
            label="Duration",
            example="60",
            comments="Duration in minutes (1 to 720).",
            schema=_DURATION,
            clean=_duration,
        ),
        Input(
            key="endDate",
            label="End Date",
            comments=_FIXED_NOTE,
            example="2019-01-03",
            schema=_DATE,
        ),
        _event_type_ref(
            "eventType", "Event Type", comments="The uri associated with the event type"
        ),
        Input(
            key="hideLocation",
            label="Hide Location",
            type="boolean",
            default=False,
            comments=(
                "Determines if a location is hidden until invitee books a spot, only "
                "respected when there is a single custom location configured."
            ),
        ),
        Input(
            key="locationConfigurations",
            label="Location Configurations",
            type="code",
            comments="The locations offered (JSON array).",
            schema={"type": ["array", "string"]},
            clean=_locations,
        ),
        Input(
            key="maxBookingTime",
            label="Max Booking Time",
            example="300",
            comments=(
                "is required when period_type is 'moving' or 'available_moving'"
                "Required when period_type is 'moving' or 'available_moving'."
            ),
            schema=_WHOLE_NUMBER,
            clean=_whole_number,
        ),
        Input(
            key="name",
            label="Name",
            example="15 Minute Meeting",
            comments="The shared event's name.",
            schema={"maxLength": 55},
        ),
        Input(
            key="periodType",
            label="Period Type",
            comments="How far ahead invitees can book.",
            choices=(
                Choice(value="available_moving", label="Available moving"),
                Choice(value="moving", label="Moving"),
                Choice(value="fixed", label="Fixed"),
                Choice(value="unlimited", label="Unlimited"),
            ),
        ),
        Input(
            key="startDate",
            label="Start Date",
            comments=_FIXED_NOTE,
            example="2019-01-02",
            schema=_DATE,
        ),
    ),
    perform=create_share,
    output_schema=resource_output(SHARE),
)

CREATE_SCHEDULING_LINK = Action(
    key="createSingleUseSchedulingLink",
    label="Create Single-Use Scheduling Link",
    description=(
        "Creates a single-use scheduling link." + NOT_REPEATABLE.format(what="scheduling link")
    ),
    inputs=(
        CONNECTION,
        Input(
            key="maxEventCount",
            label="Max Event Count",
            required=True,
            example="1",
            comments="The max number of events that can be scheduled using this scheduling link.",
            # Calendly only accepts 1: refuse anything else before sending a request.
            schema={"type": ["string", "integer"], "enum": ["1", 1]},
            clean=_whole_number,
        ),
        _event_type_ref(
            "owner",
            "Owner",
            comments=(
                "A link to the resource that owns this Scheduling Link "
                "(currently, this is always an Event Type)."
            ),
            example="https://api.calendly.com/event_types/012345678901234567890",
        ),
        Input(
            key="ownerType",
            label="Owner Type",
            required=True,
            example="EventType",
            comments="Resource type (currently, this is always EventType).",
            choices=(Choice(value="EventType", label="Event Type"),),
        ),
    ),
    perform=create_scheduling_link,
    output_schema=resource_output(SCHEDULING_LINK),
)

ACTIONS: tuple[Action, ...] = (CREATE_SHARE, CREATE_SCHEDULING_LINK)
