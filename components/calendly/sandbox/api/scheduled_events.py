"""Scheduled events, their invitees, cancellation and invitee no-shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from ..errors import bad_param, forbidden, not_found
from ..gateway import api_route
from .context import Ctx, parse_uri, resource, sort_items

if TYPE_CHECKING:
    from starlette.routing import Route

    from ..models import Invitee, ScheduledEvent

_STATUSES = ("active", "canceled")


def _can_see(ctx: Ctx, ev: ScheduledEvent) -> bool:
    return ctx.user.uuid in ev.host_uuids or ctx.is_admin(ev.org_uuid)


async def list_events(ctx: Ctx) -> Response:
    """Events of a user or (admins) an organization, with Calendly's filters."""
    org = ctx.uri("organization", "organizations")
    user = ctx.uri("user", "users")
    email = ctx.email("invitee_email")
    status = ctx.enum("status", _STATUSES)
    min_start = ctx.time("min_start_time")
    max_start = ctx.time("max_start_time")
    keys = ctx.sort(["start_time", "created_at"], "start_time:asc")
    if org is None and user is None:
        raise bad_param("organization", "organization or user is required")
    if org is not None:
        ctx.require_org(
            org, admin=True, message="You do not have permission to access this resource."
        )
    if user is not None:
        target = ctx.state.users.get(user)
        if target is None:
            raise not_found()
        if org is not None and ctx.state.membership_of(user, org) is None:
            raise forbidden("This user is not in your organization")
        if org is None and user != ctx.user.uuid:
            if ctx.is_admin(target.org_uuid):
                raise forbidden(
                    "Please also specify organization when requesting events for "
                    "a user within your organization."
                )
            raise forbidden("You do not have permission")
    invitees = ctx.state.invitees
    lowered = email.lower() if email else None
    items: list[ScheduledEvent] = []
    for ev in ctx.state.events.values():
        if org is not None and ev.org_uuid != org:
            continue
        if user is not None and user not in ev.host_uuids:
            continue
        if status is not None and ev.status != status:
            continue
        if min_start is not None and ev.start < min_start:
            continue
        if max_start is not None and ev.start >= max_start:
            continue
        if lowered is not None and not any(
            i in invitees and invitees[i].email.lower() == lowered for i in ev.invitee_uuids
        ):
            continue
        items.append(ev)
    items = sort_items(
        items, keys, {"start_time": lambda e: e.start, "created_at": lambda e: e.created_at}
    )
    return ctx.page(items, "/scheduled_events", ctx.render.event)


def _event(
    ctx: Ctx, key: str = "uuid", message: str = "You are not allowed to view this event"
) -> ScheduledEvent:
    ev = ctx.state.events.get(ctx.request.path_params[key])
    if ev is None:
        raise not_found()
    if not _can_see(ctx, ev):
        raise forbidden(message)
    return ev


async def get_event(ctx: Ctx) -> Response:
    """One event the caller hosts or administers."""
    return resource(ctx.render.event(_event(ctx)))


async def list_invitees(ctx: Ctx) -> Response:
    """Invitees of an event, filtered by status/email, sorted by created_at."""
    ev = _event(ctx)
    status = ctx.enum("status", _STATUSES)
    email = ctx.email("email")
    keys = ctx.sort(["created_at"], "created_at:asc")
    items = [
        ctx.state.invitees[i]
        for i in ev.invitee_uuids
        if i in ctx.state.invitees
        and (status is None or ctx.state.invitees[i].status == status)
        and (email is None or ctx.state.invitees[i].email.lower() == email.lower())
    ]
    items = sort_items(items, keys, {"created_at": lambda i: i.created_at})
    return ctx.page(items, f"/scheduled_events/{ev.uuid}/invitees", ctx.render.invitee)


async def get_invitee(ctx: Ctx) -> Response:
    """One invitee of an event."""
    ev = _event(ctx, "event_uuid", "You do not have permission to view this event")
    inv = ctx.state.invitees.get(ctx.request.path_params["invitee_uuid"])
    if inv is None or inv.event_uuid != ev.uuid:
        raise not_found()
    return resource(ctx.render.invitee(inv))


async def cancel_event(ctx: Ctx) -> Response:
    """Cancel the whole event (201 with the cancellation)."""
    ev = _event(ctx, message="You are not allowed to cancel this event")
    body = await ctx.body(required=False)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 10000):
        raise bad_param("reason", "must be a string of at most 10000 characters")
    if ev.status == "canceled":
        raise forbidden("Event is already canceled")
    if ev.start < ctx.now:
        raise forbidden("Event in the past")
    cancellation = ctx.sb.ops.cancel_event(ev, ctx.user.name, reason)
    return resource(cancellation, 201)


def _invitee_for_no_show(ctx: Ctx, ref: object) -> Invitee:
    if not isinstance(ref, str) or not ref:
        raise bad_param("invitee", "is required")
    uuid = parse_uri("invitee", ref, "invitees")
    inv = ctx.state.invitees.get(uuid)
    if inv is None:
        raise not_found()
    if not _can_see(ctx, ctx.state.events[inv.event_uuid]):
        raise forbidden()
    return inv


async def create_no_show(ctx: Ctx) -> Response:
    """Mark an invitee as a no-show (201)."""
    body = await ctx.body()
    inv = _invitee_for_no_show(ctx, body.get("invitee"))
    ns = ctx.sb.ops.mark_no_show(inv.uuid)
    return resource(ctx.render.no_show(ns), 201)


def _no_show(ctx: Ctx) -> tuple[str, Invitee | None]:
    ns = ctx.state.no_shows.get(ctx.request.path_params["uuid"])
    if ns is None:
        raise not_found()
    inv = ctx.state.invitees.get(ns.invitee_uuid)
    if inv is not None and not _can_see(ctx, ctx.state.events[inv.event_uuid]):
        raise forbidden()
    return ns.uuid, inv


async def get_no_show(ctx: Ctx) -> Response:
    """One no-show mark."""
    uuid, _inv = _no_show(ctx)
    return resource(ctx.render.no_show(ctx.state.no_shows[uuid]))


async def delete_no_show(ctx: Ctx) -> Response:
    """Remove a no-show mark (204)."""
    uuid, _inv = _no_show(ctx)
    ctx.sb.ops.unmark_no_show(ctx.state.no_shows[uuid])
    return Response(status_code=204)


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/scheduled_events", list_events, ["GET"], "scheduled_events:read"),
        api_route("/scheduled_events/{uuid}", get_event, ["GET"], "scheduled_events:read"),
        api_route(
            "/scheduled_events/{uuid}/invitees", list_invitees, ["GET"], "scheduled_events:read"
        ),
        api_route(
            "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}",
            get_invitee,
            ["GET"],
            "scheduled_events:read",
        ),
        api_route(
            "/scheduled_events/{uuid}/cancellation",
            cancel_event,
            ["POST"],
            "scheduled_events:write",
        ),
        api_route("/invitee_no_shows", create_no_show, ["POST"], "scheduled_events:write"),
        api_route("/invitee_no_shows/{uuid}", get_no_show, ["GET"], "scheduled_events:read"),
        api_route("/invitee_no_shows/{uuid}", delete_no_show, ["DELETE"], "scheduled_events:write"),
    ]
