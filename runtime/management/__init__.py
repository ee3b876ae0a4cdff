"""The management API: ``/api/v1`` on ``relay serve``, a FastAPI app over the service layer.

``create_api`` builds it; ``runtime.server.create_app`` mounts it (unless ``relay serve
--no-api``). Every route but ``/health`` takes a bearer API token (``runtime.management.auth``);
every error is a problem details document (``runtime.management.problems``); the OpenAPI 3.1
document at ``/api/v1/openapi.json`` is generated from the models the handlers declare
(``runtime.management.models``). No CORS middleware is installed: browsers on other origins
get no access.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from runtime.management.auth import Authenticator, FailedAttempts
from runtime.management.bulk import bulk_router
from runtime.management.connections import connections_router
from runtime.management.events import events_router
from runtime.management.lifecycle import lifecycle_router
from runtime.management.problems import Problem, ProblemRoute, answer_for
from runtime.management.routes import executions_router, instances_router
from runtime.management.tokens import tokens_router

if TYPE_CHECKING:
    from starlette.responses import Response

    from runtime.executors import Executor
    from runtime.service import Service

__all__ = ["PREFIX", "api_mount", "create_api"]

#: Where ``runtime.server`` mounts the API.
PREFIX = "/api/v1"

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}


def create_api(
    relay: Service, executor: Executor, *, attempts: FailedAttempts | None = None
) -> FastAPI:
    """The API over ``relay``, handing replays to ``executor``. ``attempts`` counts failed
    authentications (default: ``FailedAttempts()``, 10 a minute per client address)."""
    auth = Authenticator(relay, attempts or FailedAttempts())
    api = FastAPI(
        title="relay management API",
        version="1",
        openapi_url="/openapi.json",
        # the interactive pages load their scripts from a CDN: none here
        docs_url=None,
        redoc_url=None,
        responses={
            400: {"description": "The body could not be read", **_PROBLEM},
            401: {"description": "No valid API token", **_PROBLEM},
            422: {"description": "A field is not valid", **_PROBLEM},
            429: {"description": "Too many failed authentications", **_PROBLEM},
            500: {"description": "The server failed", **_PROBLEM},
        },
    )
    api.router.route_class = ProblemRoute
    # every path is answered as it is (a problem for one the API does not know), never
    # redirected: `/connections/` with an empty name is a 404, not a 307 to the list
    api.router.redirect_slashes = False

    async def problem(request: Request, exc: Exception) -> Response:
        return answer_for(exc, request)

    # unknown paths and methods are answered by the router, outside the routes
    api.add_exception_handler(HTTPException, problem)
    api.add_exception_handler(RequestValidationError, problem)

    @api.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Whether the API answers (no token needed)."""
        return {"status": "ok"}

    api.include_router(instances_router(relay, auth))
    api.include_router(executions_router(relay, executor, auth))
    api.include_router(lifecycle_router(relay, executor, auth))
    api.include_router(tokens_router(relay, auth))
    api.include_router(connections_router(relay, auth, PREFIX))
    api.include_router(events_router(relay, auth))
    api.include_router(bulk_router(relay, executor, auth))
    return api


def api_mount(relay: Service, executor: Executor) -> Mount:
    """The API mounted at ``PREFIX``, for the server's routes. Every path under it is the
    API's to answer (a problem for one it does not know): Starlette's mount pattern would not
    match a path holding a newline and leave it to the server's plain-text 404."""
    mount = Mount(PREFIX, app=create_api(relay, executor))
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return mount
