"""The overview's counts (``Store.execution_activity``) on both stores: executions of the last
window, by instance, status and span; older ones and instance-less ones left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_backends import store_url as backend_store_url
from sqlalchemy import update

from runtime import open_store
from runtime.store.tables import executions

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_store_url(request.param, tmp_path) as url:
        yield url


async def test_activity_counts_each_span_of_the_window(store_url: str, tmp_path: Path) -> None:
    store = await open_store(store_url, data_dir=tmp_path)
    try:
        since, width = 1_000_000.0, 3600.0
        # (instance, status, seconds after since)
        seeded = [
            ("a", "completed", 10.0),
            ("a", "completed", 20.0),
            ("a", "failed", 3 * 3600 + 5.0),
            ("b", "completed", 23 * 3600 + 100.0),
            ("a", "completed", -5.0),  # before the window
            (None, "completed", 50.0),  # a plain run, no instance
        ]
        for instance, status, offset in seeded:
            execution = await store.create_execution(instance, "name: x\nsteps: []\n", 1, {})
            async with store.engine.begin() as conn:
                await conn.execute(
                    update(executions)
                    .where(executions.c.id == execution)
                    .values(status=status, created_at=since + offset)
                )
        found = await store.execution_activity(since, width, 24)
        assert set(found) == {"a", "b"}
        assert found["a"]["completed"][0] == 2 and sum(found["a"]["completed"]) == 2
        assert found["a"]["failed"][3] == 1 and sum(found["a"]["failed"]) == 1
        assert found["b"]["completed"][23] == 1
        assert await store.execution_activity(since + 10 * 86400, width, 24) == {}
    finally:
        await store.close()
