"""Organization memberships and invitations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from ..errors import ApiError, bad_param, forbidden, not_found
from ..gateway import api_route
from ..models import Invitation, Membership
from .context import EMAIL_RE, Ctx, resource, sort_items

if TYPE_CHECKING:
    from starlette.routing import Route

_INVITE_STATUSES = ("pending", "accepted", "declined")


async def list_memberships(ctx: Ctx) -> Response:
    """Memberships filtered by organization and/or user (one of them is required)."""
    org = ctx.uri("organization", "organizations")
    user = ctx.uri("user", "users")
    email = ctx.email("email")
    if org is None and user is None:
        raise bad_param("organization", "organization or user is required")
    if org is not None:
        ctx.require_org(org)
    if user is not None:
        target = ctx.state.users.get(user)
        if target is None:
            raise not_found()
        if user != ctx.user.uuid and not ctx.in_org(target.org_uuid):
            raise forbidden()
    items: list[Membership] = []
    for m in ctx.state.memberships.values():
        if org is not None and m.org_uuid != org:
            continue
        if user is not None and m.user_uuid != user:
            continue
        if email is not None and ctx.state.users[m.user_uuid].email.lower() != email.lower():
            continue
        if org is None and not ctx.in_org(m.org_uuid) and m.user_uuid != ctx.user.uuid:
            continue
        items.append(m)
    items.sort(key=lambda m: m.created_at)
    return ctx.page(items, "/organization_memberships", ctx.render.membership)


def _membership(ctx: Ctx) -> Membership:
    membership = ctx.state.memberships.get(ctx.request.path_params["uuid"])
    if membership is None:
        raise not_found()
    if not ctx.in_org(membership.org_uuid):
        raise forbidden()
    return membership


async def get_membership(ctx: Ctx) -> Response:
    """One membership of the caller's organization."""
    return resource(ctx.render.membership(_membership(ctx)))


async def remove_membership(ctx: Ctx) -> Response:
    """Remove a user from the organization (admins only; the owner cannot be removed)."""
    membership = _membership(ctx)
    if not ctx.is_admin(membership.org_uuid) or membership.role == "owner":
        raise forbidden()
    del ctx.state.memberships[membership.uuid]
    ctx.sb.log_activity(
        "Organization", "UserRemoved", ctx.user, {"user": ctx.render.user_uri(membership.user_uuid)}
    )
    return Response(status_code=204)


def _org_for_invitations(ctx: Ctx, key: str = "uuid") -> str:
    org: str = ctx.request.path_params[key]
    ctx.require_org(org, admin=True, message="You do not have permission")
    return org


async def list_invitations(ctx: Ctx) -> Response:
    """Invitations of an organization, filtered by email/status, sorted by created_at."""
    org = _org_for_invitations(ctx)
    email = ctx.email("email")
    status = ctx.enum("status", _INVITE_STATUSES)
    keys = ctx.sort(["created_at"], "created_at:asc")
    items = [
        inv
        for inv in ctx.state.invitations.values()
        if inv.org_uuid == org
        and (email is None or inv.email.lower() == email.lower())
        and (status is None or inv.status == status)
    ]
    items = sort_items(items, keys, {"created_at": lambda i: i.created_at})
    return ctx.page(items, f"/organizations/{org}/invitations", ctx.render.invitation)


async def invite_user(ctx: Ctx) -> Response:
    """Invite an email address to the organization; 201 with the pending invitation."""
    org = _org_for_invitations(ctx)
    body = await ctx.body()
    email = body.get("email")
    if not isinstance(email, str) or not EMAIL_RE.match(email):
        raise bad_param("email", "must be a valid email")
    for inv in ctx.state.invitations.values():
        if inv.org_uuid == org and inv.email.lower() == email.lower() and inv.status == "pending":
            raise bad_param("email", "has already been invited")
    existing = ctx.state.user_by_email(email)
    if existing is not None and ctx.state.membership_of(existing.uuid, org) is not None:
        raise bad_param("email", "is already a member of the organization")
    inv = Invitation(
        uuid=ctx.state.ids.new(),
        org_uuid=org,
        email=email,
        status="pending",
        created_at=ctx.now,
        updated_at=ctx.now,
        last_sent_at=ctx.now,
    )
    ctx.state.invitations[inv.uuid] = inv
    ctx.sb.log_activity("Organization", "InvitationSent", ctx.user, {"email": email})
    return resource(ctx.render.invitation(inv), 201)


def _invitation(ctx: Ctx) -> Invitation:
    org = ctx.request.path_params["org_uuid"]
    if org not in ctx.state.organizations:
        raise not_found()
    if not ctx.in_org(org):
        raise forbidden()
    inv = ctx.state.invitations.get(ctx.request.path_params["uuid"])
    if inv is None or inv.org_uuid != org:
        raise not_found()
    return inv


async def get_invitation(ctx: Ctx) -> Response:
    """One invitation."""
    return resource(ctx.render.invitation(_invitation(ctx)))


async def revoke_invitation(ctx: Ctx) -> Response:
    """Revoke a pending invitation (admins only); it is gone afterwards."""
    inv = _invitation(ctx)
    if not ctx.is_admin(inv.org_uuid):
        raise forbidden("You do not have permission")
    if inv.status != "pending":
        raise ApiError(400, "Only pending invitations can be revoked.")
    del ctx.state.invitations[inv.uuid]
    return Response(status_code=204)


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/organization_memberships", list_memberships, ["GET"], "organizations:read"),
        api_route(
            "/organization_memberships/{uuid}", get_membership, ["GET"], "organizations:read"
        ),
        api_route(
            "/organization_memberships/{uuid}", remove_membership, ["DELETE"], "organizations:write"
        ),
        api_route(
            "/organizations/{uuid}/invitations", list_invitations, ["GET"], "organizations:read"
        ),
        api_route(
            "/organizations/{uuid}/invitations", invite_user, ["POST"], "organizations:write"
        ),
        api_route(
            "/organizations/{org_uuid}/invitations/{uuid}",
            get_invitation,
            ["GET"],
            "organizations:read",
        ),
        api_route(
            "/organizations/{org_uuid}/invitations/{uuid}",
            revoke_invitation,
            ["DELETE"],
            "organizations:write",
        ),
    ]
