"""Assembles the Starlette app: API routes, ``/oauth/*`` and the ``/_sandbox/*`` control API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import control, oauth
from .api import routes as api_routes
from .errors import ApiError

if TYPE_CHECKING:
    from .sandbox import Sandbox


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
                return response

            return endpoint

        merged.append(Route(path, endpoint_for(table), methods=sorted(table)))
    return merged


def build_app(sb: Sandbox) -> Starlette:
    """The ASGI app for ``sb``; handlers find the sandbox in ``app.state.sandbox``."""
    app = Starlette(
        routes=_merge([*oauth.routes(), *control.routes(), *api_routes()]),
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sandbox = sb
    return app
