"""Users: the authenticated user and any user of the organization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.calendly.actions._common import USER, UUID_EXAMPLE, current_user, resource_output
from components.calendly.client import CalendlyClient
from components.calendly.inputs import CONNECTION, uuid_input
from runtime import Action

if TYPE_CHECKING:
    from runtime import Context


async def get_current_user(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /users/me``."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": {"resource": await current_user(client)}}


async def get_user(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """``GET /users/{uuid}``; the input may be the user's URI."""
    client = CalendlyClient(ctx, params["connection"])
    return {"data": await client.get(f"/users/{params['uuid']}")}


GET_CURRENT_USER = Action(
    key="getCurrentUser",
    label="Get Current User",
    description="Returns basic information about your user account.",
    inputs=(CONNECTION,),
    perform=get_current_user,
    read_only=True,
    output_schema=resource_output(USER),
)

GET_USER = Action(
    key="getUser",
    label="Get User",
    description="Returns information about a specified User.",
    inputs=(CONNECTION, uuid_input(example=UUID_EXAMPLE)),
    perform=get_user,
    read_only=True,
    output_schema=resource_output(USER),
)

ACTIONS: tuple[Action, ...] = (GET_CURRENT_USER, GET_USER)
