"""Organization memberships and invitations.

The changes repeat safely: removing a membership or revoking an invitation that is already gone
(404) succeeds, and inviting an email that already has a pending invitation returns that
invitation instead of Calendly's "already invited" refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import (
    INVITATION,
    MEMBERSHIP,
    NO_CONTENT_OUTPUT,
    UUID_EXAMPLE,
    current_organization,
    email_input,
    filters,
    flagged,
    limit_of,
    list_output,
    org_ref,
    resource_output,
    user_ref,
)
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, LIMIT, SORT_SCHEMA, uuid_input
from runtime import Action, ApiError, Choice, Input

if TYPE_CHECKING:
    from runtime import Context

MEMBERSHIP_ID_COMMENTS = "The organization membership's unique identifier"
INVITATION_ID_COMMENTS = "The organization invitation's unique identifier."
ORG_UUID = uuid_input(
    "orgUuid",
    "Organization UUID",
    data_source="organizations",
    comments="The organization's unique identifier.",
)
INVITATION_UUID = uuid_input(example=UUID_EXAMPLE, comments=INVITATION_ID_COMMENTS)

#: Filters shared by listOrganizationMemberships and the organizationMemberships data source.
MEMBERSHIP_FILTERS: tuple[Input, ...] = (
    email_input(
        comments="Indicates if the results should be filtered by email address",
        example="user@example.com",
    ),
    org_ref(comments="Indicates if the results should be filtered by organization"),
    user_ref(
        comments="Indicates if the results should be filtered by user",
        example="https://api.calendly.com/users/UR1234567890",
    ),
)


async def fetch_memberships(
    client: CalendlyClient, params: dict[str, Any], limit: int | None = None
) -> list[Any]:
    """Memberships matching the filters; Calendly needs an organization or a user, so with
    neither the current user's organization is used (never an empty organization URI)."""
    query = filters(
        client,
        params,
        {"email": "email", "organization": "organization", "user": "user"},
        {"organization": "organizations", "user": "users"},
    )
    if "organization" not in query and "user" not in query:
        query["organization"] = await current_organization(client)
    return await client.paginate("/organization_memberships", query, limit=limit)


async def list_memberships(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /organization_memberships``, every page."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await fetch_memberships(client, params, limit_of(params))}


async def get_membership(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /organization_memberships/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/organization_memberships/{params['uuid']}")}


async def _delete_if_present(client: CalendlyClient, path: str) -> None:
    """DELETE ``path``; a resource already gone (404) counts as deleted."""
    try:
        await client.delete(path)
    except ApiError as exc:
        if exc.status != 404:
            raise


async def remove_membership(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``DELETE /organization_memberships/{uuid}`` (204: no content, so ``data`` is null)."""
    client = CalendlyClient(ctx, params["connection"])
    await _delete_if_present(client, f"/organization_memberships/{params['uuid']}")
    return {"data": None}


async def list_invitations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /organizations/{uuid}/invitations``, every page."""
    client = CalendlyClient(ctx, params["connection"])
    query = filters(client, params, {"email": "email", "sort": "sort", "status": "status"})
    path = f"/organizations/{params['uuid']}/invitations"
    return {"data": await client.paginate(path, query, limit=limit_of(params))}


async def get_invitation(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /organizations/{orgUuid}/invitations/{uuid}``."""
    client = CalendlyClient(ctx, params["connection"])
    path = f"/organizations/{params['orgUuid']}/invitations/{params['uuid']}"
    return {"data": await client.get(path)}


async def invite_user(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /organizations/{uuid}/invitations`` with the email in the body.

    Calendly refuses (400) an email with a pending invitation; the pending invitation is then
    the result, so a repeated step neither fails nor sends a second invitation.
    """
    client = CalendlyClient(ctx, params["connection"])
    path = f"/organizations/{params['uuid']}/invitations"
    email = str(params["email"])
    try:
        body = await client.post(path, {"email": email})
    except ApiError as exc:
        if exc.status != 400:
            raise
        pending = await _pending_invitation(client, path, email)
        if pending is None:
            raise
        return {"data": {"resource": pending}, "alreadyInvited": True}
    return {"data": body, "alreadyInvited": False}


async def _pending_invitation(client: CalendlyClient, path: str, email: str) -> Any:
    """The pending invitation of ``email`` at ``path`` (emails compare case-insensitively, as
    Calendly compares them); ``None`` if there is none or the list cannot be read."""
    try:
        found = await client.paginate(path, {"email": email, "status": "pending"})
    except ApiError:
        return None
    wanted = email.casefold()
    return next(
        (
            inv
            for inv in found
            if inv.get("status") == "pending" and str(inv.get("email", "")).casefold() == wanted
        ),
        None,
    )


async def revoke_invitation(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``DELETE /organizations/{orgUuid}/invitations/{uuid}`` (204: ``data`` is null)."""
    client = CalendlyClient(ctx, params["connection"])
    path = f"/organizations/{params['orgUuid']}/invitations/{params['uuid']}"
    await _delete_if_present(client, path)
    return {"data": None}


LIST_MEMBERSHIPS = Action(
    key="listOrganizationMemberships",
    label="List Organization Memberships",
    description=(
        "Use this to list the Organization Memberships for all users belonging to an organization."
    ),
    inputs=(CONNECTION, *MEMBERSHIP_FILTERS, LIMIT),
    perform=list_memberships,
    read_only=True,
    output_schema=list_output(MEMBERSHIP),
)

GET_MEMBERSHIP = Action(
    key="getOrganizationMembership",
    label="Get Organization Membership",
    description="Returns information about a user's Organization Membership.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE, comments=MEMBERSHIP_ID_COMMENTS + ".")),
    perform=get_membership,
    read_only=True,
    output_schema=resource_output(MEMBERSHIP),
)

REMOVE_USER = Action(
    key="removeUserFromOrganization",
    label="Remove User from Organization",
    description=(
        "Removes a user from an organization. A membership that is already gone counts as removed."
    ),
    inputs=(
        CONNECTION,
        uuid_input(
            example=UUID_EXAMPLE,
            comments=MEMBERSHIP_ID_COMMENTS,
            data_source="organizationMemberships",
        ),
    ),
    perform=remove_membership,
    output_schema=NO_CONTENT_OUTPUT,
)

LIST_INVITATIONS = Action(
    key="listOrganizationInvitations",
    label="List Organization Invitations",
    description=(
        "Returns a list of Organization Invitations that were sent to the organization's members."
    ),
    inputs=(
        CONNECTION,
        email_input(
            comments="Indicates if the results should be filtered by email address",
            example="bob@example.com",
        ),
        Input(
            key="sort",
            label="Sort",
            comments=(
                "Order results by the created_at field and direction specified: ascending ('asc') "
                "or descending ('desc')"
            ),
            schema=SORT_SCHEMA,
        ),
        Input(
            key="status",
            label="Status",
            example="active or canceled",
            comments=(
                'Indicates if the results should be filtered by status ("pending", '
                '"accepted", or "declined")'
            ),
            choices=(
                Choice(value="pending", label="Pending"),
                Choice(value="accepted", label="Accepted"),
                Choice(value="declined", label="Declined"),
            ),
        ),
        uuid_input(example=UUID_EXAMPLE, data_source="organizations"),
        LIMIT,
    ),
    perform=list_invitations,
    read_only=True,
    output_schema=list_output(INVITATION),
)

GET_INVITATION = Action(
    key="getOrganizationInvitation",
    label="Get Organization Invitation",
    description="Returns an Organization Invitation that was sent to the organization's members.",
    inputs=(CONNECTION, ORG_UUID, INVITATION_UUID),
    perform=get_invitation,
    read_only=True,
    output_schema=resource_output(INVITATION),
)

INVITE_USER = Action(
    key="inviteUserToOrganization",
    label="Invite User to Organization",
    description=(
        "Invites a user to an organization. An email that already has a pending invitation "
        "gets no second one: the result is that invitation, with alreadyInvited true."
    ),
    inputs=(
        CONNECTION,
        email_input(
            required=True,
            comments="The email address of the user to invite.",
            example="bob@example.com",
        ),
        uuid_input(
            example=UUID_EXAMPLE,
            comments="The UUID of the organization.",
            data_source="organizations",
        ),
    ),
    perform=invite_user,
    output_schema=flagged(resource_output(INVITATION), "alreadyInvited"),
)

REVOKE_INVITATION = Action(
    key="revokeUserOrganizationInvitation",
    label="Revoke User's Organization Invitation",
    description=(
        "Use this to revoke an Organization Invitation to an organization. An invitation that "
        "is already gone counts as revoked."
    ),
    inputs=(CONNECTION, ORG_UUID, INVITATION_UUID),
    perform=revoke_invitation,
    output_schema=NO_CONTENT_OUTPUT,
)

ACTIONS: tuple[Action, ...] = (
    LIST_MEMBERSHIPS,
    GET_MEMBERSHIP,
    REMOVE_USER,
    LIST_INVITATIONS,
    GET_INVITATION,
    INVITE_USER,
    REVOKE_INVITATION,
)
