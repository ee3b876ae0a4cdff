"""The dashboard's plumbing: templates (Jinja2, autoescaped), the security headers every answer
carries, and the page helper that checks the session and the scope a page or form needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, RedirectResponse

from runtime.dashboard.session import Session, Sessions, same
from runtime.dashboard.shapes import safe_text, shown_json

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    #: What a form's handler is given once its post is let through: the session and the form.
    PostHandler = Callable[[Request, Session, dict[str, list[Any]]], Awaitable[Response]]

HERE = Path(__file__).resolve().parent

#: No script but our own files, no inline style or script, no framing, no plugin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
#: Seconds before a page's rendering its live stream starts (a refresh more is harmless).
LIVE_MARGIN = 2.0
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds ``HEADERS`` to every answer of ``app`` (and ``no-store`` to its pages: they show
    what a token may see)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``app``, adding the headers to its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if "/static/" not in scope["path"] and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, sending)


def when(value: Any) -> str:
    """UNIX seconds as a UTC time a person reads (``-`` for none)."""
    if not isinstance(value, int | float) or value != value:
        return "-"
    try:
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def milliseconds(value: Any) -> str:
    """A duration in milliseconds, briefly."""
    if not isinstance(value, int | float) or value != value:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _finalize(value: Any) -> Any:
    # every value a template prints is UTF-8 encodable (a payload may hold lone surrogates)
    return safe_text(value) if isinstance(value, str) else value


def environment() -> Environment:
    """The templates, autoescaped (every value shown is text, never markup)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["ms"] = milliseconds
    env.filters["json"] = shown_json
    return env


class Pages:
    """Renders pages for a signed-in session, refusing what its scope does not allow."""

    def __init__(self, sessions: Sessions, prefix: str) -> None:
        self.sessions = sessions
        self.prefix = prefix
        self.env = environment()

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """``template`` with ``context``, the session, and what the layout needs."""
        page = self.env.get_template(template).render(
            prefix=self.prefix,
            session=session,
            csrf=session.csrf if session else "",
            may=session.may if session else (lambda _scope: False),
            path=request.url.path,
            notice=NOTICES.get(request.query_params.get("notice", "")),
            # the page's live stream starts a little before it was read: a write whose time
            # is before the read but whose commit came after still refreshes the page
            rendered_at=repr(self.sessions.relay.runtime.clock.time() - LIVE_MARGIN),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def signin_redirect(self, request: Request) -> RedirectResponse:
        """To the sign-in page, coming back here after (a same-dashboard path only)."""
        back = request.url.path
        if request.url.query:
            back += "?" + request.url.query
        from urllib.parse import quote

        return RedirectResponse(f"{self.prefix}/signin?next={quote(back)}", status_code=303)

    def refused(
        self, request: Request, session: Session | None, status: int, message: str
    ) -> HTMLResponse:
        """The error page: ``status`` with ``message``."""
        return self.render(
            request, "error.html", session, status, status_code=status, message=message
        )

    async def checked_post(
        self, request: Request, scope: str
    ) -> tuple[Session, dict[str, list[Any]]] | HTMLResponse | RedirectResponse:
        """The session and form of a post needing ``scope``, or the answer refusing it: to
        sign in (no session), 403 (a bad CSRF token, or too small a scope)."""
        session = await self.sessions.current(request)
        if session is None:
            return self.signin_redirect(request)
        if not body_fits(request):
            return self.refused(
                request, session, 413, f"a form is at most {FORM_MAX} bytes (with its length sent)"
            )
        try:
            form = await request.form(max_files=1, max_fields=2000)
        except Exception:
            return self.refused(request, session, 400, "the form could not be read")
        fields: dict[str, list[Any]] = {}
        for key, value in form.multi_items():
            fields.setdefault(key, []).append(value)
        if not same(form.get("csrf"), session.csrf):
            return self.refused(
                request, session, 403, "the form's CSRF token is missing or stale: reload the page"
            )
        if not session.may(scope):
            return self.refused(
                request,
                session,
                403,
                f"this needs a token of scope {scope} or above; yours is {session.token.scope}",
            )
        return session, fields

    def posted(self, scope: str, handler: PostHandler) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint for a form needing ``scope``: ``handler(request, session, fields)``
        once ``checked_post`` lets the post through, else its refusal."""

        async def endpoint(request: Request) -> Response:
            checked = await self.checked_post(request, scope)
            if not isinstance(checked, tuple):
                return checked
            return await handler(request, *checked)

        return endpoint


#: The largest form body read (a flow of the API's largest, with room for the form's fields).
FORM_MAX = 1_100_000


def body_fits(request: Request) -> bool:
    """Whether the request says how long its body is, and it is at most ``FORM_MAX`` (a
    browser sends the length of every form; the body is not read otherwise)."""
    length = request.headers.get("content-length", "")
    return length.isascii() and length.isdigit() and int(length[:12]) <= FORM_MAX


#: What a page says after a form posted and redirected to it.
NOTICES = {
    "paused": "Paused: deliveries are recorded and held until it is resumed.",
    "resumed": "Resumed: the held deliveries run now, in the order received.",
    "redeployed": "Redeployed: new executions run the new version.",
    "synced": "Subscription synced.",
    "undeployed": "Undeployed.",
    "canceled": "Cancel requested.",
    "replayed": "Replay recorded: it runs now.",
    "signedout": "Signed out.",
}


def first(fields: dict[str, list[Any]], name: str) -> str | None:
    """The first text value of form field ``name``."""
    for value in fields.get(name, []):
        if isinstance(value, str):
            return value
    return None
