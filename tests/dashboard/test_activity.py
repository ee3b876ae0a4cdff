"""The overview's counts (``Store.execution_activity``) on both stores: executions of the last
window, by instance, status and span; older ones and instance-less ones left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from relay_backends import store_url as backend_store_url
from sqlalchemy import update

from runtime import Service, open_store
from runtime.dashboard.reads import Activity
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


async def test_the_overview_reads_closed_hours_once_a_minute(
    store_url: str, tmp_path: Path
) -> None:
    store = await open_store(store_url, data_dir=tmp_path)
    try:
        hour = 3600.0 * 500_000
        now = hour + 600.0  # ten minutes into the current hour

        async def record(status: str, at: float) -> None:
            execution = await store.create_execution("a", "name: x\nsteps: []\n", 1, {})
            async with store.engine.begin() as conn:
                await conn.execute(
                    update(executions)
                    .where(executions.c.id == execution)
                    .values(status=status, created_at=at)
                )

        await record("completed", hour - 2 * 3600 + 5)  # two hours ago
        await record("failed", hour + 60)  # this hour
        ticks = [0.0]
        activity = Activity(ttl=60.0, monotonic=lambda: ticks[0])
        relay = cast("Service", SimpleNamespace(store=store))
        first = await activity.counts(relay, now)
        assert first["a"]["completed"][21] == 1 and first["a"]["failed"][23] == 1
        # this hour's rows are read at each look; the closed hours' kept for a minute
        await record("failed", hour + 120)
        await record("completed", hour - 3600 + 5)
        second = await activity.counts(relay, now)
        assert second["a"]["failed"][23] == 2 and sum(second["a"]["completed"]) == 1
        ticks[0] = 61.0
        stale = await activity.counts(relay, now)  # served at once; read again meanwhile
        assert sum(stale["a"]["completed"]) == 1
        await activity.refreshed()
        third = await activity.counts(relay, now)
        assert third["a"]["completed"][22] == 1 and sum(third["a"]["completed"]) == 2
        # a new hour moves the window at once
        later = await activity.counts(relay, now + 3600)
        assert later["a"]["failed"][22] == 2 and later["a"]["completed"][20] == 1
    finally:
        await store.close()
