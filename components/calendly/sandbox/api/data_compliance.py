"""Data compliance deletions (Enterprise plan, admins only): 202 with ``{}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, Response

from ..errors import bad_param
from ..gateway import api_route
from ..timeutil import parse_iso
from .context import EMAIL_RE, Ctx

if TYPE_CHECKING:
    from starlette.routing import Route

_PLAN_MESSAGE = "Please upgrade your Calendly account to Enterprise."


def _gate(ctx: Ctx) -> str:
    org = ctx.user.org_uuid
    ctx.require_org(org, admin=True)
    ctx.require_plan("enterprise", _PLAN_MESSAGE)
    return org


async def delete_invitee_data(ctx: Ctx) -> Response:
    """Remove every invitee with one of the emails from the organization's events."""
    body = await ctx.body()
    emails = body.get("emails")
    if (
        not isinstance(emails, list)
        or not emails
        or len(emails) > 100
        or not all(isinstance(e, str) and EMAIL_RE.match(e) for e in emails)
    ):
        raise bad_param("emails", "must be a list of 1 to 100 email addresses")
    org = _gate(ctx)
    doomed = {e.lower() for e in emails}
    st = ctx.state
    for inv in [i for i in st.invitees.values() if i.email.lower() in doomed]:
        ev = st.events.get(inv.event_uuid)
        if ev is None or ev.org_uuid != org:
            continue
        ev.invitee_uuids.remove(inv.uuid)
        if inv.no_show_uuid:
            st.no_shows.pop(inv.no_show_uuid, None)
        del st.invitees[inv.uuid]
    return JSONResponse({}, status_code=202)


async def delete_event_data(ctx: Ctx) -> Response:
    """Remove the organization's events starting in [start_time, end_time) with invitees."""
    body = await ctx.body()
    bounds: list[float] = []
    for name in ("start_time", "end_time"):
        value = body.get(name)
        parsed = parse_iso(value) if isinstance(value, str) else None
        if parsed is None:
            raise bad_param(name, "must be an ISO 8601 time")
        bounds.append(parsed)
    start, end = bounds
    if end <= start:
        raise bad_param("end_time", "must be after start_time")
    org = _gate(ctx)
    st = ctx.state
    for ev in [e for e in st.events.values() if e.org_uuid == org and start <= e.start < end]:
        for uuid in ev.invitee_uuids:
            inv = st.invitees.pop(uuid, None)
            if inv is not None and inv.no_show_uuid:
                st.no_shows.pop(inv.no_show_uuid, None)
        del st.events[ev.uuid]
    return JSONResponse({}, status_code=202)


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route(
            "/data_compliance/deletion/invitees",
            delete_invitee_data,
            ["POST"],
            "data_compliance:write",
        ),
        api_route(
            "/data_compliance/deletion/events", delete_event_data, ["POST"], "data_compliance:write"
        ),
    ]
