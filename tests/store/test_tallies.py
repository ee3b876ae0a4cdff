"""Execution counts by instance and status come from the triggers' tallies (finished ones) and
the unfinished rows: on both stores they equal a count of the executions themselves after any
mix of new, claimed, finished, canceled, released and pruned executions, whether or not the
tallies have been folded."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_backends import store_url
from sqlalchemy import func, select

from runtime.store import Keyring, Store, open_store
from runtime.store.retention import RetentionPolicy
from runtime.store.tables import execution_tallies, executions

from .conftest import BACKENDS, make_instance

FLOW = "name: f\ntrigger: {webhook: {}}\nsteps: []\n"
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["new", "claim", "finish", "fail", "cancel", "release", "prune", "fold"]),
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
        elif op == "prune":  # everything finished goes (the policy's age is a second)
            policy = RetentionPolicy.parse("completed=1s,failed=1s,canceled=1s")
            await store.prune(policy, 4_000_000_000.0)
        else:
            await store.fold_tallies(batch=3, least=0)
        assert await store.execution_counts() == await counted(store)
    await store.fold_tallies(least=0)
    assert await store.execution_counts() == await counted(store)


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
async def test_folding_leaves_one_row_per_instance_and_status(store: Store) -> None:
    await make_instance(store)
    for n in range(6):
        execution_id = await store.create_execution("acme", FLOW, 1, {})
        await store.claim_execution(execution_id, "w", 60.0)
        await store.finish_execution(execution_id, "completed" if n % 3 else "failed", {}, {})
    async with store.engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(execution_tallies))).one()
    assert before[0] == 6  # one appended row per finish
    assert await store.fold_tallies() == 0  # under the least worth folding: left alone
    assert await store.fold_tallies(least=0) == 6
    async with store.engine.connect() as conn:
        rows = sorted(
            (await conn.execute(select(execution_tallies.c.status, execution_tallies.c.n))).all()
        )
    assert [tuple(r) for r in rows] == [("completed", 4), ("failed", 2)]
    assert await store.execution_counts() == {"acme": {"completed": 4, "failed": 2}}


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
