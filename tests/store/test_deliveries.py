"""Deliveries in the store, on SQLite and PostgreSQL: duplicates counted on the original even
when they race, keys released by the window (also while they race), keyless deliveries always
new, and the listing's keyset order across accepted deliveries and rejection counts."""

from __future__ import annotations

import asyncio

import pytest

from runtime.store import Store
from runtime.store.deliveries import RejectionCount

from .conftest import make_instance

pytestmark = pytest.mark.asyncio


async def test_racing_duplicates_are_all_counted_on_the_original(store: Store) -> None:
    await make_instance(store)
    results = await asyncio.gather(
        *(store.record_delivery("acme", "same", {}, b"x", 10.0 + i) for i in range(8))
    )
    [original] = {execution_id for execution_id, _ in results}
    [entry] = await store.page_deliveries("acme", None, 10)
    assert (entry.execution_id, entry.times_seen, entry.last_seen_at) == (original, 8, 17.0)


async def test_a_late_duplicate_never_moves_last_seen_back(store: Store) -> None:
    await make_instance(store)
    first, _ = await store.record_delivery("acme", "k", {}, b"", 10.0)
    await store.record_delivery("acme", "k", {}, b"", 30.0)
    await store.record_delivery("acme", "k", {}, b"", 20.0)  # a slower process's clock
    [entry] = await store.page_deliveries("acme", "duplicate", 10)
    assert (entry.execution_id, entry.times_seen, entry.last_seen_at) == (first, 3, 30.0)


async def test_the_window_releases_a_key_once_even_when_deliveries_race(store: Store) -> None:
    await make_instance(store)
    old, _ = await store.record_delivery("acme", "k", {}, b"", 0.0, dedupe_window=100.0)
    results = await asyncio.gather(
        *(
            store.record_delivery("acme", "k", {}, b"", 100.0 + i, dedupe_window=100.0)
            for i in range(6)
        )
    )
    fresh = {execution_id for execution_id, new in results if new}
    assert len(fresh) == 1 and old not in fresh
    assert {execution_id for execution_id, _ in results} == fresh
    entries = await store.page_deliveries("acme", "accepted", 10)
    assert sorted(str(e.dedupe_key) for e in entries) == ["None", "k"]
    assert sum(e.times_seen for e in entries) == 7


async def test_deliveries_without_a_key_are_always_new(store: Store) -> None:
    await make_instance(store)
    results = [await store.record_delivery("acme", None, {}, b"same", 1.0) for _ in range(3)]
    assert all(new for _, new in results) and len({i for i, _ in results}) == 3
    assert await store.page_deliveries("acme", "duplicate", 10) == []


async def test_one_order_over_accepted_deliveries_and_rejection_counts(store: Store) -> None:
    await make_instance(store)
    for at in (5.0, 60.0, 61.0, 130.0):
        await store.record_delivery("acme", f"k{at}", {}, b"", at)
    await store.record_rejections(
        [
            RejectionCount("acme", 60.0, "bad signature", 401, 2, 60.5, 70.0),
            RejectionCount("acme", 60.0, "body too large", 413, 1, 65.0, 65.0),
            RejectionCount("acme", 0.0, "ignored: event not selected", 200, 4, 1.0, 50.0),
        ]
    )
    whole = await store.page_deliveries("acme", None, 100)
    keys = [e.key for e in whole]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 7
    assert [e.outcome for e in whole] == [
        "accepted",  # 130
        "accepted",  # 61
        "rejected",  # minute 60, body too large ("r:" sorts after "a:": first, newest first)
        "rejected",  # minute 60, bad signature
        "accepted",  # 60
        "accepted",  # 5
        "ignored",  # minute 0
    ]
    paged, after = [], None
    while True:
        page = await store.page_deliveries("acme", None, 2, after)
        paged += page
        if len(page) < 2:
            break
        after = page[-1].key
    assert paged == whole
    assert [e.times_seen for e in await store.page_deliveries("acme", "rejected", 10)] == [1, 2]
    assert [e.reason for e in await store.page_deliveries("acme", "ignored", 10)] == [
        "ignored: event not selected"
    ]
    # counted again: added to the same row
    await store.record_rejections(
        [RejectionCount("acme", 60.0, "bad signature", 401, 3, 59.0, 80.0)]
    )
    counted = [e for e in await store.page_deliveries("acme", "rejected", 10) if e.status == 401]
    assert [(e.times_seen, e.received_at, e.last_seen_at) for e in counted] == [(5, 59.0, 80.0)]


async def test_undeploying_forgets_the_rejection_counts(store: Store) -> None:
    await make_instance(store)
    await store.record_rejections([RejectionCount("acme", 0.0, "bad signature", 401, 1, 1.0, 1.0)])
    await store.delete_instance("acme")
    await make_instance(store)
    assert await store.page_deliveries("acme", None, 10) == []
