"""Connections to live Calendly, served in-process: the runtime answers for api.calendly.com
from a sandbox, so "live" requests are checked without a network."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from calendly_support import api_calls

from components.calendly.connection import LIVE_API
from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ManualClock, ReconnectRequired, Runtime


@pytest.fixture
def live() -> Sandbox:
    """A sandbox posing as Calendly's live API (its URIs name api.calendly.com)."""
    return Sandbox(SandboxConfig(seed=3, events=5, base_url=LIVE_API))


@pytest_asyncio.fixture
async def live_runtime(live: Sandbox) -> AsyncIterator[Runtime]:
    rt = Runtime(hosts={"api.calendly.com": live.app}, clock=ManualClock(now=time.time()))
    yield rt
    await rt.aclose()


@pytest.mark.asyncio
async def test_a_personal_token_reaches_the_live_api_as_a_bearer(
    live_runtime: Runtime, live: Sandbox
) -> None:
    token = live.personal_access_token()
    handle = await live_runtime.open_connection(
        "pat", "calendly", "calendlyPersonalAccessToken", {"apiKey": token, "useLiveServer": True}
    )
    assert handle.endpoints.api_base_url == LIVE_API
    out = await live_runtime.invoke_action("calendly.getCurrentUser", {"connection": handle})
    assert out["data"]["resource"]["uri"] == live.owner.uri
    (call,) = api_calls(live)
    assert call["path"] == "/users/me"
    assert call["headers"]["authorization"] == "[redacted]"  # sent, and the sandbox accepted it


@pytest.mark.asyncio
async def test_a_refused_personal_token_asks_for_a_reconnect(
    live_runtime: Runtime, live: Sandbox
) -> None:
    handle = await live_runtime.open_connection(
        "pat", "calendly", "calendlyPersonalAccessToken", {"apiKey": "nope", "useLiveServer": True}
    )
    with pytest.raises(ReconnectRequired, match="the API key was refused"):
        await live_runtime.invoke_action("calendly.getCurrentUser", {"connection": handle})
