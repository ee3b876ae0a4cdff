"""Deliveries and executions on both backends: dedupe, claims, leases, crash recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from runtime.errors import NotFound
from runtime.store import Keyring, Store, open_store
from runtime.store.records import Holder, LeaseLost

from .conftest import FLOW, group_of, make_instance

pytestmark = pytest.mark.asyncio

RESULT = {
    "id": "x",
    "flow": "Booking follow-up",
    "status": "completed",
    "steps": [],
    "outputs": {"a": 1},
}


async def test_delivery_is_recorded_with_a_pending_execution(store: Store) -> None:
    await make_instance(store)
    headers = {"calendly-webhook-signature": "t=1,v1=ab"}
    execution_id, new = await store.record_delivery(
        "acme", "k1", headers, b'{"event":"invitee.created"}', 12.5, {"event": "invitee.created"}
    )
    assert new is True
    row = await store.get_execution(execution_id)
    assert row is not None
    assert (row.status, row.instance, row.attempts) == ("pending", "acme", 0)
    assert (row.flow_text, row.flow_version) == (FLOW, 1)
    assert row.payload == {"event": "invitee.created"}
    assert row.delivery is not None
    assert row.delivery.headers == headers
    assert row.delivery.body == b'{"event":"invitee.created"}'
    assert (row.delivery.received_at, row.delivery.dedupe_key) == (12.5, "k1")
    assert row.result is None and row.started_at is None and row.finished_at is None


async def test_duplicate_delivery_returns_the_same_execution(store: Store) -> None:
    await make_instance(store, "acme")
    await make_instance(store, "other")
    first, new1 = await store.record_delivery("acme", "k1", {}, b"1", 1.0)
    again, new2 = await store.record_delivery("acme", "k1", {}, b"1", 2.0)
    elsewhere, new3 = await store.record_delivery("other", "k1", {}, b"1", 3.0)
    assert (again, new1, new2) == (first, True, False)
    assert new3 is True and elsewhere != first
    assert len(await store.list_executions(instance="acme")) == 1


async def test_concurrent_duplicates_create_one_execution(store: Store) -> None:
    await make_instance(store)
    results = await asyncio.gather(
        *(store.record_delivery("acme", "same", {}, b"x", float(i)) for i in range(8))
    )
    assert len({execution_id for execution_id, _ in results}) == 1
    assert sum(new for _, new in results) == 1
    assert len(await store.list_executions()) == 1


async def test_delivery_for_an_unknown_instance_records_nothing(store: Store) -> None:
    with pytest.raises(NotFound, match="no instance named 'ghost'"):
        await store.record_delivery("ghost", "k", {}, b"", 0.0)
    assert await store.list_executions() == []


async def test_create_get_and_list(store: Store) -> None:
    await make_instance(store)
    ids = [await store.create_execution("acme", FLOW, 1, {"n": n}) for n in range(3)]
    adhoc = await store.create_execution(None, "flow text", 7, [1, "two"], status="completed")
    replay = await store.create_execution(
        "acme", FLOW, 2, {"n": 0}, replay_of=ids[0], reused_outputs={"step1": {"ok": True}}
    )
    assert await store.get_execution("missing") is None
    row = await store.get_execution(replay)
    assert row is not None
    assert (row.replay_of, row.reused_outputs, row.flow_version) == (
        ids[0],
        {"step1": {"ok": True}},
        2,
    )
    assert row.delivery is None
    assert [r.id for r in await store.list_executions()] == [replay, adhoc, *reversed(ids)]
    assert [r.id for r in await store.list_executions(instance="acme", limit=2)] == [replay, ids[2]]
    assert [r.id for r in await store.list_executions(status="completed")] == [adhoc]
    assert (await store.get_execution(adhoc)).payload == [1, "two"]  # type: ignore[union-attr]


async def test_exactly_one_concurrent_claim_wins(store: Store) -> None:
    execution_id = await store.create_execution(None, FLOW, 1, None)
    claims = await asyncio.gather(
        *(store.claim_execution(execution_id, f"w{i}", 60) for i in range(8))
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert (winners[0].status, winners[0].attempts) == ("running", 1)
    assert winners[0].worker is not None and winners[0].started_at is not None


async def test_a_live_lease_blocks_and_an_expired_one_allows_reclaim(store: Store) -> None:
    live = await store.create_execution(None, FLOW, 1, None)
    assert await store.claim_execution(live, "w1", 60) is not None
    assert await store.claim_execution(live, "w2", 60) is None
    # a lease that has already run out: the holder is presumed dead (no waiting needed)
    dead = await store.create_execution(None, FLOW, 1, None)
    assert await store.claim_execution(dead, "w1", -1) is not None
    taken = await store.claim_execution(dead, "w2", 60)
    assert taken is not None
    assert (taken.worker, taken.attempts) == ("w2", 2)
    assert await store.renew_lease(dead, "w1", 60) is False  # w1 lost it
    assert await store.renew_lease(dead, "w2", 60) is True


async def test_finished_executions_cannot_be_claimed(store: Store) -> None:
    execution_id = await store.create_execution(None, FLOW, 1, None)
    assert await store.claim_execution(execution_id, "w1", 60) is not None
    await store.finish_execution(execution_id, "failed", {**RESULT, "status": "failed"}, {})
    assert await store.claim_execution(execution_id, "w2", 60) is None
    assert await store.claim_execution("missing", "w2", 60) is None
    row = await store.get_execution(execution_id)
    assert row is not None
    assert (row.status, row.result, row.worker, row.lease_until) == (
        "failed",
        {**RESULT, "status": "failed"},
        None,
        None,
    )
    assert row.finished_at is not None and row.started_at is not None
    assert row.finished_at >= row.started_at


async def test_finish_rejects_bad_status_and_unknown_ids(store: Store) -> None:
    execution_id = await store.create_execution(None, FLOW, 1, None)
    with pytest.raises(ValueError, match="status must be one of"):
        await store.finish_execution(execution_id, "running", RESULT, {})
    with pytest.raises(LookupError):
        await store.finish_execution("missing", "completed", RESULT, {})


async def test_release_hands_an_execution_back(store: Store) -> None:
    execution_id = await store.create_execution(None, FLOW, 1, None)
    assert await store.claim_execution(execution_id, "w1", 60) is not None
    assert await store.release_execution(execution_id, "someone-else") is False
    assert await store.release_execution(execution_id) is True
    assert await store.release_execution(execution_id) is False  # not running any more
    again = await store.claim_execution(execution_id, "w2", 60)
    assert again is not None and again.attempts == 2


async def test_unfinished_executions_after_a_crash(
    db_url: str, tmp_path: Path, keyring: Keyring
) -> None:
    store = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    await make_instance(store)
    pending, _ = await store.record_delivery("acme", "k1", {}, b"{}", 1.0)
    crashed = await store.create_execution("acme", FLOW, 1, {})
    alive = await store.create_execution("acme", FLOW, 1, {})
    done = await store.create_execution("acme", FLOW, 1, {})
    await store.claim_execution(crashed, "dead-worker", -1)  # its lease has run out
    await store.claim_execution(alive, "live-worker", 600)
    await store.claim_execution(done, "w", 600)
    await store.finish_execution(done, "completed", RESULT, {})
    await store.engine.dispose()  # the process goes away without finishing anything

    restarted = await open_store(db_url, data_dir=tmp_path, keyring=keyring)
    try:
        unfinished = await restarted.unfinished_executions()
        assert [r.id for r in unfinished] == [pending, crashed]
        assert unfinished[0].delivery is not None
        resumed = await restarted.claim_execution(crashed, "new-worker", 60)
        assert resumed is not None and resumed.attempts == 2
        assert [r.id for r in await restarted.unfinished_executions()] == [pending]
    finally:
        await restarted.close()


@pytest_asyncio.fixture(params=["grouped", "sqlalchemy"])
async def write_path(
    request: pytest.FixtureRequest, backend: str, db_url: str, tmp_path: Path, keyring: Keyring
) -> AsyncIterator[Store]:
    """The store, writing through group commit (SQLite's default) or through SQLAlchemy (as on
    PostgreSQL): both paths must fence."""
    grouped = request.param == "grouped"
    if not grouped and backend != "sqlite":
        pytest.skip("this backend has one write path")
    store = await open_store(db_url, data_dir=tmp_path, keyring=keyring, group_commit=grouped)
    assert (group_of(store) is not None) == (grouped and backend == "sqlite")
    yield store
    await store.close()


async def test_a_holder_whose_lease_was_taken_over_cannot_finish_renew_or_release(
    write_path: Store,
) -> None:
    store = write_path
    await make_instance(store)
    execution_id = await store.create_execution("acme", FLOW, 1, None)
    first = await store.claim_execution(execution_id, "w", -1)  # its lease has run out
    assert first is not None and first.holder == Holder("w", 1)
    # the same worker id claims again (one process's sweep): only the attempt tells them apart
    second = await store.claim_execution(execution_id, "w", 60)
    assert second is not None and second.holder == Holder("w", 2)
    assert await store.renew_lease(execution_id, "w", 60, attempt=1) is False
    assert await store.release_execution(execution_id, "w", attempt=1) is False
    with pytest.raises(LeaseLost, match="attempt 1"):
        await store.finish_execution(
            execution_id,
            "completed",
            {**RESULT, "outputs": {"by": "first"}},
            {"execution": {"by": "first"}, "flow": {"by": "first"}},
            flow_name="f",
            holder=first.holder,
        )
    row = await store.get_execution(execution_id)
    assert row is not None and (row.status, row.worker, row.attempts) == ("running", "w", 2)
    assert (await store.load_state("acme", "f"))["flow"] == {}  # the state went nowhere
    assert await store.renew_lease(execution_id, "w", 60, attempt=2) is True
    await store.finish_execution(
        execution_id, "completed", RESULT, {"flow": {"by": "second"}}, "f", second.holder
    )
    row = await store.get_execution(execution_id)
    assert row is not None and (row.status, row.result, row.worker) == ("completed", RESULT, None)
    assert (await store.load_state("acme", "f"))["flow"] == {"by": "second"}
    # finished: no holder can write again, not even the one that finished it
    with pytest.raises(LeaseLost):
        await store.finish_execution(execution_id, "failed", RESULT, {}, holder=second.holder)
    assert await store.renew_lease(execution_id, "w", 60, attempt=2) is False
