"""A feed is woken by a write made while it reads the store, not only by one made while it
waits (it notes the signal's generation before it reads, and does not sleep past a newer one),
and what is written between its reads of one look is told in the order it happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any, cast

import pytest

from runtime.checkpoints import Checkpoint
from runtime.events import EventFeed
from runtime.store import Store

pytestmark = pytest.mark.asyncio

FLOW = "name: f\nsteps: []\n"


async def test_a_write_during_a_look_is_not_slept_past(store: Store) -> None:
    read = store.feed_created
    wrote: list[str] = []

    async def read_then_write(*args: Any, **kwargs: Any) -> Any:
        rows = await read(*args, **kwargs)
        if not wrote:  # the first look has read; a write lands before it waits
            wrote.append(await store.create_execution(None, FLOW, 1, {}))
        return rows

    store.feed_created = read_then_write  # type: ignore[method-assign]
    feed = EventFeed(store, poll=60.0, heartbeat=600.0)
    batches = cast("AsyncGenerator[Any, None]", feed.batches())  # closed at the end
    try:
        batch = await asyncio.wait_for(anext(batches), 10)  # not the 60 s poll
    finally:
        await batches.aclose()
    assert [(event.kind, event.execution_id) for event, _key in batch] == [("recorded", wrote[0])]


async def test_a_wait_returns_at_once_after_a_notification_since_it_was_seen(
    store: Store,
) -> None:
    signal = store.feed_signal
    seen = signal.generation
    signal.notify()
    await asyncio.wait_for(signal.wait(60.0, seen), 1)
    await asyncio.wait_for(signal.wait(0.01, signal.generation), 1)  # none since: the timeout


async def test_steps_checkpointed_after_the_row_was_read_are_told_after_the_start(
    store: Store,
) -> None:
    """The feed reads an execution's row, then its checkpoints: a claim and a step committed
    between the two reads are told in the order they happened (the start, then the step)."""
    feed = EventFeed(store, poll=0.05, heartbeat=600.0)
    batches = cast("AsyncGenerator[Any, None]", feed.batches())  # closed at the end
    execution = await store.create_execution(None, FLOW, 1, {})
    read = store.feed_created
    raced: list[bool] = []

    async def read_then_claim_and_step(*args: Any, **kwargs: Any) -> Any:
        rows = await read(*args, **kwargs)
        if not raced and any(r.id == execution for r in rows):
            raced.append(True)  # the row is read as pending; it starts and steps at once
            row = await store.claim_execution(execution, "w", 60.0)
            assert row is not None and row.holder is not None
            at = time.time()
            record = {"id": "a", "path": "a", "kind": "action", "status": "completed"}
            step = Checkpoint(
                path="a",
                seq=1,
                status="completed",
                claim=row.attempts,
                record={**record, "started_at": at, "finished_at": at},
            )
            await store.save_checkpoints(execution, row.holder, [step])
        return rows

    store.feed_created = read_then_claim_and_step  # type: ignore[method-assign]
    told: list[str] = []
    try:
        while len(told) < 3:
            batch = await asyncio.wait_for(anext(batches), 10)
            told += [event.kind for event, _key in batch if event.execution_id == execution]
    finally:
        await batches.aclose()
    assert raced and told == ["recorded", "started", "step"]
