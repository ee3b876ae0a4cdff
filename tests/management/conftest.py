"""Fixtures for the management API tests: the real server app on a real store (SQLite file and
a fresh PostgreSQL schema), an instance of the plain-webhook flow, and a token of each scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from relay_api import Api
from relay_backends import store_url as backend_store_url
from relay_service_support import CONFIG, FLOW, in_process_service

from runtime import Runtime


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_store_url(request.param, tmp_path) as url:
        yield url


@pytest_asyncio.fixture
async def api(tmp_path: Path, store_url: str) -> AsyncIterator[Api]:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    async with in_process_service(Runtime(), store_url, tmp_path) as (relay, _executor, client):
        instance = await relay.deploy(flow, CONFIG, "hooks")
        tokens = {}
        for scope in ("read", "operate", "admin"):
            _record, tokens[scope] = await relay.store.create_api_token(f"t-{scope}", scope)
        yield Api(relay, client, tokens, "/webhooks/" + instance.webhook_token)
