"""The server's retention chore: what ``RELAY_RETENTION`` no longer keeps is deleted every
``interval`` seconds, a small batch a transaction with a pause between batches, so ingest and
executions go on while a large store is pruned. Dedupe keys older than the dedupe window
(``RELAY_DEDUPE_WINDOW``) are released and rejection counts that old deleted the same way,
with or without a retention policy."""

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
#: Seconds the pruner pauses between two batches (the store's write lock is free meanwhile).
PAUSE = 0.05


def retention_from_env() -> RetentionPolicy | None:
    """``RELAY_RETENTION`` (see ``runtime.store.retention``), or ``None`` when unset or empty."""
    text = os.environ.get("RELAY_RETENTION", "").strip()
    if not text:
        return None
    policy = RetentionPolicy.parse(text)
    return None if policy.empty else policy


async def prune_forever(
    relay: Service, policy: RetentionPolicy | None, interval: float = INTERVAL
) -> None:
    """Prune by ``policy`` (if any) and the dedupe window now and every ``interval`` seconds
    until cancelled."""

    async def pause() -> None:
        await asyncio.sleep(PAUSE)

    while True:
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
