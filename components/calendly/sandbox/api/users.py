"""Users: ``/users/me`` and ``/users/{uuid}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import forbidden, not_found
from ..gateway import api_route
from .context import Ctx, resource

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route


async def get_current_user(ctx: Ctx) -> Response:
    """The caller."""
    return resource(ctx.render.user(ctx.user))


async def get_user(ctx: Ctx) -> Response:
    """A user of the caller's organization."""
    user = ctx.state.users.get(ctx.request.path_params["uuid"])
    if user is None:
        raise not_found()
    if user.uuid != ctx.user.uuid and not ctx.in_org(user.org_uuid):
        raise forbidden()
    return resource(ctx.render.user(user))


def routes() -> list[Route]:
    """Routes of this area (``/users/me`` first so it is not taken for a UUID)."""
    return [
        api_route("/users/me", get_current_user, ["GET"], "users:read"),
        api_route("/users/{uuid}", get_user, ["GET"], "users:read"),
    ]
