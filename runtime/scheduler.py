"""Firing time-driven triggers: each deployed instance whose trigger has an interval, when due.

``relay serve`` runs one ``Scheduler``. Every tick it looks at the deployed instances; each
instance that is due is fired under a store lock (so two servers never fire it twice at once).
What a firing does is the trigger kind's (``FlowTrigger.fire``): a schedule records an
execution, a polling trigger records one with what changed since its cursor.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from runtime.errors import RelayError

if TYPE_CHECKING:
    from runtime.executors import Executor
    from runtime.flows import Flow
    from runtime.service import Service
    from runtime.store import Instance

log = structlog.get_logger("relay.scheduler")


class Scheduler:
    """Fires due schedule and polling instances; ``tick`` is how often it looks."""

    def __init__(self, relay: Service, executor: Executor, *, tick: float = 1.0) -> None:
        self.relay = relay
        self.executor = executor
        self.tick = tick
        self._due: dict[str, float] = {}

    def interval(self, flow: Flow) -> float | None:
        """Seconds between firings of ``flow``, or ``None`` when time does not trigger it."""
        return flow.trigger.interval()

    async def run_forever(self) -> None:
        """Fire what is due every ``tick``, until cancelled; a failed tick is logged, not fatal."""
        while True:
            try:
                await self.run_due()
            except Exception as exc:  # the scheduler must outlive a bad tick (store hiccup)
                log.error("scheduler tick failed", error=type(exc).__name__)
            await self.relay.runtime.clock.sleep(self.tick)

    async def run_due(self) -> list[str]:
        """Fire every due instance once; returns the execution ids recorded."""
        now = self.relay.runtime.clock.time()
        recorded: list[str] = []
        for instance in await self.relay.store.list_instances():
            if instance.paused:  # it fires again, at once, when resumed
                self._due.pop(instance.name, None)
                continue
            flow = self.relay.flow_of(instance)
            every = self.interval(flow)
            if every is None or self._due.get(instance.name, now) > now:
                continue
            self._due[instance.name] = now + every
            try:
                async with self.relay.store.tokens.lock(f"fire:{instance.name}"):
                    execution_id = await self._fire(instance, flow)
            except RelayError as exc:
                log.warning(
                    "trigger failed",
                    instance=instance.name,
                    error=self.relay.runtime.redactor.text(str(exc)),
                )
                continue
            if execution_id is not None:
                recorded.append(execution_id)
                await self.executor.submit(execution_id, instance.name)
        return recorded

    async def _fire(self, instance: Instance, flow: Flow) -> str | None:
        return await flow.trigger.fire(self.relay, instance, flow)


async def run_scheduler(scheduler: Scheduler) -> None:
    """Run until cancelled (the server's lifespan cancels it on shutdown)."""
    try:
        await scheduler.run_forever()
    except asyncio.CancelledError:
        log.info("scheduler stopped")
        raise
