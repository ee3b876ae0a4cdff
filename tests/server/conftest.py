"""Fixtures for the service tests: a real store (SQLite file, or a fresh PostgreSQL schema) and
the real server app, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from relay_backends import store_url as backend_store_url
from relay_service_support import FLOW, LiveService, in_process_service

from runtime import Runtime


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_store_url(request.param, tmp_path) as url:
        yield url


@pytest_asyncio.fixture
async def service(tmp_path: Path, store_url: str) -> AsyncIterator[LiveService]:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    async with in_process_service(Runtime(), store_url, tmp_path) as (relay, executor, client):
        yield LiveService(relay, executor, client, flow)
