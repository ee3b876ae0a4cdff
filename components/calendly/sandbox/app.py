"""Assembles the Starlette app: API routes, ``/oauth/*`` and the ``/_sandbox/*`` control API.

Every request that can change state ends by saving the sandbox's state file (when it has one)
before its response goes out: a change a client saw acknowledged survives a restart. Reads
(GET) change nothing a state file keeps, except ``/oauth/authorize``, which mints a code.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import control, oauth
from .api import routes as api_routes
from .errors import ApiError
from .persistence import SandboxStateError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.requests import Request

    from .sandbox import Sandbox

log = logging.getLogger(__name__)
_SAFE = ("GET", "HEAD")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in Calendly's error shape, not Starlette's text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return ApiError(404).response()
    body = {
        "title": "Method Not Allowed" if exc.status_code == 405 else "Error",
        "message": str(exc.detail),
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _merge(routes: list[Route]) -> list[Route]:
    """One route per path, so 405 answers list every allowed method in ``Allow``."""
    by_path: dict[str, dict[str, Route]] = {}
    for route in routes:
        for method in route.methods or ():
            by_path.setdefault(route.path, {})[method] = route
    merged: list[Route] = []
    for path, table in by_path.items():

        def endpoint_for(table: dict[str, Route]) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                route = table[request.method]
                response: Response = await route.endpoint(request)
                sb: Sandbox = request.app.state.sandbox
                if request.method in _SAFE and request.url.path not in oauth.CHANGING_READS:
                    return response  # reads change nothing kept: skip serialising the state
                try:
                    sb.commit()
                except SandboxStateError as exc:
                    log.error("%s", exc)
                    return ApiError(503, "The sandbox could not save its state.").response()
                return response

            return endpoint

        merged.append(Route(path, endpoint_for(table), methods=sorted(table)))
    return merged


def build_app(sb: Sandbox) -> Starlette:
    """The ASGI app for ``sb``; handlers find the sandbox in ``app.state.sandbox``."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sb.dispatcher.resume()  # deliveries a restart cut off, now that a loop runs
        yield

    app = Starlette(
        routes=_merge([*oauth.routes(), *control.routes(), *api_routes()]),
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = sb
    return app
