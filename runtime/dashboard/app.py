"""The dashboard's pages (GET): overview, instance, executions, execution, connections, the
sign-in form, and the live event stream the pages' script listens to."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from runtime.dashboard import forms, reads
from runtime.dashboard.session import SignInFailed, same
from runtime.dashboard.web import HERE, Pages, body_fits
from runtime.events import EventFeed, time_cursor
from runtime.events import decode_cursor as decode_event_cursor
from runtime.management.connection_ops import connection_views
from runtime.management.events import EventStreamResponse, sse
from runtime.management.problems import ApiProblem
from runtime.management.views import decode_cursor, encode_cursor, execution_summary

if TYPE_CHECKING:
    from starlette.requests import Request

    from runtime.dashboard.session import Session
    from runtime.service import Service
    from runtime.store.deliveries import Outcome

#: Executions one page of the search lists.
PAGE = 50


class PageRoutes:
    """The GET routes (and sign-in's post) over ``relay``."""

    def __init__(self, relay: Service, pages: Pages) -> None:
        self.relay = relay
        self.pages = pages
        self.sessions = self.pages.sessions

    def routes(self) -> list[Route | Mount]:
        """The routes, for the dashboard's app."""
        return [
            Route("/", self.overview),
            Route("/signin", self.signin_form, methods=["GET"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", self.pages.posted("read", self.signout), methods=["POST"]),
            Route("/instances/{name}", self.instance),
            Route("/instances/{name}/deliveries", self.deliveries),
            Route("/executions", self.executions),
            Route("/executions/{execution_id}", self.execution),
            Route("/connections", self.connections),
            Route("/events", self.events),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

    async def overview(self, request: Request) -> Response:
        """Each instance's status, last 24 hours and last execution; what needs attention."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        return self.pages.render(
            request, "overview.html", session, **await reads.overview(self.relay)
        )

    async def signin_form(self, request: Request) -> Response:
        """The sign-in form."""
        response = Response()
        csrf = self.sessions.signin_csrf(request, response)
        answer = self.pages.render(
            request, "signin.html", None, signin_csrf=csrf, next=_next(request), error=None
        )
        for value in response.headers.getlist("set-cookie"):
            answer.headers.append("set-cookie", value)
        return answer

    async def signin(self, request: Request) -> Response:
        """Sign in with an API token."""
        if not body_fits(request):
            return self.pages.refused(request, None, 413, "the sign-in form is too large")
        try:
            form = await request.form(max_files=0, max_fields=10)
        except HTTPException:  # a malformed multipart body
            return self.pages.refused(request, None, 400, "the form could not be read")
        token, expected = form.get("token"), request.cookies.get("relay_signin")
        target = _safe_next(form.get("next"), self.pages.prefix)
        if not same(form.get("csrf"), expected):
            return self.pages.refused(request, None, 403, "the sign-in form is stale: reload it")
        if not isinstance(token, str) or not token.strip() or len(token) > 400:
            return _signin_error(request, self.pages, "paste an API token (relay tokens create)")
        answer = RedirectResponse(target, status_code=303)
        try:
            await self.sessions.sign_in(request, answer, token)
        except SignInFailed as exc:
            return _signin_error(request, self.pages, str(exc))
        return answer

    async def signout(self, request: Request, session: Session, _fields: Any) -> Response:
        """Sign out."""
        answer = RedirectResponse(f"{self.pages.prefix}/signin?notice=signedout", status_code=303)
        await self.sessions.sign_out(session, answer)
        return answer

    async def instance(self, request: Request) -> Response:
        """One instance."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        name = request.path_params["name"]
        found = await self.relay.store.get_instance(name)
        if found is None:
            return self.pages.refused(request, session, 404, f"no instance named {name!r}")
        return self.pages.render(
            request, "instance.html", session, **await reads.instance_page(self.relay, found)
        )

    async def deliveries(self, request: Request) -> Response:
        """One instance's deliveries, a page at a time, narrowed to an outcome."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        name = request.path_params["name"]
        found = await self.relay.store.get_instance(name)
        if found is None:
            return self.pages.refused(request, session, 404, f"no instance named {name!r}")
        problems: dict[str, str] = {}
        outcome = request.query_params.get("outcome", "") or None
        if outcome is not None and outcome not in reads.OUTCOMES:
            problems["outcome"] = "one of " + ", ".join(reads.OUTCOMES)
        cursor = request.query_params.get("cursor", "")
        after = None
        if cursor:
            try:  # a cursor this dashboard links to is far shorter than 400 characters
                after = decode_cursor(cursor) if len(cursor) <= 400 else None
            except ApiProblem:
                after = None
            if after is None:
                problems["cursor"] = "not a page this dashboard linked to"
        shown: dict[str, Any] = {
            "deliveries": [],
            "deliveries_cursor": None,
            "deliveries_outcome": None,
            "outcomes": reads.OUTCOMES,
        }
        if not problems:
            chosen = cast("Outcome | None", outcome)
            shown = await reads.deliveries_panel(self.relay, name, chosen, after)
        return self.pages.render(
            request,
            "deliveries.html",
            session,
            status=422 if problems else 200,
            instance=found,
            problems=problems,
            paged=after is not None,
            **shown,
        )

    async def executions(self, request: Request) -> Response:
        """The executions search."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        params, problems = forms.search(request.query_params)
        rows, more = [], False
        if not problems:
            after = None
            if params.get("cursor"):
                try:
                    after = decode_cursor(params["cursor"])
                except ApiProblem:
                    problems["cursor"] = "not a page this dashboard linked to"
            if not problems:
                rows = await self.relay.store.page_executions(
                    reads.list_filter(params), PAGE + 1, after
                )
                more = len(rows) > PAGE
                rows = rows[:PAGE]
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        next_link = None
        if more:
            next_link = "?" + urlencode({**query, "cursor": encode_cursor(rows[-1])})
        names = [i.name for i in await self.relay.store.list_instances()]
        return self.pages.render(
            request,
            "executions.html",
            session,
            status=422 if problems else 200,
            items=[execution_summary(r) for r in rows],
            query=request.query_params,
            problems=problems,
            next_link=next_link,
            instances=names,
            statuses=forms.STATUSES,
        )

    async def execution(self, request: Request) -> Response:
        """One execution."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        execution_id = request.path_params["execution_id"]
        row = (
            await self.relay.store.get_execution(execution_id) if len(execution_id) <= 64 else None
        )
        if row is None:
            return self.pages.refused(request, session, 404, f"no execution {execution_id!r}")
        return self.pages.render(
            request, "execution.html", session, **await reads.execution_page(self.relay, row)
        )

    async def connections(self, request: Request) -> Response:
        """The stored connections."""
        session = await self.sessions.current(request)
        if session is None:
            return self.pages.signin_redirect(request)
        return self.pages.render(
            request, "connections.html", session, connections=await connection_views(self.relay)
        )

    async def events(self, request: Request) -> Response:
        """Execution events for the pages' script (Server-Sent Events)."""
        session = await self.sessions.current(request)
        if session is None:
            return Response("sign in first", status_code=401, media_type="text/plain")
        instance = request.query_params.get("instance") or None
        if instance is not None and len(instance) > 200:
            instance = None
        # a reconnecting EventSource sends the last id it saw; a page, when it was rendered
        after = decode_event_cursor(request.headers.get("last-event-id", "")[:400])
        since = request.query_params.get("since", "")[:40]
        if after is None and since:
            try:
                moment = float(since)
            except ValueError:
                moment = math.nan
            if math.isfinite(moment):
                after = time_cursor(moment)
        feed = EventFeed(self.relay.store, instance=instance, after=after)
        return EventStreamResponse(
            sse(feed), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )


def _signin_error(request: Request, pages: Pages, message: str) -> Response:
    csrf = request.cookies.get("relay_signin", "")
    return pages.render(
        request,
        "signin.html",
        None,
        status=401,
        signin_csrf=csrf,
        next=_next(request),
        error=message,
    )


def _next(request: Request) -> str:
    prefix = str(request.scope.get("root_path", "")) or "/dashboard"
    return _safe_next(request.query_params.get("next"), prefix, "")


def _safe_next(value: Any, prefix: str, default: str | None = None) -> str:
    """A path inside the dashboard (under ``prefix``) to go back to after signing in, never
    another site; else ``default`` (the overview)."""
    fallback = prefix + "/" if default is None else default
    if not isinstance(value, str) or len(value) > 2000:
        return fallback
    if not (value == prefix or value.startswith(prefix + "/")):
        return fallback
    if "\\" in value or "//" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return fallback
    return value
