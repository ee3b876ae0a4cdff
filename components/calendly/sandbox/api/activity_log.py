"""The organization activity log (Enterprise plan, admins only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import bad_param
from ..gateway import api_route
from ..timeutil import iso
from .context import Ctx, parse_uri, sort_items

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route

    from ..models import ActivityEntry

_SORT_FIELDS = ["action", "actor.display_name", "actor.uri", "namespace", "occurred_at"]


def _csv(ctx: Ctx, name: str) -> list[str] | None:
    """Array parameters are sent comma-separated (``style: form, explode: false``)."""
    value = ctx.raw(name)
    if value is None:
        return None
    return [v for v in value.split(",") if v]


async def list_entries(ctx: Ctx) -> Response:
    """Entries filtered by actor/action/namespace/time/search term; ``count`` up to 1000."""
    org = ctx.uri("organization", "organizations", required=True) or ""
    search = ctx.raw("search_term")
    if search is not None and len(search) > 300:
        raise bad_param("search_term", "must be at most 300 characters")
    actors = {parse_uri("actor", a, "users") for a in _csv(ctx, "actor") or []}
    actions = set(_csv(ctx, "action") or [])
    namespaces = set(_csv(ctx, "namespace") or [])
    min_at = ctx.time("min_occurred_at")
    max_at = ctx.time("max_occurred_at")
    keys = ctx.sort(_SORT_FIELDS, "occurred_at:desc")
    ctx.require_org(org, admin=True, message="You do not have permission to access this resource.")
    ctx.require_plan("enterprise", "Please upgrade your Calendly account to Enterprise.")
    needle = search.lower() if search else None

    def matches(e: ActivityEntry) -> bool:
        return (
            e.org_uuid == org
            and (not actors or e.actor_uuid in actors)
            and (not actions or e.action in actions)
            and (not namespaces or e.namespace in namespaces)
            and (min_at is None or e.occurred_at >= min_at)
            and (max_at is None or e.occurred_at <= max_at)
            and (
                needle is None
                or needle in f"{e.namespace} {e.action} {e.actor_name} {e.details}".lower()
            )
        )

    items = [e for e in ctx.state.activity.values() if matches(e)]
    items = sort_items(
        items,
        keys,
        {
            "action": lambda e: e.action,
            "actor.display_name": lambda e: e.actor_name,
            "actor.uri": lambda e: e.actor_uuid or "",
            "namespace": lambda e: e.namespace,
            "occurred_at": lambda e: e.occurred_at,
        },
    )
    last = max((e.occurred_at for e in items), default=None)
    extra = {
        "last_event_time": iso(last) if last is not None else None,
        "total_count": len(items),
        "exceeds_max_total_count": False,
    }
    return ctx.page(items, "/activity_log_entries", ctx.render.activity, maximum=1000, extra=extra)


def routes() -> list[Route]:
    """Routes of this area."""
    return [api_route("/activity_log_entries", list_entries, ["GET"], "activity_log:read")]
