"""Fixtures for the service tests: a real store (SQLite file, or a fresh PostgreSQL schema) and
the real server app, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from relay_backends import postgres_schema
from relay_service_support import FLOW, LiveService

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest_asyncio.fixture
async def service(tmp_path: Path, store_url: str) -> AsyncIterator[LiveService]:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    runtime = Runtime()
    store = await open_store(store_url, data_dir=tmp_path)
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    app = create_app(relay, executor)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://relay.test"
    ) as client:
        yield LiveService(relay, executor, client, flow)
    await executor.shutdown(5)
    await relay.aclose()
    await runtime.aclose()
    await store.close()
