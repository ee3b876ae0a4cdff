"""Single-use scheduling links and shares ("customize once and share")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import bad_param, forbidden, not_found
from ..gateway import api_route
from ..models import JSON, EventType, SchedulingLink, Share
from ..timeutil import parse_iso
from .context import Ctx, parse_uri, resource

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route

_PERIODS = ("available_moving", "moving", "fixed", "unlimited")
_KINDS = (
    "physical",
    "ask_invitee",
    "custom",
    "outbound_call",
    "inbound_call",
    "google_conference",
    "gotomeeting_conference",
    "microsoft_teams_conference",
    "webex_conference",
    "zoom_conference",
)


def _event_type(ctx: Ctx, name: str, value: object) -> EventType:
    if not isinstance(value, str) or not value:
        raise bad_param(name, "is required")
    et = ctx.state.event_types.get(parse_uri(name, value, "event_types"))
    if et is None:
        raise not_found()
    if not ctx.in_org(et.org_uuid):
        raise forbidden()
    return et


def _booking_url(ctx: Ctx, et: EventType) -> str:
    code = ctx.state.ids.new().lower()
    return ctx.render.page_url(f"d/{code[:4]}-{code[4:8]}/{et.slug.split('/')[-1]}")


async def create_scheduling_link(ctx: Ctx) -> Response:
    """A booking URL usable once (``max_event_count`` must be 1, owner an event type)."""
    body = await ctx.body()
    if body.get("max_event_count") not in (1, 1.0) or isinstance(body.get("max_event_count"), bool):
        raise bad_param("max_event_count", "must be 1")
    if body.get("owner_type") != "EventType":
        raise bad_param("owner_type", "must be EventType")
    et = _event_type(ctx, "owner", body.get("owner"))
    link = SchedulingLink(
        uuid=ctx.state.ids.new(),
        event_type_uuid=et.uuid,
        booking_url=_booking_url(ctx, et),
        max_event_count=1,
        created_at=ctx.now,
    )
    ctx.state.scheduling_links[link.uuid] = link
    return resource(
        {
            "booking_url": link.booking_url,
            "owner": ctx.render.event_type_uri(et.uuid),
            "owner_type": "EventType",
        },
        201,
    )


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_param(name, f"must be an integer between {low} and {high}")
    return value


def _date(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 10 or parse_iso(value + "T00:00:00Z") is None:
        raise bad_param(name, "must be a date (YYYY-MM-DD)")
    return value


def _locations(body: dict[str, Any]) -> list[JSON]:
    value = body.get("location_configurations")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise bad_param("location_configurations", "must be a list of objects")
    out: list[JSON] = []
    for i, loc in enumerate(value):
        kind = loc.get("kind", "physical")
        if kind not in _KINDS:
            raise bad_param("location_configurations", f"kind must be one of {', '.join(_KINDS)}")
        entry: JSON = {"kind": kind, "position": loc.get("position", i)}
        for key in ("location", "additional_info", "phone_number"):
            if loc.get(key) is not None:
                if not isinstance(loc[key], str) or len(loc[key]) > 255:
                    raise bad_param("location_configurations", f"{key} must be a short string")
                entry[key] = loc[key]
        if not isinstance(entry["position"], int) or isinstance(entry["position"], bool):
            raise bad_param("location_configurations", "position must be an integer")
        out.append(entry)
    return out


def _availability(ctx: Ctx, body: dict[str, Any], et: EventType) -> JSON:
    value = body.get("availability_rule")
    if value is None:
        sched = ctx.state.schedules.get(et.schedule_uuid or "")
        return {
            "rules": sched.rules if sched else [],
            "timezone": sched.timezone if sched else "UTC",
        }
    if not isinstance(value, dict) or not isinstance(value.get("rules", []), list):
        raise bad_param("availability_rule", "must be an object with rules")
    rules = value.get("rules", [])
    if not all(isinstance(r, dict) and r.get("type") in ("wday", "date") for r in rules):
        raise bad_param("availability_rule", "rules need a type of wday or date")
    timezone = value.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise bad_param("availability_rule", "timezone must be a string")
    return {"rules": rules, "timezone": timezone}


async def create_share(ctx: Ctx) -> Response:
    """Create a share of an event type with overrides; 201 with its scheduling link."""
    body = await ctx.body()
    et = _event_type(ctx, "event_type", body.get("event_type"))
    name = body.get("name", et.name)
    if not isinstance(name, str) or not 0 < len(name) <= 55:
        raise bad_param("name", "must be at most 55 characters")
    duration = _int(body, "duration", 1, 720) or et.duration
    period = body.get("period_type", "unlimited")
    if period not in _PERIODS:
        raise bad_param("period_type", f"must be one of {', '.join(_PERIODS)}")
    start_date, end_date = _date(body, "start_date"), _date(body, "end_date")
    max_booking = _int(body, "max_booking_time", 0, 10**6)
    if period == "fixed" and (start_date is None or end_date is None):
        raise bad_param("start_date", "start_date and end_date are required when fixed")
    if period in ("moving", "available_moving") and max_booking is None:
        raise bad_param("max_booking_time", "is required when period_type is moving")
    hide = body.get("hide_location", False)
    if not isinstance(hide, bool):
        raise bad_param("hide_location", "must be a boolean")
    share = Share(
        uuid=ctx.state.ids.new(),
        event_type_uuid=et.uuid,
        created_at=ctx.now,
        resource={
            "scheduling_links": [
                {
                    "booking_url": _booking_url(ctx, et),
                    "owner": ctx.render.event_type_uri(et.uuid),
                    "owner_type": "EventType",
                }
            ],
            "share_override": {
                "name": name,
                "duration": duration,
                "period_type": period,
                "start_date": start_date,
                "end_date": end_date,
                "max_booking_time": max_booking,
                "hide_location": hide,
                "location_configurations": _locations(body),
                "availability_rule": _availability(ctx, body, et),
            },
        },
    )
    ctx.state.shares[share.uuid] = share
    return resource(share.resource, 201)


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/scheduling_links", create_scheduling_link, ["POST"], "scheduling_links:write"),
        api_route("/shares", create_share, ["POST"], "shares:write"),
    ]
