"""The local OAuth redirect server waits as long as its caller lets it: a caller's timeout
stops the server before the ``TimeoutError`` comes out."""

from __future__ import annotations

import asyncio
import socket

import pytest

from runtime.oauth_callback import wait_for_redirect


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_a_callers_timeout_stops_the_redirect_server() -> None:
    port = _free_port()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await wait_for_redirect(f"http://127.0.0.1:{port}/callback")
    with socket.socket() as again:  # the port is free: the server is gone
        again.bind(("127.0.0.1", port))
