"""A sandbox restarted without its state: relay's error says what broke and how to keep it.

Driven through relay's real OAuth connection (authorization code with PKCE, refresh on 401)
against a real sandbox that is "restarted" by swapping the app behind its host.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from components.calendly.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Sandbox,
    SandboxConfig,
)
from runtime import ApiError, ManualClock, ReconnectRequired, Runtime
from runtime.oauth import MAX_SERVER_TEXT, token_request

HOST = "calendly.test"
URL = f"http://{HOST}"
FIELDS = {
    "clientId": DEFAULT_CLIENT_ID,
    "clientSecret": DEFAULT_CLIENT_SECRET,
    "useLiveServer": False,
    "sandboxUrl": URL,
}


class Restartable:
    """An ASGI app whose sandbox can be replaced, as a process restart replaces it."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.sb.app(scope, receive, send)


def _sandbox(state_file: Path | None = None) -> Sandbox:
    config = SandboxConfig(seed=5, events=10, base_url=URL)
    return Sandbox(config) if state_file is None else Sandbox(config, state_file=state_file)


@pytest_asyncio.fixture
async def host() -> AsyncIterator[tuple[Runtime, Restartable]]:
    app = Restartable(_sandbox())
    # the sandboxes run on real time, so relay's clock starts there too
    rt = Runtime(hosts={HOST: app}, clock=ManualClock(now=time.time()))
    yield rt, app
    await rt.aclose()


@pytest.mark.asyncio
async def test_a_restart_without_state_says_to_use_state(
    host: tuple[Runtime, Restartable],
) -> None:
    rt, app = host
    conn = await rt.open_connection("cal", "calendly", "calendlyOauth2Connection", FIELDS)
    out = await rt.invoke_action("calendly.getCurrentUser", {"connection": conn})
    assert out["data"]["resource"]["name"]
    app.sb = _sandbox()  # restarted with nothing: its tokens are gone
    with pytest.raises(ReconnectRequired) as caught:
        await rt.invoke_action("calendly.getCurrentUser", {"connection": conn})
    message = str(caught.value)
    assert "invalid_grant" in message
    assert "unknown to this sandbox" in message and "--state FILE" in message
    stored = await rt.token_store.load(conn.store_key)
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token not in message


@pytest.mark.asyncio
async def test_a_restart_with_state_keeps_the_connection(
    host: tuple[Runtime, Restartable], tmp_path: Path
) -> None:
    rt, app = host
    path = tmp_path / "sandbox.json"
    app.sb = _sandbox(path)
    conn = await rt.open_connection("cal", "calendly", "calendlyOauth2Connection", FIELDS)
    await rt.invoke_action("calendly.getCurrentUser", {"connection": conn})
    app.sb.close()  # the process ends
    app.sb = _sandbox(path)
    # the stored access token still works, and so does its refresh after a revocation
    await rt.invoke_action("calendly.getCurrentUser", {"connection": conn})
    stored = await rt.token_store.load(conn.store_key)
    assert stored is not None
    app.sb.tokens.revoke(stored.access_token)
    out = await rt.invoke_action("calendly.getCurrentUser", {"connection": conn})
    assert out["data"]["resource"]["uri"].endswith(app.sb.owner.uuid)
    assert [r.outcome for r in app.sb.token_requests if r.grant_type == "refresh_token"] == ["ok"]


@given(description=st.text(max_size=2000), error=st.sampled_from(["invalid_grant", "other"]))
@pytest.mark.asyncio
async def test_the_servers_words_are_one_short_line_without_secrets(
    description: str, error: str
) -> None:
    """Whatever a token endpoint says (here one that echoes the request's secrets), the
    message carries it on one line, capped, with the secrets replaced."""
    secret = "rt-" + "s3cr3t" * 4
    said = f"{description} {secret} {DEFAULT_CLIENT_SECRET}\n" * 3

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": error, "error_description": said})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises((ReconnectRequired, ApiError)) as caught:
            await token_request(
                client,
                f"{URL}/oauth/token",
                client_id=DEFAULT_CLIENT_ID,
                client_secret=DEFAULT_CLIENT_SECRET,
                form={"grant_type": "refresh_token", "refresh_token": secret},
                now=0.0,
                connection="cal",
            )
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert secret not in message and DEFAULT_CLIENT_SECRET not in message
    assert len(message) <= MAX_SERVER_TEXT * 2 + 100
    if error == "invalid_grant":
        assert isinstance(caught.value, ReconnectRequired)
