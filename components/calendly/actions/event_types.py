"""Event types: one by UUID, or those of a user or an organization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    EVENT_TYPE,
    UUID_EXAMPLE,
    current_organization,
    filters,
    limit_of,
    list_output,
    org_ref,
    ref_input,
    resource_output,
    user_ref,
)
from components.calendly.client import CalendlyClient, to_uuid
from components.calendly.inputs import CONNECTION, LIMIT, SORT_SCHEMA, uuid_input
from runtime import Action, Input

if TYPE_CHECKING:
    from runtime import Context

#: Filters shared by listUserEventTypes and the eventTypes data source.
#: ``active``/``adminManaged`` deliberately have no default: a default of false would be sent
#: as a filter and lists would hold only inactive types. Unset means "all".
EVENT_TYPE_FILTERS: tuple[Input, ...] = (
    Input(
        key="active",
        label="Active",
        type="boolean",
        comments=(
            "Return only active event types if true, only inactive if false, or all event types "
            "if this parameter is omitted."
        ),
    ),
    Input(
        key="adminManaged",
        label="Admin Managed",
        type="boolean",
        comments=(
            "Return only admin managed event types if true, exclude admin managed event types if "
            "false, or include all event types if this parameter is omitted."
        ),
    ),
    org_ref(
        comments=(
            "View available personal, team, and organization event types associated with the "
            "organization's URI."
        )
    ),
    Input(
        key="sort",
        label="Sort",
        default="name:asc",
        comments=(
            "Order results by the specified field and direction. Accepts comma-separated list of "
            "{field}:{direction} values. Supported fields are: name. Sort direction is specified "
            "as: asc, desc."
        ),
        schema=SORT_SCHEMA,
    ),
    user_ref(
        comments=(
            "View available personal, team, and organization event types associated with the "
            "user's URI."
        )
    ),
    ref_input(
        "userAvailabilitySchedule",
        "User Availability Schedule",
        comments=(
            "Used in conjunction with user parameter, returns a filtered list of Event Types that "
            "use the given primary availability schedule."
        ),
    ),
)

_QUERY = {
    "active": "active",
    "adminManaged": "admin_managed",
    "organization": "organization",
    "sort": "sort",
    "user": "user",
    "userAvailabilitySchedule": "user_availability_schedule",
}
_URIS = {
    "organization": "organizations",
    "user": "users",
    "userAvailabilitySchedule": "user_availability_schedules",
}


async def fetch_event_types(
    client: CalendlyClient, params: dict[str, Any], limit: int | None = None
) -> list[Any]:
    """Event types matching the filters; with neither user nor organization, those of the
    current user's organization (Calendly needs one of them). Calendly filters by schedule
    only together with ``user``, so a schedule given alone brings its owner as the user."""
    query = filters(client, params, _QUERY, _URIS)
    if "user_availability_schedule" in query and "user" not in query:
        path = f"/user_availability_schedules/{to_uuid(params['userAvailabilitySchedule'])}"
        query["user"] = str((await client.get(path))["resource"]["user"])
    if "organization" not in query and "user" not in query:
        query["organization"] = await current_organization(client)
    return await client.paginate("/event_types", query, limit=limit)


async def list_event_types(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /event_types``, every page."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await fetch_event_types(client, params, limit_of(params))}


async def get_event_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /event_types/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/event_types/{params['uuid']}")}


GET_EVENT_TYPE = Action(
    key="getEventType",
    label="Get Event Type",
    description="Returns information about a specified Event Type.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE, data_source="eventTypes")),
    perform=get_event_type,
    read_only=True,
    output_schema=resource_output(EVENT_TYPE),
)

LIST_USER_EVENT_TYPES = Action(
    key="listUserEventTypes",
    label="List User's Event Types",
    description="Returns all Event Types associated with a specified User.",
    inputs=(CONNECTION, *EVENT_TYPE_FILTERS, LIMIT),
    perform=list_event_types,
    read_only=True,
    output_schema=list_output(EVENT_TYPE),
)

ACTIONS: tuple[Action, ...] = (GET_EVENT_TYPE, LIST_USER_EVENT_TYPES)
