"""Availability: event type available times, user busy times and availability schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.responses import JSONResponse, Response

from ..errors import ApiError, bad_param, forbidden, not_found
from ..gateway import api_route
from ..timeutil import iso
from .context import Ctx, resource

if TYPE_CHECKING:
    from starlette.routing import Route

    from ..models import JSON, Schedule

MAX_RANGE = 7 * 86400.0
_WDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _range(ctx: Ctx) -> tuple[float, float]:
    """``start_time``/``end_time``: both required, start in the future, at most 7 days."""
    start = ctx.time("start_time", required=True) or 0.0
    end = ctx.time("end_time", required=True) or 0.0
    if start < ctx.now:
        raise bad_param("start_time", "must be in the future")
    if end <= start:
        raise bad_param("end_time", "must be after start_time")
    if end - start > MAX_RANGE:
        raise bad_param("end_time", "must be no more than 7 days after start_time")
    return start, end


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _intervals(sched: Schedule, day: date) -> list[JSON]:
    """The intervals of a day: a date rule overrides the weekday rule."""
    iso_day = day.isoformat()
    for rule in sched.rules:
        if rule.get("type") == "date" and rule.get("date") == iso_day:
            return list(rule.get("intervals", []))
    wday = _WDAYS[day.weekday()]
    for rule in sched.rules:
        if rule.get("type") == "wday" and rule.get("wday") == wday:
            return list(rule.get("intervals", []))
    return []


def _busy(ctx: Ctx, user_uuid: str, start: float, end: float) -> list[tuple[float, float, str]]:
    return sorted(
        (ev.start, ev.end, ev.uuid)
        for ev in ctx.state.events.values()
        if ev.status == "active"
        and user_uuid in ev.host_uuids
        and ev.start < end
        and ev.end > start
    )


async def list_available_times(ctx: Ctx) -> Response:
    """Free slots of an event type between ``start_time`` and ``end_time``."""
    et_uuid = ctx.uri("event_type", "event_types", required=True)
    start, end = _range(ctx)
    et = ctx.state.event_types.get(et_uuid or "")
    if et is None:
        raise not_found()
    if not ctx.in_org(et.org_uuid):
        raise forbidden()
    sched = ctx.state.schedules.get(et.schedule_uuid or "")
    if not et.active or sched is None:
        return JSONResponse({"collection": []})
    tz = _zone(sched.timezone)
    busy = _busy(ctx, et.host_uuids[0], start, end + et.duration * 60)
    step = et.duration * 60
    slots: list[JSON] = []
    day = datetime.fromtimestamp(start, tz).date()
    last_day = datetime.fromtimestamp(end, tz).date()
    while day <= last_day:
        for interval in _intervals(sched, day):
            h1, m1 = (int(x) for x in interval["from"].split(":"))
            h2, m2 = (int(x) for x in interval["to"].split(":"))
            slot = datetime(day.year, day.month, day.day, h1, m1, tzinfo=tz).timestamp()
            stop = datetime(day.year, day.month, day.day, h2, m2, tzinfo=tz).timestamp()
            while slot + step <= stop:
                if start <= slot < end and not any(
                    b0 < slot + step and b1 > slot for b0, b1, _ in busy
                ):
                    slots.append(
                        {
                            "status": "available",
                            "invitees_remaining": et.invitees_limit,
                            "start_time": iso(slot),
                            "scheduling_url": ctx.render.page_url(
                                f"{et.slug}/{datetime.fromtimestamp(slot, UTC):%Y-%m-%dT%H:%M:%S}Z"
                            ),
                        }
                    )
                slot += step
        day += timedelta(days=1)
    return JSONResponse({"collection": slots})


def _user_in_org(ctx: Ctx, name: str = "user") -> str:
    user = ctx.uri(name, "users", required=True) or ""
    target = ctx.state.users.get(user)
    if target is None:
        raise not_found()
    if user != ctx.user.uuid and not ctx.in_org(target.org_uuid):
        raise forbidden("This user is not in your organization")
    return user


async def list_busy_times(ctx: Ctx) -> Response:
    """The user's scheduled (Calendly) events overlapping the range, ascending."""
    user = _user_in_org(ctx)
    start, end = _range(ctx)
    if user in ctx.state.calendar_errors:
        raise ApiError(424)  # Calendly cannot read the user's connected calendar
    collection = [
        {
            "type": "calendly",
            "start_time": iso(b0),
            "end_time": iso(b1),
            "buffered_start_time": iso(b0),
            "buffered_end_time": iso(b1),
            "event": {"uri": ctx.render.event_uri(uuid)},
        }
        for b0, b1, uuid in _busy(ctx, user, start, end)
    ]
    return JSONResponse({"collection": collection})


async def list_schedules(ctx: Ctx) -> Response:
    """All availability schedules of a user (not paginated)."""
    user = _user_in_org(ctx)
    items = [ctx.render.schedule(s) for s in ctx.state.schedules.values() if s.user_uuid == user]
    return JSONResponse({"collection": items})


async def get_schedule(ctx: Ctx) -> Response:
    """One availability schedule."""
    sched = ctx.state.schedules.get(ctx.request.path_params["uuid"])
    if sched is None:
        raise not_found()
    owner = ctx.state.users.get(sched.user_uuid)
    if owner is None or (owner.uuid != ctx.user.uuid and not ctx.in_org(owner.org_uuid)):
        raise forbidden("This user is not in your organization")
    return resource(ctx.render.schedule(sched))


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route(
            "/event_type_available_times", list_available_times, ["GET"], "availability:read"
        ),
        api_route("/user_busy_times", list_busy_times, ["GET"], "availability:read"),
        api_route("/user_availability_schedules", list_schedules, ["GET"], "availability:read"),
        api_route(
            "/user_availability_schedules/{uuid}", get_schedule, ["GET"], "availability:read"
        ),
    ]
