"""Calendly data sources (picklists).

Every key is a bare UUID (the inputs they feed go into ``{uuid}`` path segments); membership
keys are membership UUIDs, as removeUserFromOrganization needs (not user URIs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import current_user, filters, org_ref
from components.calendly.actions.event_types import EVENT_TYPE_FILTERS, fetch_event_types
from components.calendly.actions.organizations import MEMBERSHIP_FILTERS, fetch_memberships
from components.calendly.actions.scheduled_events import EVENT_FILTERS, fetch_events, fetch_invitees
from components.calendly.client import CalendlyClient, to_uuid
from components.calendly.inputs import CONNECTION, SORT_SCHEMA, uuid_input
from runtime import DataSource, Input

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime import Context

Item = dict[str, str]


def _item(uri: str, label: str) -> Item:
    return {"key": to_uuid(uri), "label": label}


def event_label(event: dict[str, Any]) -> str:
    """``Sales Demo, 2024-05-01T14:00:00.000000Z`` (plus ``(canceled)`` when it is)."""
    label = f"{event.get('name') or 'Event'}, {event.get('start_time', '')}"
    return f"{label} (canceled)" if event.get("status") == "canceled" else label


def event_type_label(event_type: dict[str, Any]) -> str:
    """The event type's name, marked when inactive."""
    name = str(event_type.get("name") or event_type["uri"])
    return name if event_type.get("active", True) else f"{name} (inactive)"


def membership_label(membership: dict[str, Any]) -> str:
    """``Name <email> (role)``: who the membership belongs to."""
    user = membership.get("user") or {}
    return f"{user.get('name', '')} <{user.get('email', '')}> ({membership.get('role', '')})"


def invitee_label(invitee: dict[str, Any]) -> str:
    """``Name <email>``, marked when canceled."""
    label = f"{invitee.get('name', '')} <{invitee.get('email', '')}>"
    return f"{label} (canceled)" if invitee.get("status") == "canceled" else label


def _items(rows: Iterable[dict[str, Any]], label: Any) -> list[Item]:
    return [_item(row["uri"], label(row)) for row in rows]


async def events(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """Scheduled events matching the listEvents filters."""
    client = CalendlyClient(ctx, params["connection"])
    return _items(await fetch_events(client, params), event_label)


async def event_types(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """Event types matching the listUserEventTypes filters."""
    client = CalendlyClient(ctx, params["connection"])
    return _items(await fetch_event_types(client, params), event_type_label)


async def organization_memberships(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """Memberships, keyed by membership UUID (what removeUserFromOrganization takes)."""
    client = CalendlyClient(ctx, params["connection"])
    return _items(await fetch_memberships(client, params), membership_label)


async def routing_forms(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """Routing forms of an organization."""
    client = CalendlyClient(ctx, params["connection"])
    query = filters(
        client,
        params,
        {"organization": "organization", "sort": "sort"},
        {"organization": "organizations"},
    )
    rows = await client.paginate("/routing_forms", query)
    return _items(rows, lambda form: str(form.get("name") or form["uri"]))


async def organizations(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """The current user's organization(s), from their memberships; the current one first."""
    client = CalendlyClient(ctx, params["connection"])
    me = await current_user(client)
    current = to_uuid(me["current_organization"])
    rows = await client.paginate("/organization_memberships", {"user": me["uri"]})
    roles = {to_uuid(m["organization"]): str(m.get("role", "")) for m in rows}
    roles.setdefault(current, "")
    ordered = [current, *(uuid for uuid in roles if uuid != current)]
    return [
        {"key": uuid, "label": _organization_label(uuid, roles[uuid], uuid == current)}
        for uuid in ordered
    ]


def _organization_label(uuid: str, role: str, current: bool) -> str:
    # Calendly's API exposes no organization name, so the label says which one and the role.
    name = "Current organization" if current else "Organization"
    return f"{name} {uuid} ({role})" if role else f"{name} {uuid}"


async def event_invitees(ctx: Context, params: dict[str, Any]) -> list[Item]:
    """Invitees of one event."""
    client = CalendlyClient(ctx, params["connection"])
    return _items(await fetch_invitees(client, params["eventUuid"], {}), invitee_label)


DATA_SOURCES: tuple[DataSource, ...] = (
    DataSource(
        key="events",
        label="Select Event",
        description="Select an Event.",
        inputs=(CONNECTION, *EVENT_FILTERS),
        perform=events,
    ),
    DataSource(
        key="eventTypes",
        label="Select Event Type",
        description=(
            "Select an Event Type associated with a specified User. Either organization or "
            "user are required."
        ),
        inputs=(CONNECTION, *EVENT_TYPE_FILTERS),
        perform=event_types,
    ),
    DataSource(
        key="organizationMemberships",
        label="Select Organization Membership",
        description="Select an Event Type associated with a specified User.",
        inputs=(CONNECTION, *MEMBERSHIP_FILTERS),
        perform=organization_memberships,
    ),
    DataSource(
        key="routingForms",
        label="Select Routing Form",
        description="Select a Routing Form from a specified Organization.",
        inputs=(
            CONNECTION,
            org_ref(
                required=True,
                comments=(
                    "View organization routing forms associated with the organization's URI."
                ),
            ),
            Input(
                key="sort",
                label="Sort",
                example="created_at:desc",
                comments=(
                    "Order results by the specified field and direction. Accepts comma-separated "
                    "list of {field}:{direction} values. Supported fields are: created_at. Sort "
                    "direction is specified as: asc, desc."
                ),
                schema=SORT_SCHEMA,
            ),
        ),
        perform=routing_forms,
    ),
    DataSource(
        key="organizations",
        label="Select Organization",
        description="Select one of the current user's organizations.",
        inputs=(CONNECTION,),
        perform=organizations,
    ),
    DataSource(
        key="selectEventInvitee",
        label="Select Event Invitee",
        description="Select an Invitee of a specified Event.",
        inputs=(
            CONNECTION,
            uuid_input(
                "eventUuid",
                "Event UUID",
                comments="The event's unique identifier",
                example="9f53ccd3-88e6-4c62-ad9e-91ea57d2187d",
                data_source="events",
            ),
        ),
        perform=event_invitees,
    ),
)
