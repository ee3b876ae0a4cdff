"""Webhook subscriptions: create (201, 409 on a duplicate URL), list, get, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.responses import Response

from ..errors import ApiError, bad_param, forbidden, not_found
from ..gateway import api_route
from ..models import WebhookSubscription
from .context import Ctx, parse_uri, resource, sort_items

if TYPE_CHECKING:
    from starlette.routing import Route

EVENTS = (
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "routing_form_submission.created",
    "event_type.created",
    "event_type.updated",
    "event_type.deleted",
    "meeting_recap.created",
    "meeting_recap.updated",
    "meeting_recap.deleted",
    "contact.created",
    "contact.updated",
    "contact.deleted",
)
_PLAN_MESSAGE = "Please upgrade your Calendly account to Professional"


def _str_field(body: dict[str, object], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise bad_param(name, "is required")
    return value


async def create_subscription(ctx: Ctx) -> Response:
    """Subscribe a URL to events for an organization or one user."""
    body = await ctx.body()
    url = _str_field(body, "url") or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_param("url", "must be a valid http(s) URL")
    events = body.get("events")
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in EVENTS for e in events)
        or len(set(events)) != len(events)
    ):
        raise bad_param("events", "must be a non-empty list of supported events")
    scope = _str_field(body, "scope")
    if scope not in ("organization", "user"):
        raise bad_param("scope", "must be organization or user")
    org = parse_uri("organization", _str_field(body, "organization") or "", "organizations")
    user_ref = _str_field(body, "user", required=False)
    user = parse_uri("user", user_ref, "users") if user_ref else None
    signing_key = body.get("signing_key")
    if signing_key is not None and not isinstance(signing_key, str):
        raise bad_param("signing_key", "must be a string")
    if scope == "user" and user is None:
        raise bad_param("user", "is required when scope is user")
    if scope == "user" and "routing_form_submission.created" in events:
        raise bad_param("events", "routing_form_submission.created needs organization scope")
    ctx.require_org(org, message="You do not have permission")
    ctx.require_plan("standard", _PLAN_MESSAGE)
    if scope == "organization" and not ctx.is_admin(org):
        raise forbidden("You do not have permission")
    if user is not None:
        target = ctx.state.users.get(user)
        if target is None:
            raise not_found()
        if ctx.state.membership_of(user, org) is None or (
            user != ctx.user.uuid and not ctx.is_admin(org)
        ):
            raise forbidden("You do not have permission")
    if any(h.url == url for h in ctx.state.webhooks.values()):
        raise ApiError(409, "Hook with this url already exists")
    hook = WebhookSubscription(
        uuid=ctx.state.ids.new(),
        url=url,
        events=list(events),
        scope=scope,
        org_uuid=org,
        user_uuid=user if scope == "user" else None,
        creator_uuid=ctx.user.uuid,
        signing_key=signing_key or None,
        state="active",
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.state.webhooks[hook.uuid] = hook
    ctx.sb.log_activity("Webhook", "Created", ctx.user, {"url": url})
    return resource(ctx.render.webhook(hook), 201)


async def list_subscriptions(ctx: Ctx) -> Response:
    """Subscriptions of an organization (scope=organization) or of a user (scope=user)."""
    org = ctx.uri("organization", "organizations", required=True) or ""
    scope = ctx.enum("scope", ("organization", "user"))
    if scope is None:
        raise bad_param("scope", "is required")
    user = ctx.uri("user", "users")
    if scope == "user" and user is None:
        raise bad_param("user", "is required when scope is user")
    keys = ctx.sort(["created_at"], "created_at:asc")
    ctx.require_org(org, message="You do not have permission")
    ctx.require_plan("standard", "You do not have permission")
    if scope == "organization" and not ctx.is_admin(org):
        raise forbidden("You do not have permission")
    if user is not None and user != ctx.user.uuid and not ctx.is_admin(org):
        raise forbidden("You do not have permission")
    items = [
        h
        for h in ctx.state.webhooks.values()
        if h.org_uuid == org and h.scope == scope and (user is None or h.user_uuid == user)
    ]
    items = sort_items(items, keys, {"created_at": lambda h: h.created_at})
    return ctx.page(items, "/webhook_subscriptions", ctx.render.webhook)


def _subscription(ctx: Ctx) -> WebhookSubscription:
    hook = ctx.state.webhooks.get(ctx.request.path_params["webhook_uuid"])
    if hook is None:
        raise not_found()
    if not ctx.in_org(hook.org_uuid) or (
        hook.user_uuid != ctx.user.uuid and not ctx.is_admin(hook.org_uuid)
    ):
        raise forbidden()
    return hook


async def get_subscription(ctx: Ctx) -> Response:
    """One subscription."""
    return resource(ctx.render.webhook(_subscription(ctx)))


async def delete_subscription(ctx: Ctx) -> Response:
    """Delete a subscription (204); there is no update, clients delete and recreate."""
    hook = _subscription(ctx)
    del ctx.state.webhooks[hook.uuid]
    return Response(status_code=204)


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/webhook_subscriptions", create_subscription, ["POST"], "webhooks:write"),
        api_route("/webhook_subscriptions", list_subscriptions, ["GET"], "webhooks:read"),
        api_route(
            "/webhook_subscriptions/{webhook_uuid}", get_subscription, ["GET"], "webhooks:read"
        ),
        api_route(
            "/webhook_subscriptions/{webhook_uuid}",
            delete_subscription,
            ["DELETE"],
            "webhooks:write",
        ),
    ]
