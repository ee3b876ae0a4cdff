"""A small in-test component ("widgets") and a real in-process OAuth API for it.

The API is a real Starlette app reached through relay's HTTP layer (no mocks): it issues
single-use rotating refresh tokens and counts refreshes, so tests can prove threading and
single-flight refresh.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime import (
    Action,
    Clock,
    Component,
    Connection,
    Context,
    DataSource,
    FatalApiError,
    Input,
    OAuth2Endpoints,
    RetriableApiError,
    hookimpl,
)

API_HOST = "widgets.test"
API_URL = f"http://{API_HOST}"


class WidgetApi:
    """State of the fake API: tokens, expiry by an injected clock, refresh count."""

    def __init__(self, clock: Clock, ttl: float = 3600) -> None:
        self.clock = clock
        self.ttl = ttl
        self.access: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.refreshes = 0
        self.invalid_grants = 0
        self.seen_tokens: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/oauth/authorize", self.authorize),
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/me", self.me),
            ]
        )

    def issue(self) -> dict[str, Any]:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access[access] = self.clock.time() + self.ttl
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.ttl,
            "token_type": "Bearer",
        }

    async def authorize(self, request: Request) -> Any:
        from starlette.responses import RedirectResponse

        q = request.query_params
        return RedirectResponse(f"{q['redirect_uri']}?code=c0de&state={q['state']}", 302)

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") == "authorization_code":
            return JSONResponse(self.issue())
        refresh = str(form.get("refresh_token"))
        if refresh not in self.refresh_tokens:
            self.invalid_grants += 1
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.refresh_tokens.discard(refresh)  # single use: rotate
        self.refreshes += 1
        await asyncio.sleep(0)  # let concurrent callers pile up, as a real server would
        return JSONResponse(self.issue())

    async def me(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen_tokens.append(token)
        if self.access.get(token, 0) <= self.clock.time():
            return JSONResponse({"title": "Unauthenticated", "message": "bad token"}, 401)
        return JSONResponse({"resource": {"name": "Widget Owner"}})


def _endpoints(fields: Mapping[str, Any]) -> OAuth2Endpoints:
    return OAuth2Endpoints(
        authorize_url=f"{API_URL}/oauth/authorize",
        token_url=f"{API_URL}/oauth/token",
        api_base_url=API_URL,
        headless_consent=True,
    )


async def echo(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": params}


def add(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"data": sum(params["values"])}


async def whoami(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    client = ctx.http(params["connection"])
    times = params.get("parallel", 1)
    answers = await asyncio.gather(*(client.request("GET", "/me") for _ in range(times)))
    return {"data": answers[0].json()["resource"]}


async def flaky(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    counter = ctx.state.execution.setdefault("flaky_calls", 0) + 1
    ctx.state.execution["flaky_calls"] = counter
    if counter <= params["failures"]:
        raise RetriableApiError(503, "Unavailable", "try later")
    return {"data": counter}


async def fail(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    raise FatalApiError(
        404, "Resource Not Found", "no such widget", [{"parameter": "id", "message": "unknown"}]
    )


async def colors(ctx: Context, params: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": c, "label": c.title()} for c in ("red", "green")]


WIDGETS = Component(
    key="widgets",
    label="Widgets",
    description="A test component.",
    connections=(
        Connection(
            key="oauth",
            label="OAuth",
            kind="oauth2",
            endpoints=_endpoints,
            inputs=(
                Input(key="clientId", label="Client ID", required=True),
                Input(key="clientSecret", label="Client Secret", type="password", required=True),
            ),
        ),
    ),
    actions=(
        Action(
            key="echo",
            label="Echo",
            description="Returns its inputs.",
            inputs=(
                Input(key="text", label="Text", required=True),
                Input(key="count", label="Count", type="integer", default=1),
                Input(key="color", label="Color", data_source="colors"),
                Input(key="secret", label="Secret", type="password"),
                Input(key="when", label="When", type="timestamp"),
                Input(key="tags", label="Tags", collection="valuelist"),
                Input(key="body", label="Body", type="code"),
            ),
            perform=echo,
        ),
        Action(
            key="add",
            label="Add",
            description="Sums numbers.",
            inputs=(
                Input(
                    key="values",
                    label="Values",
                    type="number",
                    collection="valuelist",
                    required=True,
                ),
            ),
            perform=add,
        ),
        Action(
            key="whoami",
            label="Who am I",
            description="Calls the API.",
            inputs=(
                Input(key="connection", label="Connection", type="connection", required=True),
                Input(key="parallel", label="Parallel", type="integer", default=1),
            ),
            perform=whoami,
        ),
        Action(
            key="flaky",
            label="Flaky",
            description="Fails then succeeds.",
            inputs=(Input(key="failures", label="Failures", type="integer", required=True),),
            perform=flaky,
        ),
        Action(key="fail", label="Fail", description="Always fails.", inputs=(), perform=fail),
    ),
    data_sources=(
        DataSource(
            key="colors", label="Colors", description="Pick a color.", inputs=(), perform=colors
        ),
    ),
)


class WidgetsPlugin:
    __name__ = "widgets-plugin"

    @hookimpl
    def register_components(self, register: Any) -> None:
        register(WIDGETS)
