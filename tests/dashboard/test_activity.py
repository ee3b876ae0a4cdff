"""The overview's counts (``Store.execution_activity``) on both stores: executions by instance,
status and clock hour, the same before and after the tallies are folded; hours older than the
kept ones merged (they read as empty, the totals stay); instance-less runs left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_backends import store_url as backend_store_url
from sqlalchemy import func, select, update

from runtime import open_store
from runtime.store import Store
from runtime.store.tables import execution_tally_sums, executions
from runtime.store.tallies import HOUR, KEPT_HOURS, hour_of

pytestmark = pytest.mark.asyncio

NOW = HOUR * 500_000 + 600.0  # ten minutes into an hour


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_store_url(request.param, tmp_path) as url:
        yield url


async def record(store: Store, instance: str | None, status: str, at: float) -> str:
    execution = await store.create_execution(instance, "name: x\nsteps: []\n", 1, {})
    async with store.engine.begin() as conn:
        await conn.execute(
            update(executions)
            .where(executions.c.id == execution)
            .values(status=status, created_at=at)
        )
    return execution


async def test_activity_counts_each_hour_before_and_after_folding(
    store_url: str, tmp_path: Path
) -> None:
    store = await open_store(store_url, data_dir=tmp_path)
    try:
        first = hour_of(NOW) - 23
        since = first * HOUR
        seeded = [
            ("a", "completed", 10.0),
            ("a", "completed", 20.0),
            ("a", "failed", 3 * HOUR + 5.0),
            ("b", "completed", 23 * HOUR + 100.0),
            ("b", "running", 23 * HOUR + 200.0),  # unfinished: counted from its row
            ("a", "completed", -5.0),  # the hour before the window
            (None, "completed", 50.0),  # a plain run, no instance
        ]
        for instance, status, offset in seeded:
            await record(store, instance, status, since + offset)
        expected = {
            "a": {"completed": [2] + [0] * 23, "failed": [0, 0, 0, 1] + [0] * 20},
            "b": {"completed": [0] * 23 + [1], "running": [0] * 23 + [1]},
        }
        assert await store.execution_activity(first, 24) == expected
        assert await store.fold_tallies(least=0, now=NOW) == 5  # the finished, with an instance
        assert await store.execution_activity(first, 24) == expected
        assert await store.execution_activity(first + 240, 24) == {}
        assert await store.execution_counts() == {
            "a": {"completed": 3, "failed": 1},
            "b": {"completed": 1, "running": 1},
        }
    finally:
        await store.close()


async def test_hours_past_the_kept_ones_are_merged_and_still_counted(
    store_url: str, tmp_path: Path
) -> None:
    store = await open_store(store_url, data_dir=tmp_path)
    try:
        now_hour = hour_of(NOW)
        for hours_ago in (1, 2, KEPT_HOURS + 5, KEPT_HOURS + 6, 1000):
            await record(store, "a", "completed", (now_hour - hours_ago) * HOUR + 1.0)
        await store.fold_tallies(least=0, now=NOW)
        while await store.fold_tallies(least=0, now=NOW):  # until nothing is left to merge
            pass
        async with store.engine.connect() as conn:
            sums = (
                await conn.execute(select(func.count()).select_from(execution_tally_sums))
            ).one()
        assert sums[0] == 3  # two kept hours and one row for all the older ones
        recent = await store.execution_activity(now_hour - 23, 24)
        assert recent == {"a": {"completed": [0] * 21 + [1, 1, 0]}}
        assert await store.execution_activity(now_hour - KEPT_HOURS - 10, 10) == {}
        assert await store.execution_counts() == {"a": {"completed": 5}}
        # an old execution pruned: its -1 lands in the merged hours; the total follows
        async with store.engine.begin() as conn:
            await conn.execute(
                executions.delete().where(executions.c.created_at < (now_hour - 999) * HOUR)
            )
        await store.fold_tallies(least=0, now=NOW)
        assert await store.execution_counts() == {"a": {"completed": 4}}
    finally:
        await store.close()
