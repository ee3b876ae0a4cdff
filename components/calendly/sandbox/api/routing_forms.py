"""Routing forms and their submissions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import forbidden, not_found
from ..gateway import api_route
from .context import Ctx, resource, sort_items

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.routing import Route

    from ..models import RoutingForm


async def list_forms(ctx: Ctx) -> Response:
    """Routing forms of an organization, sorted by created_at."""
    org = ctx.uri("organization", "organizations", required=True) or ""
    keys = ctx.sort(["created_at"], "created_at:asc")
    ctx.require_org(org)
    items = [f for f in ctx.state.routing_forms.values() if f.org_uuid == org]
    items = sort_items(items, keys, {"created_at": lambda f: f.created_at})
    return ctx.page(items, "/routing_forms", ctx.render.routing_form)


def _form(ctx: Ctx, uuid: str) -> RoutingForm:
    form = ctx.state.routing_forms.get(uuid)
    if form is None:
        raise not_found()
    if not ctx.in_org(form.org_uuid):
        raise forbidden()
    return form


async def get_form(ctx: Ctx) -> Response:
    """One routing form."""
    return resource(ctx.render.routing_form(_form(ctx, ctx.request.path_params["uuid"])))


async def list_submissions(ctx: Ctx) -> Response:
    """Submissions of a routing form, sorted by created_at."""
    form = _form(ctx, ctx.uri("form", "routing_forms", required=True) or "")
    keys = ctx.sort(["created_at"], "created_at:asc")
    items = [s for s in ctx.state.submissions.values() if s.form_uuid == form.uuid]
    items = sort_items(items, keys, {"created_at": lambda s: s.created_at})
    return ctx.page(items, "/routing_form_submissions", ctx.render.submission)


async def get_submission(ctx: Ctx) -> Response:
    """One submission."""
    sub = ctx.state.submissions.get(ctx.request.path_params["uuid"])
    if sub is None:
        raise not_found()
    _form(ctx, sub.form_uuid)
    return resource(ctx.render.submission(sub))


def routes() -> list[Route]:
    """Routes of this area."""
    return [
        api_route("/routing_forms", list_forms, ["GET"], "routing_forms:read"),
        api_route("/routing_forms/{uuid}", get_form, ["GET"], "routing_forms:read"),
        api_route("/routing_form_submissions", list_submissions, ["GET"], "routing_forms:read"),
        api_route(
            "/routing_form_submissions/{uuid}", get_submission, ["GET"], "routing_forms:read"
        ),
    ]
