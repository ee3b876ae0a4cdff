"""Compliance actions (Enterprise plan): the activity log and data deletion requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    STR,
    Schema,
    limit_of,
    list_output,
    obj,
    org_ref,
    time_input,
)
from components.calendly.client import CalendlyClient, to_uuid
from components.calendly.inputs import CONNECTION, LIMIT
from runtime import Action, Choice, Input

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime import Context

ACTIVITY_ENTRY: Schema = obj(
    ("uri", "occurred_at", "namespace", "action", "organization"),
    uri=STR,
    occurred_at=STR,
    namespace=STR,
    action=STR,
    organization=STR,
    fully_qualified_name=STR,
    actor=obj(
        (),
        uri=STR,
        type=STR,
        display_name=STR,
        alternative_identifier=STR,
        organization={"type": "object"},
        group={"type": "object"},
    ),
    details={"type": ["object", "null"]},
)
#: The sort values Calendly's activity log accepts (it refuses any other).
ACTIVITY_SORTS: tuple[str, ...] = tuple(
    f"{field}:{direction}"
    for field in ("action", "actor.display_name", "actor.uri", "namespace", "occurred_at")
    for direction in ("asc", "desc")
)
ACCEPTED_OUTPUT: Schema = obj(("data",), data={"type": "object", "maxProperties": 0})

_OCCURRED_NOTE = (
    "(sample time format: '2020-01-02T03:04:05.678Z'). This time should use the UTC timezone."
)


def _csv(values: Iterable[str] | None) -> str | None:
    """Calendly takes array filters comma-separated in one parameter (``style: form``,
    ``explode: false``), not as repeated parameters."""
    items = [v for v in (values or ()) if v]
    return ",".join(items) if items else None


def _actor_uris(client: CalendlyClient, actors: Iterable[str] | None) -> list[str]:
    return [client.uri("users", actor) for actor in actors or ()]


async def list_activity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Every matching activity log entry, all pages."""
    client = CalendlyClient(ctx, params["connection"])
    query = {
        "organization": client.uri("organizations", params["organization"]),
        "action": _csv(params.get("actionInput")),
        "actor": _csv(_actor_uris(client, params.get("actor"))),
        "namespace": _csv(params.get("namespace")),
        "sort": _csv(params.get("sortList")),
        "search_term": params.get("searchTerm"),
        "min_occurred_at": params.get("minOccurredAt"),
        "max_occurred_at": params.get("maxOccurredAt"),
    }
    entries = await client.paginate("/activity_log_entries", query, limit=limit_of(params))
    return {"data": entries}


async def delete_invitee_data(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Ask Calendly to remove these invitees' data from every past booking (202)."""
    client = CalendlyClient(ctx, params["connection"])
    body = await client.post(
        "/data_compliance/deletion/invitees", {"emails": list(params["emails"])}
    )
    return {"data": body or {}}


async def delete_event_data(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Ask Calendly to remove the events scheduled in a time range (202)."""
    client = CalendlyClient(ctx, params["connection"])
    body = await client.post(
        "/data_compliance/deletion/events",
        {"start_time": params["startTime"], "end_time": params["endTime"]},
    )
    return {"data": body or {}}


def _actor(value: Any) -> str:
    # validated up front (URI or UUID) so a typo fails before any request
    to_uuid(str(value))
    return str(value)


LIST_ACTIVITY = Action(
    key="listActivityLogEntries",
    label="List Activity Log Entries",
    description="Returns a list of activity log entries.",
    inputs=(
        Input(
            key="actionInput",
            label="Action",
            collection="valuelist",
            comments="The action associated with the entries",
        ),
        Input(
            key="actor",
            label="Actor",
            collection="valuelist",
            clean=_actor,
            comments="Return entries from the user associated with the provided URI.",
        ),
        CONNECTION,
        time_input(
            "maxOccurredAt",
            "Max Occurred At",
            example="2020-01-02T03:04:05.678Z",
            comments=f"Include entries that occurred prior to this time {_OCCURRED_NOTE}",
        ),
        time_input(
            "minOccurredAt",
            "Min Occurred At",
            example="2020-01-02T03:04:05.678Z",
            comments=f"Include entries that occurred after this time {_OCCURRED_NOTE}",
        ),
        Input(
            key="namespace",
            label="Namespace",
            collection="valuelist",
            comments="The category of the entry.",
        ),
        org_ref(
            required=True,
            comments=("Return activity log entries from the organization associated with this URI"),
        ),
        Input(
            key="searchTerm",
            label="Search Term",
            example="compliance",
            comments="Filters entries based on the search term.",
            schema={"maxLength": 300},
        ),
        Input(
            key="sortList",
            label="Sort",
            collection="valuelist",
            comments="Order results by the specified field and direction. "
            "{field}:{direction} value.",
            choices=tuple(Choice(value=value, label=value) for value in ACTIVITY_SORTS),
        ),
        LIMIT,
    ),
    perform=list_activity,
    read_only=True,
    output_schema=list_output(ACTIVITY_ENTRY),
)

DELETE_INVITEE_DATA = Action(
    key="deleteInviteeData",
    label="Delete Invitee Data",
    description=(
        "To submit a request to remove invitee data from all previously booked events in your "
        "organization, use this endpoint."
    ),
    inputs=(
        CONNECTION,
        Input(
            key="emails",
            label="Email",
            required=True,
            collection="valuelist",
            comments="Invitee email to delete.",
            schema={"format": "email"},
        ),
    ),
    perform=delete_invitee_data,
    output_schema=ACCEPTED_OUTPUT,
)

DELETE_EVENT_DATA = Action(
    key="deleteScheduledEventData",
    label="Delete Scheduled Event Data",
    description=(
        "To submit a request to remove scheduled events data within a time range for your "
        "organization, use this endpoint."
    ),
    inputs=(
        CONNECTION,
        time_input(
            "endTime",
            "End Time",
            required=True,
            example="2021-01-01T02:04:05.678123Z",
            comments="The scheduled events UTC timestamp at which data deletion should end.",
        ),
        time_input(
            "startTime",
            "Start Time",
            required=True,
            example="2019-01-02T03:04:05.678123Z",
            comments="The scheduled events UTC timestamp at which data deletion should begin.",
        ),
    ),
    perform=delete_event_data,
    output_schema=ACCEPTED_OUTPUT,
)

ACTIONS: tuple[Action, ...] = (LIST_ACTIVITY, DELETE_INVITEE_DATA, DELETE_EVENT_DATA)
