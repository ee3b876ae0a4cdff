"""The in-process executor: asyncio tasks, a concurrency limit per instance, resume on start."""

from __future__ import annotations

import asyncio
import os
import socket

import structlog

from runtime.service import Relay

log = structlog.get_logger("relay.executor")


class InProcessExecutor:
    """Runs executions as tasks in the server's event loop."""

    def __init__(
        self, relay: Relay, *, default_concurrency: int = 10, lease: float = 300.0
    ) -> None:
        self.relay = relay
        self.default_concurrency = default_concurrency
        self.lease = lease
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting = False
        self.completed = 0

    async def start(self) -> None:
        self._accepting = True
        unfinished = await self.relay.store.unfinished_executions()
        for row in unfinished:
            await self.submit(row.id, row.instance)
        if unfinished:
            log.info("resuming unfinished executions", count=len(unfinished))

    def _limit(self, instance: str | None) -> asyncio.Semaphore:
        key = instance or ""
        limit = self._limits.get(key)
        if limit is None:
            size = self.default_concurrency
            if instance is not None:
                size = self._concurrency_of(instance) or size
            limit = self._limits[key] = asyncio.Semaphore(size)
        return limit

    def _concurrency_of(self, instance: str) -> int | None:
        cached = [f for (name, _), f in self.relay._flows.items() if name == instance]
        return cached[-1].concurrency if cached else None

    async def submit(self, execution_id: str, instance: str | None) -> None:
        if not self._accepting:
            return  # stays pending in the store; resumed on the next start
        task = asyncio.create_task(
            self._run(execution_id, instance), name=f"execution {execution_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, execution_id: str, instance: str | None) -> None:
        async with self._limit(instance):
            try:
                status = await self.relay.execute(execution_id, self.worker, self.lease)
            except asyncio.CancelledError:
                log.warning("execution interrupted; it will be resumed", execution_id=execution_id)
                await self._release(execution_id)
                raise
            except Exception as exc:  # an executor must outlive any one execution
                log.error("execution crashed", execution_id=execution_id, error=type(exc).__name__)
                return
            if status is not None:
                self.completed += 1

    async def _release(self, execution_id: str) -> None:
        try:
            await asyncio.shield(self.relay.store.release_execution(execution_id))
        except Exception:  # best effort: an expired lease makes it resumable anyway
            log.warning("could not release execution", execution_id=execution_id)

    async def drain(self) -> None:
        """Wait until nothing is in flight (tests and the demo use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self, grace: float) -> None:
        self._accepting = False
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.info("handed back unfinished executions", count=len(pending))

    def in_flight(self) -> int:
        return len(self._tasks)
