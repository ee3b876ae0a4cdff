"""Event types: list (by user or organization) and get."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import bad_param, forbidden, not_found
from ..gateway import api_route
from .context import Ctx, resource, sort_items

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route


async def list_event_types(ctx: Ctx) -> Response:
    """Event types of a user or an organization; ``active``/``admin_managed`` filter only
    when sent (unset means all), default sort ``name:asc``."""
    org = ctx.uri("organization", "organizations")
    user = ctx.uri("user", "users")
    active = ctx.boolean("active")
    admin_managed = ctx.boolean("admin_managed")
    schedule = ctx.uri("user_availability_schedule", "user_availability_schedules")
    keys = ctx.sort(["name", "created_at", "updated_at"], "name:asc")
    if org is None and user is None:
        raise bad_param("organization", "organization or user is required")
    if org is not None:
        ctx.require_org(org, message="You do not have permission to access this resource.")
    if user is not None:
        target = ctx.state.users.get(user)
        if target is None:
            raise not_found()
        if user != ctx.user.uuid and not ctx.in_org(target.org_uuid):
            raise forbidden("This user is not in your organization")
    items = [
        et
        for et in ctx.state.event_types.values()
        if (org is None or et.org_uuid == org)
        and (user is None or user in et.host_uuids)
        and (active is None or et.active == active)
        and (admin_managed is None or et.admin_managed == admin_managed)
        and (schedule is None or et.schedule_uuid == schedule)
    ]
    items = sort_items(
        items,
        keys,
        {
            "name": lambda e: e.name.lower(),
            "created_at": lambda e: e.created_at,
            "updated_at": lambda e: e.updated_at,
        },
    )
    return ctx.page(items, "/event_types", ctx.render.event_type)


async def get_event_type(ctx: Ctx) -> Response:
    """One event type of the caller's organization."""
    et = ctx.state.event_types.get(ctx.request.path_params["uuid"])
    if et is None:
        raise not_found()
    if not ctx.in_org(et.org_uuid):
        raise forbidden()
    return resource(ctx.render.event_type(et))


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/event_types", list_event_types, ["GET"], "event_types:read"),
        api_route("/event_types/{uuid}", get_event_type, ["GET"], "event_types:read"),
    ]
