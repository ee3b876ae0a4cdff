"""The control API under ``/_sandbox/``: simulate invitees, inspect deliveries and requests,
set faults, mint clients and tokens. It needs no Calendly auth: it is a local fake's back door,
kept off Calendly's paths so it can never be mistaken for the real API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import ApiError, bad_param
from .timeutil import parse_iso

if TYPE_CHECKING:
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
    """Book a slot: ``{event_type?, start_time?, email?, name?}`` -> 201 invitee."""
    body = await _body(request)
    invitee = sb.book(
        _uuid(_opt_str(body, "event_type")),
        _opt_time(body, "start_time"),
        _opt_str(body, "email"),
        _opt_str(body, "name"),
    )
    return JSONResponse({"resource": invitee}, status_code=201)


async def cancel(request: Request, sb: Sandbox) -> Response:
    """The invitee cancels: ``{invitee, reason?}``."""
    body = await _body(request)
    out = sb.cancel(_required(body, "invitee"), _opt_str(body, "reason"))
    return JSONResponse({"resource": out})


async def reschedule(request: Request, sb: Sandbox) -> Response:
    """The invitee reschedules: ``{invitee, start_time?}`` -> 201 new invitee."""
    body = await _body(request)
    out = sb.reschedule(_required(body, "invitee"), _opt_time(body, "start_time"))
    return JSONResponse({"resource": out}, status_code=201)


async def no_show(request: Request, sb: Sandbox) -> Response:
    """Mark a no-show: ``{invitee}`` -> 201 InviteeNoShow."""
    body = await _body(request)
    return JSONResponse({"resource": sb.mark_no_show(_required(body, "invitee"))}, status_code=201)


async def unmark_no_show(request: Request, sb: Sandbox) -> Response:
    """Remove a no-show mark: ``{invitee}`` -> 204."""
    body = await _body(request)
    sb.unmark_no_show(_required(body, "invitee"))
    return Response(status_code=204)


async def submit_form(request: Request, sb: Sandbox) -> Response:
    """Submit a routing form: ``{form?, answers?: {question name or uuid: answer}}``."""
    body = await _body(request)
    answers = body.get("answers")
    if answers is not None and not (
        isinstance(answers, dict) and all(isinstance(v, str) for v in answers.values())
    ):
        raise bad_param("answers", "must map questions to string answers")
    out = sb.submit_routing_form(_uuid(_opt_str(body, "form")), answers)
    return JSONResponse({"resource": out}, status_code=201)


async def clients(request: Request, sb: Sandbox) -> Response:
    """Register an OAuth client -> ``{client_id, client_secret}``."""
    client_id, secret = sb.register_client()
    return JSONResponse({"client_id": client_id, "client_secret": secret}, status_code=201)


async def tokens(request: Request, sb: Sandbox) -> Response:
    """Mint a token: ``{user?, kind?: "oauth"|"pat", scope?}``."""
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
    """Every webhook delivery so far."""
    return JSONResponse({"collection": [d.as_json() for d in sb.deliveries]})


async def requests_(request: Request, sb: Sandbox) -> Response:
    """Every recorded API/OAuth request so far (Authorization redacted)."""
    return JSONResponse({"collection": sb.requests})


async def faults(request: Request, sb: Sandbox) -> Response:
    """Set faults: ``{error_rate_429?, error_rate_5xx?, latency?, seed?}``."""
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
    """Switch the organization's plan: ``{plan: free|standard|enterprise}``."""
    body = await _body(request)
    value = _opt_str(body, "plan")
    if value not in ("free", "standard", "enterprise"):
        raise bad_param("plan", "must be free, standard or enterprise")
    sb.set_plan(value)
    return JSONResponse({"plan": value})


async def calendar(request: Request, sb: Sandbox) -> Response:
    """Break or mend a user's calendar connection: ``{user?, broken: bool}`` (user: the owner
    by default). While broken, ``/user_busy_times`` for that user answers 424."""
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
    """A summary of the seed: organization, owner, users, event types, forms."""
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


def routes() -> list[Route]:
    """The control routes."""
    table: list[tuple[str, Any, str]] = [
        ("/_sandbox/book", book, "POST"),
        ("/_sandbox/cancel", cancel, "POST"),
        ("/_sandbox/reschedule", reschedule, "POST"),
        ("/_sandbox/no_show", no_show, "POST"),
        ("/_sandbox/no_show/delete", unmark_no_show, "POST"),
        ("/_sandbox/routing_form_submissions", submit_form, "POST"),
        ("/_sandbox/clients", clients, "POST"),
        ("/_sandbox/tokens", tokens, "POST"),
        ("/_sandbox/deliveries", deliveries, "GET"),
        ("/_sandbox/requests", requests_, "GET"),
        ("/_sandbox/faults", faults, "POST"),
        ("/_sandbox/plan", plan, "POST"),
        ("/_sandbox/calendar", calendar, "POST"),
        ("/_sandbox/state", state, "GET"),
    ]
    return [Route(path, _wrap(handler), methods=[method]) for path, handler, method in table]
