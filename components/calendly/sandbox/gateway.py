"""The path every API request takes: record, authenticate, rate-limit, inject faults, dispatch.

Handlers raise :class:`ApiError`; anything else becomes Calendly's 500 body (and is logged) so
a sandbox bug shows up as a 5xx that tests catch, never as a dropped connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from .api.context import Ctx
from .errors import ApiError
from .ratelimit import Decision

if TYPE_CHECKING:
    from starlette.requests import Request

    from .sandbox import Sandbox

Handler = Callable[[Ctx], Awaitable[Response]]
log = logging.getLogger(__name__)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _with_headers(response: Response, decision: Decision | None) -> Response:
    if decision is not None:
        response.headers.update(decision.headers())
    return response


async def handle(request: Request, handler: Handler, scope: str) -> Response:
    """Run one API request through the sandbox's checks and the handler."""
    sb: Sandbox = request.app.state.sandbox
    await sb.record_api(request)
    bearer = _bearer(request)
    token = sb.tokens.authenticate(bearer) if bearer else None
    if token is None or token.user_uuid not in sb.state.users:
        return ApiError(401).response()
    decision = sb.limiter.hit(token.user_uuid, sb.rate_limit())
    if not decision.allowed:
        return ApiError(429).response(decision.headers())
    if sb.faults.latency:
        await sb.sleep(sb.faults.latency)  # the sandbox's own time: a test clock moves instead
    fault = sb.faults.draw()
    if fault == 429:
        forced = Decision(False, decision.limit, 0, decision.reset)
        return ApiError(429).response(forced.headers())
    if fault == 500:
        return ApiError(500).response(decision.headers())
    if scope and not ({"default", scope} & token.scopes()):
        return ApiError(403).response(decision.headers())
    try:
        response = await handler(Ctx(request, sb, token))
    except ApiError as exc:
        return exc.response(decision.headers())
    except Exception:  # any bug must surface as Calendly's 500, not a crash
        log.exception("sandbox handler failed: %s %s", request.method, request.url.path)
        return ApiError(500).response(decision.headers())
    return _with_headers(response, decision)


def api_route(path: str, handler: Handler, methods: list[str], scope: str) -> Route:
    """A Starlette route whose requests go through :func:`handle`; ``scope`` is the OAuth
    scope the endpoint needs (tokens with scope ``default`` have them all)."""

    async def endpoint(request: Request) -> Response:
        return await handle(request, handler, scope)

    endpoint.__name__ = handler.__name__
    return Route(path, endpoint, methods=methods)
