"""The control API under ``/_sandbox/``: simulate invitees, inspect deliveries and requests,
set faults, mint clients and tokens. It needs no Calendly auth: it is a local fake's back door,
kept off Calendly's paths so it can never be mistaken for the real API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ApiError, bad_param
from .timeutil import parse_iso

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

    from .sandbox import Sandbox


def _sb(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_param(name, "must be a string")
    return value


def _opt_time(body: dict[str, Any], name: str) -> float | None:
    value = _opt_str(body, name)
    if value is None:
        return None
    parsed = parse_iso(value)
    if parsed is None:
        raise bad_param(name, "must be an ISO 8601 time")
    return parsed


def _uuid(ref: str | None) -> str | None:
    return ref.rstrip("/").rsplit("/", 1)[-1] if ref else None


def _required(body: dict[str, Any], name: str) -> str:
    value = _opt_str(body, name)
    if not value:
        raise bad_param(name, "is required")
    return value


async def book(request: Request, sb: Sandbox) -> Response:
    """An invitee books a slot (201, the new invitee); webhooks fire."""
    body = await _body(request)
    invitee = sb.book(
        _uuid(_opt_str(body, "event_type")),
        _opt_time(body, "start_time"),
        _opt_str(body, "email"),
        _opt_str(body, "name"),
    )
    return JSONResponse({"resource": invitee}, status_code=201)


async def cancel(request: Request, sb: Sandbox) -> Response:
    """The invitee cancels (the canceled invitee); webhooks fire."""
    body = await _body(request)
    out = sb.cancel(_required(body, "invitee"), _opt_str(body, "reason"))
    return JSONResponse({"resource": out})


async def reschedule(request: Request, sb: Sandbox) -> Response:
    """The invitee reschedules (201, the new invitee); webhooks fire."""
    body = await _body(request)
    out = sb.reschedule(_required(body, "invitee"), _opt_time(body, "start_time"))
    return JSONResponse({"resource": out}, status_code=201)


async def no_show(request: Request, sb: Sandbox) -> Response:
    """Mark the invitee as a no-show (201, the InviteeNoShow)."""
    body = await _body(request)
    return JSONResponse({"resource": sb.mark_no_show(_required(body, "invitee"))}, status_code=201)


async def unmark_no_show(request: Request, sb: Sandbox) -> Response:
    """Remove the invitee's no-show mark (204)."""
    body = await _body(request)
    sb.unmark_no_show(_required(body, "invitee"))
    return Response(status_code=204)


async def submit_form(request: Request, sb: Sandbox) -> Response:
    """Submit a routing form (201, the submission); webhooks fire."""
    body = await _body(request)
    answers = body.get("answers")
    if answers is not None and not (
        isinstance(answers, dict) and all(isinstance(v, str) for v in answers.values())
    ):
        raise bad_param("answers", "must map questions to string answers")
    out = sb.submit_routing_form(_uuid(_opt_str(body, "form")), answers)
    return JSONResponse({"resource": out}, status_code=201)


async def clients(request: Request, sb: Sandbox) -> Response:
    """Register an OAuth client (201, its client_id and client_secret)."""
    client_id, secret = sb.register_client()
    return JSONResponse({"client_id": client_id, "client_secret": secret}, status_code=201)


async def tokens(request: Request, sb: Sandbox) -> Response:
    """Mint an OAuth token pair or a personal access token (201)."""
    body = await _body(request)
    kind = _opt_str(body, "kind") or "oauth"
    user = _uuid(_opt_str(body, "user"))
    if user is not None and user not in sb.state.users:
        raise ApiError(404)
    if kind == "pat":
        return JSONResponse(
            {"access_token": sb.personal_access_token(user), "token_type": "Bearer"},
            status_code=201,
        )
    if kind != "oauth":
        raise bad_param("kind", "must be oauth or pat")
    return JSONResponse(sb.issue_token(user, _opt_str(body, "scope") or "default"), status_code=201)


async def deliveries(request: Request, sb: Sandbox) -> Response:
    """Every webhook delivery so far, with each attempt's status code."""
    return JSONResponse({"collection": [d.as_json() for d in sb.deliveries]})


async def requests_(request: Request, sb: Sandbox) -> Response:
    """Every recorded API and OAuth request (secrets redacted; not kept in --state)."""
    return JSONResponse({"collection": sb.requests})


async def faults(request: Request, sb: Sandbox) -> Response:
    """Inject 429s, 500s and latency into API calls (the new settings)."""
    body = await _body(request)
    try:
        sb.set_faults(
            float(body.get("error_rate_429", 0.0)),
            float(body.get("error_rate_5xx", 0.0)),
            float(body.get("latency", 0.0)),
            body.get("seed") if isinstance(body.get("seed"), int) else None,
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return JSONResponse(sb.faults.summary())


async def plan(request: Request, sb: Sandbox) -> Response:
    """Switch the organization's plan (rate limits and plan-gated endpoints follow)."""
    body = await _body(request)
    value = _opt_str(body, "plan")
    if value not in ("free", "standard", "enterprise"):
        raise bad_param("plan", "must be free, standard or enterprise")
    sb.set_plan(value)
    return JSONResponse({"plan": value})


async def calendar(request: Request, sb: Sandbox) -> Response:
    """Break or mend a user's calendar connection (broken: /user_busy_times answers 424)."""
    body = await _body(request)
    broken = body.get("broken")
    if not isinstance(broken, bool):
        raise bad_param("broken", "must be true or false")
    user = _uuid(_opt_str(body, "user")) or sb.state.owner_uuid
    try:
        sb.set_calendar_error(user, broken)
    except KeyError:
        raise ApiError(404) from None
    return JSONResponse({"user": user, "broken": broken})


async def state(request: Request, sb: Sandbox) -> Response:
    """A summary of the data: organization, owner, users, event types, forms, plan."""
    return JSONResponse(sb.summary())


def _wrap(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request, _sb(request))
        except ApiError as exc:
            return exc.response()
        return response

    endpoint.__name__ = handler.__name__
    return endpoint


@attrs.frozen
class ControlRoute:
    """One control endpoint: the app serves it and ``GET /_sandbox/`` describes it, both from
    :data:`TABLE`, so the index cannot drift from what is served."""

    method: str
    path: str
    handler: Any
    #: body field -> what it means (empty for endpoints without a body)
    body: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def summary(self) -> str:
        """The first line of the handler's docstring."""
        return (self.handler.__doc__ or "").strip().splitlines()[0]

    def describe(self, base_url: str) -> dict[str, Any]:
        """The index entry."""
        return {
            "method": self.method,
            "path": self.path,
            "url": f"{base_url}{self.path}",
            "summary": self.summary,
            "body": dict(self.body),
        }


async def index(request: Request, sb: Sandbox) -> Response:
    """This index: every control endpoint with its method, path, purpose and body fields."""
    base = sb.config.base_url
    return JSONResponse(
        {
            "sandbox": "Calendly API v2 sandbox",
            "api_base_url": base,
            "control": [route.describe(base) for route in TABLE],
        }
    )


_INVITEE = "invitee URI or UUID"
_START = "ISO 8601 start time (default: tomorrow at the next half hour)"
TABLE: tuple[ControlRoute, ...] = (
    ControlRoute("GET", "/_sandbox/", index),
    ControlRoute("GET", "/_sandbox/state", state),
    ControlRoute(
        "POST",
        "/_sandbox/book",
        book,
        {
            "event_type": "event type URI or UUID (default: the owner's first active one)",
            "start_time": _START,
            "email": "invitee email",
            "name": "invitee name",
        },
    ),
    ControlRoute(
        "POST", "/_sandbox/cancel", cancel, {"invitee": _INVITEE, "reason": "why (optional)"}
    ),
    ControlRoute(
        "POST",
        "/_sandbox/reschedule",
        reschedule,
        {"invitee": _INVITEE, "start_time": "ISO 8601 new start time (default: a day later)"},
    ),
    ControlRoute("POST", "/_sandbox/no_show", no_show, {"invitee": _INVITEE}),
    ControlRoute("POST", "/_sandbox/no_show/delete", unmark_no_show, {"invitee": _INVITEE}),
    ControlRoute(
        "POST",
        "/_sandbox/routing_form_submissions",
        submit_form,
        {
            "form": "routing form URI or UUID (default: the first published one)",
            "answers": "object: question name or UUID -> answer text",
        },
    ),
    ControlRoute("POST", "/_sandbox/clients", clients),
    ControlRoute(
        "POST",
        "/_sandbox/tokens",
        tokens,
        {
            "user": "user URI or UUID (default: the owner)",
            "kind": "oauth (default) or pat",
            "scope": "OAuth scopes, space-separated (default: default)",
        },
    ),
    ControlRoute("GET", "/_sandbox/deliveries", deliveries),
    ControlRoute("GET", "/_sandbox/requests", requests_),
    ControlRoute(
        "POST",
        "/_sandbox/faults",
        faults,
        {
            "error_rate_429": "fraction 0..1 of API calls answered 429",
            "error_rate_5xx": "fraction 0..1 of API calls answered 500",
            "latency": "seconds added to each API call",
            "seed": "integer seed for the fault draws",
        },
    ),
    ControlRoute("POST", "/_sandbox/plan", plan, {"plan": "free, standard or enterprise"}),
    ControlRoute(
        "POST",
        "/_sandbox/calendar",
        calendar,
        {"user": "user URI or UUID (default: the owner)", "broken": "true or false"},
    ),
)


async def root(request: Request) -> Response:
    """``GET /``: where things are, pointing to the control index."""
    sb = _sb(request)
    base = sb.config.base_url
    return JSONResponse(
        {
            "sandbox": "Calendly API v2 sandbox",
            "api_base_url": base,
            "oauth": {"authorize": f"{base}/oauth/authorize", "token": f"{base}/oauth/token"},
            "control_index": f"{base}/_sandbox/",
        }
    )


def routes() -> list[Route]:
    """The control routes of :data:`TABLE`, and ``GET /`` pointing to their index."""
    served = [Route(r.path, _wrap(r.handler), methods=[r.method]) for r in TABLE]
    return [Route("/", root, methods=["GET"]), *served]
