"""Fixtures for the dashboard tests: the real server app on a real SQLite store, an instance
``hooks`` of the plain-webhook flow, a token of each scope, and a browser-like client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from relay_api import Api
from relay_service_support import CONFIG, FLOW, in_process_service

from runtime import Runtime


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    async with in_process_service(Runtime(), url, tmp_path) as (relay, _executor, client):
        instance = await relay.deploy(flow, CONFIG, "hooks")
        tokens = {}
        for scope in ("read", "operate", "admin"):
            _record, tokens[scope] = await relay.store.create_api_token(f"t-{scope}", scope)
        yield Api(relay, client, tokens, "/webhooks/" + instance.webhook_token)
