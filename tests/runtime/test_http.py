"""relay's HTTP layer over real loopback HTTP: no cookies shared between requests, headers
read case-insensitively, tokens kept to their host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from relay_tokens import StaticToken
from relay_uvicorn import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime import ConfigurationError
from runtime.clock import Clock
from runtime.http import HttpClient
from runtime.transport import HostRouter, shared_client


async def _set_cookie(request: Request) -> JSONResponse:
    response = JSONResponse({"ok": True}, headers={"X-RateLimit-Remaining": "9"})
    response.set_cookie("session", "for-the-first-caller")
    return response


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "cookie": request.headers.get("cookie"),
            "authorization": request.headers.get("authorization"),
        }
    )


@pytest_asyncio.fixture
async def api() -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/set", _set_cookie), Route("/echo", _echo)])
    async with serving(app) as url:
        yield url


@pytest.mark.asyncio
async def test_a_cookie_set_for_one_connection_never_reaches_another(api: str) -> None:
    pool: Any = shared_client(HostRouter())
    try:
        alice = HttpClient(api, client=pool, clock=Clock(), auth=StaticToken("alice"))
        bob = HttpClient(api, client=pool, clock=Clock(), auth=StaticToken("bob"))
        first = await alice.request("GET", "/set")
        assert "session=for-the-first-caller" in first.headers["Set-Cookie"]
        assert first.headers["x-ratelimit-remaining"] == "9"  # any case
        seen = (await bob.request("GET", "/echo")).json()
        assert seen == {"cookie": None, "authorization": "Bearer bob"}
        assert not pool.cookies
        with pytest.raises(ValueError, match="keeps no cookies"):
            pool.cookies = {"session": "x"}
        # an explicit Cookie header still goes with its own request
        by_header = await pool.get(f"{api}/echo", headers={"Cookie": "session=explicit"})
        assert by_header.json()["cookie"] == "session=explicit"
        assert (await pool.get(f"{api}/echo")).json()["cookie"] is None
    finally:
        await pool.aclose()


@pytest.mark.asyncio
async def test_a_token_is_never_sent_to_another_host(api: str) -> None:
    pool: Any = shared_client(HostRouter())
    try:
        client = HttpClient(api, client=pool, clock=Clock(), auth=StaticToken("alice"))
        with pytest.raises(ConfigurationError, match="refusing"):
            await client.request("GET", "http://elsewhere.invalid/echo")
    finally:
        await pool.aclose()
