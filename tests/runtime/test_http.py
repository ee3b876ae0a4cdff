"""relay's HTTP layer over real loopback HTTP: no cookies shared between requests, headers
read case-insensitively, tokens kept to their host."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from relay_tokens import StaticToken
from relay_uvicorn import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime import ConfigurationError, RetriableApiError
from runtime.clock import Clock
from runtime.http import HttpClient
from runtime.transport import HostRouter, PooledClient, shared_client


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


async def _peer(request: Request) -> JSONResponse:
    assert request.client is not None
    return JSONResponse({"port": request.client.port})


async def _moved(request: Request) -> JSONResponse:
    return JSONResponse({}, status_code=302, headers={"Location": "http://elsewhere.invalid/"})


@pytest.mark.asyncio
async def test_the_pooled_client_reuses_its_connections_and_never_follows_a_redirect() -> None:
    """Requests on relay's pooled client go to its router directly: a connection goes back
    to the pool after each response, and a redirect is an answer, not a request elsewhere."""
    app = Starlette(routes=[Route("/peer", _peer), Route("/moved", _moved)])
    pool: Any = shared_client(HostRouter())
    try:
        async with serving(app) as url:
            client = HttpClient(url, client=pool, clock=Clock(), auth=StaticToken("alice"))
            ports = {(await client.request("GET", "/peer")).json()["port"] for _ in range(30)}
            assert len(ports) == 1  # one kept-alive connection served all thirty
            moved = await client.request("GET", "/moved", raise_for_status=False)
            assert moved.status == 302
            assert moved.url == f"{url}/moved"
            assert moved.headers["location"] == "http://elsewhere.invalid/"
    finally:
        await pool.aclose()


async def _serve_cut_short(reader: Any, writer: Any) -> None:
    """An HTTP answer that promises 100 bytes and closes after 10, or a whole one on /ok."""
    head = await reader.readuntil(b"\r\n\r\n")
    if head.startswith(b"GET /ok "):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    else:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
    await writer.drain()
    writer.close()


@pytest.mark.asyncio
async def test_a_body_cut_short_on_the_pooled_client_is_a_network_error() -> None:
    server = await asyncio.start_server(_serve_cut_short, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool: Any = shared_client(HostRouter())
    try:
        client = HttpClient(f"http://127.0.0.1:{port}", client=pool, clock=Clock(), retries=0)
        with pytest.raises(RetriableApiError, match="RemoteProtocolError calling GET"):
            await client.request("GET", "/cut")
        assert (await client.request("GET", "/ok")).json() == {}  # the pool is still usable
    finally:
        await pool.aclose()
        server.close()
        await server.wait_closed()


async def _serve_as_proxy(reader: Any, writer: Any) -> None:
    """A forward proxy that answers every request itself with the request line it got."""
    head = await reader.readuntil(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].decode()
    body = json.dumps({"proxied": line}).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


@pytest.mark.asyncio
async def test_a_pooled_client_with_a_mount_sends_through_it() -> None:
    """Requests skip ``AsyncClient.send`` only when the router is where they all go: a
    mount (here a proxy for one host) keeps them on ``send``, which honours it."""
    assert shared_client(HostRouter()).direct_router is not None  # type: ignore[attr-defined]
    server = await asyncio.start_server(_serve_as_proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    router = HostRouter()
    via_proxy = httpx.AsyncHTTPTransport(proxy=f"http://127.0.0.1:{port}")
    pool: Any = PooledClient(transport=router, mounts={"http://api.example.test": via_proxy})
    pool.router = router
    try:
        assert pool.direct_router is None
        client = HttpClient("http://api.example.test", client=pool, clock=Clock(), retries=0)
        answer = (await client.request("GET", "/thing")).json()
        assert answer == {"proxied": "GET http://api.example.test/thing HTTP/1.1"}
    finally:
        await pool.aclose()
        server.close()
        await server.wait_closed()
