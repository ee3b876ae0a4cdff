"""The hot path's writes on both backends (grouped into shared transactions on SQLite): dedupe
within and across batches, one failure isolated from the rest of its batch, claim with state,
finish with state, webhook tokens checked at record time."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from runtime.errors import NotFound
from runtime.store import Store, open_store
from runtime.store.values import new_id

from .conftest import group_of, make_instance

pytestmark = pytest.mark.asyncio

RESULT = {"id": "x", "flow": "Booking follow-up", "status": "completed", "steps": []}


async def test_concurrent_deliveries_share_transactions_and_keep_dedupe(store: Store) -> None:
    await make_instance(store)
    await make_instance(store, "other")
    # 40 distinct bodies, each sent twice, plus the same keys on another instance, all at once
    calls = [store.record_delivery("acme", f"k{i % 40}", {}, b"x", float(i)) for i in range(80)]
    calls += [store.record_delivery("other", f"k{i}", {}, b"x", 0.0) for i in range(40)]
    results = await asyncio.gather(*calls)
    acme, other = results[:80], results[80:]
    for i in range(40):
        first, again = acme[i], acme[i + 40]
        assert first[0] == again[0]  # a duplicate maps to the first delivery's execution
        assert [first[1], again[1]].count(True) == 1
    assert len({execution_id for execution_id, _ in acme}) == 40
    assert all(new for _, new in other) and len({e for e, _ in other}) == 40
    assert not {e for e, _ in acme} & {e for e, _ in other}
    rows = await store.list_executions(limit=1000)
    assert len(rows) == 80 and all(r.status == "pending" for r in rows)
    group = group_of(store)
    if group is not None:  # SQLite: the 120 deliveries took far fewer commits
        assert group.operations >= 120 and group.batches < 60


async def test_a_failing_delivery_does_not_sink_its_batch(store: Store) -> None:
    await make_instance(store)
    outcomes = await asyncio.gather(
        *(
            store.record_delivery("ghost" if i % 3 == 0 else "acme", f"k{i}", {}, b"", 0.0)
            for i in range(30)
        ),
        return_exceptions=True,
    )
    failed = [o for i, o in enumerate(outcomes) if i % 3 == 0]
    recorded = [o for i, o in enumerate(outcomes) if i % 3 != 0]
    assert all(isinstance(o, NotFound) for o in failed)
    assert all(isinstance(o, tuple) and o[1] for o in recorded)
    assert len(await store.list_executions(limit=100)) == 20


async def test_a_delivery_to_a_replaced_instance_token_is_refused(store: Store) -> None:
    await make_instance(store, token="first-token")
    _, new = await store.record_delivery("acme", "k1", {}, b"", 0.0, webhook_token="first-token")
    assert new
    await store.delete_instance("acme")
    await make_instance(store, token="second-token")  # same name, deployed again
    with pytest.raises(NotFound):
        await store.record_delivery("acme", "k2", {}, b"", 0.0, webhook_token="first-token")
    _, new = await store.record_delivery("acme", "k2", {}, b"", 0.0, webhook_token="second-token")
    assert new


async def test_claim_with_state_and_finish_with_state(store: Store) -> None:
    await make_instance(store)
    await store.save_state("acme", "Booking follow-up", {"n": 1}, {"c": 1}, {"i": 1})
    execution_id, _ = await store.record_delivery("acme", "k", {}, b"{}", 0.0, {"p": 1})
    claimed = await store.claim_with_state(execution_id, "w1", 60)
    assert claimed is not None
    row, state, flow_name = claimed
    assert (row.id, row.status, row.payload, flow_name) == (
        execution_id,
        "running",
        {"p": 1},
        "Booking follow-up",
    )
    assert state == {"flow": {"n": 1}, "cross_flow": {"c": 1}, "integration": {"i": 1}}
    assert await store.claim_with_state(execution_id, "w2", 60) is None  # held by w1
    # another flow name: that flow's integration scope, the instance's own scopes
    other = await store.create_execution("acme", "text", 1, None)
    claimed = await store.claim_with_state(other, "w1", 60, "Another flow")
    assert claimed is not None and claimed[1]["integration"] == {} and claimed[2] == "Another flow"
    # a finish writes only the scopes it is given, under the flow name it is given
    await store.finish_execution(
        execution_id,
        "completed",
        RESULT,
        {"execution": {"e": 1}, "flow": {"n": 2}},
        flow_name="Booking follow-up",
    )
    assert await store.load_state("acme", "Booking follow-up") == {
        "flow": {"n": 2},
        "cross_flow": {"c": 1},
        "integration": {"i": 1},
    }
    done = await store.get_execution(execution_id)
    assert done is not None and (done.status, done.state) == ("completed", {"e": 1})


async def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


async def test_an_operation_that_fails_after_writing_is_undone_alone(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path)
    try:
        await make_instance(store)
        group = group_of(store)
        assert group is not None

        def half_written(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE instances SET flow_name = 'changed'")
            raise RuntimeError("after a write")

        outcomes = await asyncio.gather(
            store.record_delivery("acme", "a", {}, b"", 0.0),
            group.run(half_written),
            store.record_delivery("acme", "b", {}, b"", 0.0),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], RuntimeError)
        assert outcomes[0][1] and outcomes[2][1]  # type: ignore[index]
        instance = await store.get_instance("acme")
        assert instance is not None and instance.flow_name == "Booking follow-up"
        assert len(await store.list_executions()) == 2
    finally:
        await store.close()


async def test_a_closed_store_can_be_used_again(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path)
    await make_instance(store)
    await store.record_delivery("acme", "a", {}, b"", 0.0)
    await store.close()
    await store.record_delivery("acme", "b", {}, b"", 0.0)  # like a disposed engine
    assert len(await store.list_executions()) == 2
    await store.close()


async def test_a_batch_waits_out_another_writer_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """The statements run on the event loop with no busy timeout; while another process
    holds SQLite's write lock, the batch waits on the commit thread and the loop goes on."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path)
    try:
        await make_instance(store)
        await store.record_delivery("acme", "before", {}, b"", 0.0)
        group = group_of(store)
        assert group is not None and group.waited == 0
        other = sqlite3.connect(tmp_path / "relay.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        delivery = asyncio.create_task(store.record_delivery("acme", "during", {}, b"", 0.0))
        # real time passes while SQLite's write lock is held by another connection (the OS's
        # file lock): the loop must tick through it
        await asyncio.sleep(0.3)
        assert not delivery.done()  # it cannot commit while the other writer holds the lock
        assert ticks >= 10  # and the loop was not blocked meanwhile
        other.execute("COMMIT")
        other.close()
        _, new = await asyncio.wait_for(delivery, 10)
        ticking.cancel()
        assert new and group.waited == 1
        # the next batch is back on the loop, with the lock free
        _, new = await store.record_delivery("acme", "after", {}, b"", 0.0)
        assert new and group.waited == 1
        assert len(await store.list_executions()) == 3
    finally:
        await store.close()
