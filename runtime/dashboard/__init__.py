"""The dashboard: server-rendered pages over the management API's service layer, at
``/dashboard`` on ``relay serve`` (mounted with the API).

Pages: overview, instance, executions (search and bulk replay), execution (step tree,
timeline, replay, cancel), connections (test, reconnect). Every page is plain HTML with links
and forms; a small script of ours (``static/dashboard.js``) adds live updates over
Server-Sent Events and a copy button. Sign-in takes an API token; its scope decides what a
page shows and what a form may do (``runtime.dashboard.session``). Templates (Jinja2,
autoescaped) and assets ship in the package: no build step, nothing from another site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, RedirectResponse

from runtime.dashboard.actions import ActionRoutes
from runtime.dashboard.app import PageRoutes
from runtime.dashboard.session import Sessions
from runtime.dashboard.web import Pages, SecurityHeaders
from runtime.management.auth import Authenticator, FailedAttempts

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from runtime.executors import Executor
    from runtime.service import Service

__all__ = ["PREFIX", "create_dashboard", "root_redirect"]

#: Where ``runtime.server`` mounts the dashboard.
PREFIX = "/dashboard"


def create_dashboard(
    relay: Service,
    executor: Executor,
    *,
    attempts: FailedAttempts | None = None,
    prefix: str = PREFIX,
) -> Starlette:
    """The dashboard's app over ``relay`` (replays handed to ``executor``), for mounting at
    ``prefix``; ``attempts`` counts failed sign-ins (as the API counts failed tokens)."""
    sessions = Sessions(relay, Authenticator(relay, attempts or FailedAttempts()), prefix)
    pages = Pages(sessions, prefix)

    async def failure(request: Request, exc: Exception) -> Response:
        # never a traceback to a person: the server's log has it
        page = pages.env.get_template("error.html").render(
            prefix=prefix,
            session=None,
            csrf="",
            may=lambda _s: False,
            path="",
            notice=None,
            status_code=500,
            message="the dashboard failed; the server log says why",
        )
        return HTMLResponse(page, status_code=500)

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.refused(request, None, 404, "no such page")

    return Starlette(
        routes=[*PageRoutes(relay, pages).routes(), *ActionRoutes(relay, executor, pages).routes()],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={500: failure, 404: not_found},
    )


async def root_redirect(request: Request) -> Response:
    """``/``: to the dashboard."""
    return RedirectResponse(PREFIX + "/", status_code=307)
