"""Execution counts by instance and status (and by the hour executions were created in) come
from the triggers' tallies (finished ones) and the unfinished rows: on both stores they equal a
count of the executions themselves after any mix of new, claimed, finished, canceled, released,
aged and pruned executions, whether or not the tallies have been folded."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_backends import store_url
from sqlalchemy import Table, func, select, update

from runtime.store import Keyring, Store, open_store
from runtime.store.retention import RetentionPolicy
from runtime.store.tables import execution_tallies, execution_tally_sums, executions
from runtime.store.tallies import HOUR, KEPT_HOURS, hour_of

from .conftest import BACKENDS, make_instance

FLOW = "name: f\ntrigger: {webhook: {}}\nsteps: []\n"
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["new", "claim", "finish", "fail", "cancel", "release", "age", "prune", "fold"]
        ),
        st.integers(min_value=0, max_value=7),  # which execution (of those made so far)
        st.sampled_from(["acme", "beta"]),
    ),
    max_size=25,
)


async def counted(store: Store) -> dict[str, dict[str, int]]:
    """The executions counted one by one: what ``execution_counts`` must say."""
    c = executions.c
    query = (
        select(c.instance, c.status, func.count())
        .where(c.instance.is_not(None))
        .group_by(c.instance, c.status)
    )
    out: dict[str, dict[str, int]] = {}
    async with store.engine.connect() as conn:
        for instance, status, n in await conn.execute(query):
            out.setdefault(instance, {})[status] = int(n)
    return out


async def counted_by_hour(store: Store, first: int) -> dict[str, dict[str, list[int]]]:
    """The executions of the hours from ``first`` to the current one, counted one by one."""
    c = executions.c
    out: dict[str, dict[str, list[int]]] = {}
    hours = hour_of(time.time()) + 1 - first
    async with store.engine.connect() as conn:
        for instance, status, at in await conn.execute(select(c.instance, c.status, c.created_at)):
            if instance is not None and first <= hour_of(at) < first + hours:
                series = out.setdefault(instance, {}).setdefault(status, [0] * hours)
                series[hour_of(at) - first] += 1
    return out


async def check_counts(store: Store) -> None:
    assert await store.execution_counts() == await counted(store)
    # the hours a fold has not merged yet (the fold's clock may have moved on meanwhile)
    first = hour_of(time.time()) - KEPT_HOURS + 1
    hours = hour_of(time.time()) + 1 - first
    assert await store.execution_activity(first, hours) == await counted_by_hour(store, first)


async def play(store: Store, steps: list[tuple[str, int, str]]) -> None:
    await make_instance(store, "acme")
    await make_instance(store, "beta")
    made: list[str] = []
    for op, which, instance in steps:
        if op == "new" or not made:
            made.append(await store.create_execution(instance, FLOW, 1, {}))
            continue
        execution_id = made[which % len(made)]
        if op == "claim":
            await store.claim_execution(execution_id, "w", 60.0)
        elif op in ("finish", "fail"):
            row = await store.claim_execution(execution_id, "w", 60.0)
            if row is not None:
                status = "completed" if op == "finish" else "failed"
                await store.finish_execution(execution_id, status, {"ok": op == "finish"}, {})
        elif op == "cancel":
            with contextlib.suppress(LookupError):  # pruned already
                await store.cancel_execution(execution_id, lambda row: {"ok": False})
        elif op == "release":
            await store.release_execution(execution_id)
        elif op == "age":  # created some hours earlier: inside, then past the kept hours
            async with store.engine.begin() as conn:
                await conn.execute(
                    update(executions)
                    .where(executions.c.id == execution_id)
                    .values(created_at=executions.c.created_at - (which * 9 + 1) * HOUR)
                )
        elif op == "prune":  # everything finished goes (the policy's age is a second)
            policy = RetentionPolicy.parse("completed=1s,failed=1s,canceled=1s")
            await store.prune(policy, 4_000_000_000.0)
        else:
            await store.fold_tallies(batch=3, least=0)
        await check_counts(store)
    while await store.fold_tallies(least=0):
        pass
    await check_counts(store)


@contextmanager
def fresh_store_url(backend: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp, store_url(backend, Path(tmp)) as url:
        yield url, Path(tmp)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15)
@given(steps=STEPS)
def test_counts_equal_the_executions_counted_after_any_history(
    backend: str, steps: list[tuple[str, int, str]]
) -> None:
    async def check(url: str, directory: Path) -> None:
        store = await open_store(url, data_dir=directory, keyring=Keyring.generate())
        try:
            await play(store, steps)
        finally:
            await store.close()

    with fresh_store_url(backend) as (url, directory):
        asyncio.run(check(url, directory))


@pytest.mark.asyncio
async def test_folding_moves_the_tallies_into_one_sum_per_instance_status_and_hour(
    store: Store,
) -> None:
    await make_instance(store)
    for n in range(6):
        execution_id = await store.create_execution("acme", FLOW, 1, {})
        await store.claim_execution(execution_id, "w", 60.0)
        await store.finish_execution(execution_id, "completed" if n % 3 else "failed", {}, {})
    assert await rows_of(store, execution_tallies) == 6  # one appended row per finish
    assert await store.fold_tallies() == 0  # under the least worth folding: left alone
    assert await store.fold_tallies(least=0) == 6
    assert await rows_of(store, execution_tallies) == 0
    s = execution_tally_sums.c
    async with store.engine.connect() as conn:
        rows = sorted((await conn.execute(select(s.status, s.hour, s.n))).all())
    hour = hour_of(time.time())
    assert [tuple(r) for r in rows] in (
        [("completed", hour, 4), ("failed", hour, 2)],
        [("completed", hour - 1, 4), ("failed", hour - 1, 2)],  # finished as an hour began
    )
    assert await store.execution_counts() == {"acme": {"completed": 4, "failed": 2}}
    # folding again adds to the sums: nothing is rewritten, nothing counted twice
    execution_id = await store.create_execution("acme", FLOW, 1, {})
    await store.claim_execution(execution_id, "w", 60.0)
    await store.finish_execution(execution_id, "failed", {}, {})
    assert await store.fold_tallies(least=0) == 1
    assert await rows_of(store, execution_tally_sums) == 2
    assert await store.execution_counts() == {"acme": {"completed": 4, "failed": 3}}


async def rows_of(store: Store, table: Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.mark.asyncio
async def test_the_servers_chore_folds_what_the_triggers_appended(store: Store) -> None:
    from runtime import Runtime, Service
    from runtime.server.pruning import fold_forever

    rows = [{"instance": "acme", "status": "completed", "n": 1}] * 2500
    rows += [{"instance": "acme", "status": "completed", "n": -1}] * 500
    async with store.engine.begin() as conn:
        await conn.execute(execution_tallies.insert(), rows)
    runtime = Runtime()
    chore = asyncio.create_task(fold_forever(Service(runtime, store), interval=0.05))
    try:
        for _ in range(200):
            async with store.engine.connect() as conn:
                left = (
                    await conn.execute(select(func.count()).select_from(execution_tallies))
                ).one()
            if left[0] <= 1000:
                break
            await asyncio.sleep(0.05)
    finally:
        chore.cancel()
        await asyncio.gather(chore, return_exceptions=True)
        await runtime.aclose()
    assert left[0] <= 1000
    assert await store.execution_counts() == {"acme": {"completed": 2000}}
