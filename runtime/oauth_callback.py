"""The local end of the OAuth redirect: a one-request server on the redirect URI's port."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.requests import Request


async def wait_for_redirect(redirect_uri: str) -> str:
    """Serve ``redirect_uri`` until the browser comes back; return the full callback URL.

    It waits as long as it takes: the caller bounds it (``asyncio.timeout``); a cancel stops
    the server before it propagates."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    parts = urlsplit(redirect_uri)
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def callback(request: Request) -> PlainTextResponse:
        if not arrived.done():
            arrived.set_result(str(request.url))
        return PlainTextResponse("relay is connected; you can close this tab.")

    app = Starlette(routes=[Route(parts.path or "/", callback)])
    config = uvicorn.Config(
        app,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 80,
        access_log=False,
        log_level="warning",  # the access log would record the code
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        return await arrived
    finally:
        server.should_exit = True
        await task
