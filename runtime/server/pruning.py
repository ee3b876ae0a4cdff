"""The server's retention chore: what ``RELAY_RETENTION`` no longer keeps is deleted every
``interval`` seconds, a small batch a transaction with a pause between batches, so ingest and
executions go on while a large store is pruned. Dedupe keys older than the dedupe window
(``RELAY_DEDUPE_WINDOW``) are released and rejection counts that old deleted the same way,
with or without a retention policy.

The pause grows with the batch: after a batch that took ``t`` seconds the pruner waits long
enough that its batches fill at most ``SHARE`` of the time. A batch's time is mostly the
database's (the same CPU and, on SQLite, the same write lock that ingest needs), so a slow store
is pruned more slowly rather than ingest slowing to the pruner's pace."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import structlog

from runtime.store.retention import RetentionPolicy

if TYPE_CHECKING:
    from runtime.service import Service

log = structlog.get_logger("relay.server")

#: Seconds between prunes.
INTERVAL = 60.0
#: Seconds the pruner pauses between two batches at least (the store's write lock is free
#: meanwhile).
PAUSE = 0.05
#: The share of the time the pruner's batches may take at most.
SHARE = 0.1


def pause_after(batch_seconds: float) -> float:
    """How long to pause after a batch that took ``batch_seconds``."""
    return max(PAUSE, batch_seconds * (1 - SHARE) / SHARE)


def retention_from_env() -> RetentionPolicy | None:
    """``RELAY_RETENTION`` (see ``runtime.store.retention``), or ``None`` when unset or empty."""
    text = os.environ.get("RELAY_RETENTION", "").strip()
    if not text:
        return None
    policy = RetentionPolicy.parse(text)
    return None if policy.empty else policy


#: Seconds between two foldings of the execution tallies.
FOLD_INTERVAL = 10.0


async def fold_forever(relay: Service, interval: float = FOLD_INTERVAL) -> None:
    """Fold the execution tallies (``runtime.store.tallies``) every ``interval`` seconds until
    cancelled, a batch a transaction, paced as pruning is: counting executions stays a sum of
    a few rows however many finish."""
    clock = asyncio.get_running_loop().time
    while True:
        try:
            began = clock()
            while await relay.store.fold_tallies(now=relay.runtime.clock.time()):
                await asyncio.sleep(pause_after(clock() - began))
                began = clock()
        except Exception as exc:  # the store is away: the next round tries again
            log.warning("folding execution tallies failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


async def prune_forever(
    relay: Service, policy: RetentionPolicy | None, interval: float = INTERVAL
) -> None:
    """Prune by ``policy`` (if any) and the dedupe window now and every ``interval`` seconds
    until cancelled."""

    clock = asyncio.get_running_loop().time
    batch_began = clock()

    async def pause() -> None:
        nonlocal batch_began
        await asyncio.sleep(pause_after(clock() - batch_began))
        batch_began = clock()

    while True:
        batch_began = clock()
        try:
            now = relay.runtime.clock.time()
            released = await relay.store.prune_deliveries(
                now, relay.intake.dedupe_window, between=pause
            )
            if released:
                log.info("released expired dedupe keys and rejection counts", count=released)
            if policy is None:
                await asyncio.sleep(interval)
                continue
            pruned = await relay.store.prune(policy, now, between=pause)
            if pruned.total:
                log.info(
                    "pruned executions",
                    count=pruned.total,
                    by_age=pruned.by_age,
                    beyond_keep=pruned.beyond_keep,
                )
        except Exception as exc:  # the store is away: the next round tries again
            log.warning("pruning failed", error=type(exc).__name__)
        await asyncio.sleep(interval)
