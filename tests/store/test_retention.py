"""Retention on both stores: finished executions older than the policy's age for their status,
or beyond its count per instance, are deleted with their deliveries and checkpoints, in
batches; unfinished ones never; a dry run counts exactly what a prune deletes; a policy is
checked, every mistake one error naming where it came from."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from runtime import ManualClock, Runtime, Service
from runtime.checkpoints import Checkpoint
from runtime.cli import cli
from runtime.errors import ConfigurationError
from runtime.server.pruning import prune_forever
from runtime.store import Keyring, Store, open_store
from runtime.store.records import Holder
from runtime.store.retention import RetentionPolicy
from runtime.store.tables import deliveries, execution_steps, executions

from .conftest import make_instance

NOW = 2_000_000_000.0
DAY = 86400.0


async def aged(store: Store, status: str, days: float, instance: str = "acme") -> str:
    """An execution with ``status``, created and finished ``days`` before NOW."""
    execution_id, _ = await store.record_delivery(
        instance, f"key-{status}-{days}-{id(object())}", {}, b"{}", NOW, {"n": 1}
    )
    t = NOW - days * DAY
    async with store.engine.begin() as conn:
        await conn.execute(
            update(executions)
            .where(executions.c.id == execution_id)
            .values(status=status, created_at=t, finished_at=None if status == "waiting" else t)
        )
    return execution_id


async def count(store: Store, table: object) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_ages_by_status_and_unfinished_never(store: Store) -> None:
    await make_instance(store)
    old_ok = await aged(store, "completed", 40)
    await aged(store, "completed", 10)
    await aged(store, "failed", 40)  # failed ones are kept longer
    old_failed = await aged(store, "failed", 100)
    waiting = await aged(store, "waiting", 400)
    pending = await aged(store, "pending", 400)
    policy = RetentionPolicy.parse("completed=30d, failed=90d")
    dry = await store.prune(policy, NOW, dry_run=True)
    assert (dry.by_age, dry.total) == ({"completed": 1, "failed": 1}, 2)
    assert await count(store, executions) == 6
    done = await store.prune(policy, NOW)
    assert done == dry
    left = {r.id for r in await store.list_executions(limit=100)}
    assert old_ok not in left and old_failed not in left
    assert {waiting, pending} <= left and len(left) == 4
    assert await count(store, deliveries) == 4  # the bodies went with their executions
    assert (await store.prune(policy, NOW)).total == 0


@pytest.mark.asyncio
async def test_keep_per_instance_in_batches_with_checkpoints_gone(store: Store) -> None:
    await make_instance(store)
    await make_instance(store, "other")
    ids = [await aged(store, "completed", 50 - n) for n in range(12)]  # oldest first
    others = [await aged(store, "failed", 3, "other") for _ in range(2)]
    stuck = await aged(store, "running", 60)
    checkpoint = Checkpoint(path="a", seq=1, status="completed", claim=1, record={})
    async with store.engine.begin() as conn:
        await conn.execute(
            update(executions).where(executions.c.id == stuck).values(worker="w", attempts=1)
        )
    await store.save_checkpoints(stuck, Holder("w", 1), [checkpoint])
    await store.prune(RetentionPolicy.parse("keep=100"), NOW)  # nothing beyond 100
    pauses = 0

    async def between() -> None:
        nonlocal pauses
        pauses += 1

    pruned = await store.prune(RetentionPolicy.parse("keep=5"), NOW, batch=3, between=between)
    assert pruned.beyond_keep == 7 and pauses >= 2
    left = {r.id for r in await store.list_executions(limit=100)}
    assert left == set(ids[-5:]) | set(others) | {stuck}
    assert await count(store, execution_steps) == 1  # a running execution keeps its checkpoints


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("completed", "is not name=value"),
        ("completed=soon", "is not a duration"),
        ("failed=0s", "is not a duration"),
        ("keep=0", "keep='0' is not a whole number"),
        ("keep=-3", "is not a whole number"),
        ("success=3d", "unknown setting 'success'"),
    ],
)
async def test_a_bad_policy_is_one_error_naming_its_place(text: str, wrong: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^RELAY_RETENTION: .*{wrong}"):
        RetentionPolicy.parse(text)


@given(st.text(max_size=60))
def test_any_policy_text_is_a_policy_or_one_error(text: str) -> None:
    try:
        policy = RetentionPolicy.parse(text, "--policy")
    except ConfigurationError as exc:
        assert str(exc).startswith("--policy: ") and "\n" not in str(exc)
    else:
        assert all(0 < age < float("inf") for age in policy.ages.values())
        assert policy.keep is None or policy.keep >= 1


@pytest.mark.asyncio
async def test_the_servers_chore_prunes_while_it_runs(store: Store) -> None:
    await make_instance(store)
    await aged(store, "completed", 40)
    kept = await aged(store, "completed", 1)

    relay = Service(Runtime(clock=ManualClock(now=NOW)), store)
    chore = asyncio.create_task(prune_forever(relay, RetentionPolicy.parse("completed=30d"), 0.01))
    try:
        for _ in range(200):
            if [r.id for r in await store.list_executions(limit=10)] == [kept]:
                break
            await asyncio.sleep(0.01)
    finally:
        chore.cancel()
        await asyncio.gather(chore, return_exceptions=True)
        await relay.aclose()
    assert [r.id for r in await store.list_executions(limit=10)] == [kept]


def test_relay_prune_counts_then_deletes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    monkeypatch.delenv("RELAY_RETENTION", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["prune", "--dry-run"])
    assert result.exit_code == 1 and "no retention policy" in result.stderr
    result = runner.invoke(cli, ["prune", "--policy", "keep=zero"])
    assert result.exit_code == 1 and result.stderr.startswith("error: --policy: keep=")
    result = runner.invoke(cli, ["prune", "--policy", "completed=1d", "--dry-run", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "dry_run": True,
        "total": 0,
        "by_age": {"completed": 0},
        "beyond_keep": 0,
    }
    monkeypatch.setenv("RELAY_RETENTION", "failed=2d,keep=10")
    result = runner.invoke(cli, ["prune"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "deleted 0 executions (failed: 0, beyond keep=10: 0)"


# each example is a store of its own: fewer than the profile's, for the suite's time
@settings(max_examples=25)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["completed", "failed", "canceled", "running"]),
            # whole days, so that several executions share a time (the batches' order has ties)
            st.integers(min_value=0, max_value=12),
        ),
        max_size=14,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_a_pass_in_small_batches_deletes_exactly_what_the_policy_does_not_keep(
    rows: list[tuple[str, int]], batch: int
) -> None:
    async def check(directory: Path) -> None:
        store = await open_store(None, data_dir=directory, keyring=Keyring.generate())
        try:
            await make_instance(store)
            made = [(await aged(store, status, days), status, days) for status, days in rows]
            ages = {"completed": 3, "failed": 8}
            gone = {i for i, status, days in made if status in ages and days > ages[status]}
            policy = RetentionPolicy.parse("completed=3d,failed=8d")
            pruned = await store.prune(policy, NOW, batch=batch)
            left = {r.id for r in await store.list_executions(limit=100)}
            assert pruned.total == len(gone)
            assert left == {i for i, _, _ in made} - gone
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(Path(tmp)))


@pytest.mark.asyncio
async def test_a_pruning_batch_walks_the_time_index_on_sqlite(tmp_path: Path) -> None:
    """A batch reads the oldest executions through ``executions(created_at)``: without
    statistics (relay never runs ANALYZE) SQLite would otherwise take the status index and
    sort every execution of that status for each batch. (PostgreSQL plans by the statistics
    its autovacuum keeps.)"""
    from sqlalchemy import text

    store = await open_store(None, data_dir=tmp_path, keyring=Keyring.generate())
    try:
        where = store.aged_where("completed", NOW)
        query = store.batch_query(where, 500, since=NOW - 30 * DAY)
        dialect = store.engine.dialect
        compiled = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        async with store.engine.connect() as conn:
            rows = await conn.execute(text("EXPLAIN QUERY PLAN " + compiled))
            plan = " ".join(str(r[-1]) for r in rows)
    finally:
        await store.close()
    assert "ix_executions_created_at" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
