"""Waking waiting executions: a suspended execution (a long ``relay.sleep``, a retry's long
backoff) holds nothing while it waits; when its time comes on the runtime's clock, it is made
pending again and handed to the executor, which claims it and goes on from its checkpoint.

One loop per serving process polls the store (an indexed read of the earliest wake-up time),
so a thousand waiting executions cost no more than one: no task, timer or lease each.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.service import Service

log = structlog.get_logger("relay.executor")

#: Seconds between looks at the store for executions whose time has come, at most.
WAKE_POLL = 1.0


class Waker:
    """Makes due waiting executions pending and submits them (``wake_due``, ``run``)."""

    def __init__(
        self,
        relay: Service,
        submit: Callable[[str, str | None], Awaitable[None]],
        poll: float = WAKE_POLL,
    ) -> None:
        self.relay = relay
        self.submit = submit
        self.poll = poll
        #: executions woken so far (for tests and logs)
        self.woken = 0

    async def wake_due(self) -> int:
        """Wake what is due now on the runtime's clock; returns how many were woken."""
        count = 0
        while True:
            woken = await self.relay.store.wake_due(self.relay.runtime.clock.time())
            for execution_id, instance in woken:
                await self.submit(execution_id, instance)
            count += len(woken)
            if len(woken) < 1000:  # a full batch: more may be due
                break
        if count:
            self.woken += count
            log.info("woke waiting executions", count=count)
        return count

    async def run(self) -> None:
        """Wake due executions until cancelled: every ``poll`` seconds, or sooner when the
        earliest waiting one is due sooner."""
        while True:
            delay = self.poll
            try:
                await self.wake_due()
                next_wake = await self.relay.store.next_wake()
                if next_wake is not None:
                    until = next_wake - self.relay.runtime.clock.time()
                    delay = min(self.poll, max(0.01, until))
            except Exception as exc:  # the store is away: look again later
                log.warning("waking waiting executions failed", error=type(exc).__name__)
            await asyncio.sleep(delay)
