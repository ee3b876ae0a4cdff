"""Scheduled events and their invitees: list, get, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    CANCELLATION,
    EVENT,
    INVITEE,
    UUID_EXAMPLE,
    current_organization,
    email_input,
    filters,
    flagged,
    limit_of,
    list_output,
    org_ref,
    resource_output,
    time_input,
    user_ref,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, LIMIT, SORT_SCHEMA, uuid_input
from runtime import Action, ApiError, Choice, Input

if TYPE_CHECKING:
    from runtime import Context

_BY_CREATED = (
    "Order results by the created_at field and direction specified: ascending ('asc') or "
    "descending ('desc')"
)
_START_EXAMPLE = "2020-01-02T12:30:00.000000Z"


def status_input() -> Input:
    """Event and invitee status: Calendly knows only these two."""
    return Input(
        key="status",
        label="Status",
        example="active or canceled",
        comments="Indicates if the invitee 'canceled' or still 'active'",
        choices=(
            Choice(value="active", label="Active"),
            Choice(value="canceled", label="Canceled"),
        ),
    )


#: Filters shared by listEvents and the events data source.
EVENT_FILTERS: tuple[Input, ...] = (
    email_input(
        "inviteeEmail",
        "Invitee Email",
        example="alice@example.com",
        comments=("Return events scheduled with the invitee associated with this email address"),
    ),
    time_input(
        "maxStartTime",
        "Max Start Time",
        example=_START_EXAMPLE,
        comments="Include events with start times prior to this time",
    ),
    time_input(
        "minStartTime",
        "Min Start Time",
        example=_START_EXAMPLE,
        comments="Include events with start times after this time",
    ),
    org_ref(comments="Return events scheduled with the organization associated with this URI"),
    Input(key="sort", label="Sort", comments=_BY_CREATED, schema=SORT_SCHEMA),
    status_input(),
    user_ref(comments="Return events scheduled with the user associated with this URI"),
)

_EVENT_QUERY = {
    "inviteeEmail": "invitee_email",
    "maxStartTime": "max_start_time",
    "minStartTime": "min_start_time",
    "organization": "organization",
    "sort": "sort",
    "status": "status",
    "user": "user",
}


async def fetch_events(
    client: CalendlyClient, params: dict[str, Any], limit: int | None = None
) -> list[Any]:
    """Events matching the filters; with neither user nor organization, the current user's
    organization's (Calendly needs one of them)."""
    query = filters(
        client, params, _EVENT_QUERY, {"organization": "organizations", "user": "users"}
    )
    if "organization" not in query and "user" not in query:
        query["organization"] = await current_organization(client)
    return await client.paginate("/scheduled_events", query, limit=limit)


async def fetch_invitees(
    client: CalendlyClient, event_uuid: str, params: dict[str, Any], limit: int | None = None
) -> list[Any]:
    """Invitees of one event matching the optional email/sort/status filters."""
    query = filters(client, params, {"email": "email", "sort": "sort", "status": "status"})
    return await client.paginate(f"/scheduled_events/{event_uuid}/invitees", query, limit=limit)


async def list_events(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /scheduled_events``, every page."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await fetch_events(client, params, limit_of(params))}


async def get_event(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /scheduled_events/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/scheduled_events/{params['uuid']}")}


async def cancel_event(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /scheduled_events/{uuid}/cancellation`` (the reason only when given).

    Calendly answers 403 for an event that is already canceled (and for one in the past, or
    not the caller's to cancel). When the event turns out to be canceled, that is what the
    step wanted, so a repeat succeeds with the event's cancellation as it stands.
    """
    client = CalendlyClient(ctx, params["connection"])
    path = f"/scheduled_events/{params['uuid']}/cancellation"
    try:
        body = await client.post(path, {"reason": params.get("reason")})
    except ApiError as exc:
        if exc.status != 403:
            raise
        cancellation = await _cancellation_of(client, params["uuid"])
        if cancellation is None:
            raise
        return {"data": {"resource": cancellation}, "alreadyCanceled": True}
    return {"data": body, "alreadyCanceled": False}


async def _cancellation_of(client: CalendlyClient, uuid: str) -> dict[str, Any] | None:
    """The event's cancellation if it is canceled; ``None`` if it is not (or cannot be read:
    the refusal that led here is then the better error)."""
    try:
        event = (await client.get(f"/scheduled_events/{uuid}"))["resource"]
    except ApiError:
        return None
    cancellation = event.get("cancellation")
    if event.get("status") != "canceled" or not isinstance(cancellation, dict):
        return None
    return cancellation


async def list_invitees(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /scheduled_events/{uuid}/invitees``, every page."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await fetch_invitees(client, params["uuid"], params, limit_of(params))}


async def get_invitee(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /scheduled_events/{eventUuid}/invitees/{inviteeUuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    path = f"/scheduled_events/{params['eventUuid']}/invitees/{params['inviteeUuid']}"
    return {"data": await client.get(path)}


LIST_EVENTS = Action(
    key="listEvents",
    label="List Events",
    description="Returns a list of Events.",
    inputs=(CONNECTION, *EVENT_FILTERS, LIMIT),
    perform=list_events,
    read_only=True,
    output_schema=list_output(EVENT),
)

GET_EVENT = Action(
    key="getEvent",
    label="Get Event",
    description="Returns information about a specified Event.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE, data_source="events")),
    perform=get_event,
    read_only=True,
    output_schema=resource_output(EVENT),
)

CANCEL_EVENT = Action(
    key="cancelEvent",
    label="Cancel Event",
    description=(
        "Cancels specified event. An event that is already canceled is not an error: the "
        "result is its cancellation as it stands, with alreadyCanceled true."
    ),
    inputs=(
        CONNECTION,
        Input(
            key="reason",
            label="Reason",
            comments="The reason for canceling the event",
            schema={"maxLength": 10000},
        ),
        uuid_input(example=UUID_EXAMPLE, data_source="events"),
    ),
    perform=cancel_event,
    output_schema=flagged(resource_output(CANCELLATION), "alreadyCanceled"),
)

LIST_INVITEES = Action(
    key="listEventInvitees",
    label="List Event Invitees",
    description="Returns a list of Invitees for an event.",
    inputs=(
        CONNECTION,
        email_input(
            comments="Indicates if the results should be filtered by email address",
            example="bob@example.com",
        ),
        Input(key="sort", label="Sort", comments=_BY_CREATED, schema=SORT_SCHEMA),
        status_input(),
        uuid_input(example=UUID_EXAMPLE, data_source="events"),
        LIMIT,
    ),
    perform=list_invitees,
    read_only=True,
    output_schema=list_output(INVITEE),
)

GET_INVITEE = Action(
    key="getEventInvitee",
    label="Get Event Invitee",
    description="Returns information about a specified Invitee (person invited to an event).",
    inputs=(
        CONNECTION,
        uuid_input(
            "eventUuid",
            "Event UUID",
            comments="The event's unique identifier",
            data_source="events",
        ),
        uuid_input(
            "inviteeUuid",
            "Invitee UUID",
            comments="The invitee's unique identifier",
            data_source="selectEventInvitee",
        ),
    ),
    perform=get_invitee,
    read_only=True,
    output_schema=resource_output(INVITEE),
)

ACTIONS: tuple[Action, ...] = (LIST_EVENTS, GET_EVENT, CANCEL_EVENT, LIST_INVITEES, GET_INVITEE)
