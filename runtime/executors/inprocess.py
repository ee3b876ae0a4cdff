"""The in-process executor: per-instance lanes of worker coroutines, resume on start.

Each instance gets a lane: a queue of execution ids and at most the flow's ``concurrency``
worker coroutines, started as work arrives and ended when the queue runs dry. A burst of
5,000 deliveries is then 5,000 ids in a queue and ten coroutines, not 5,000 tasks waiting on
a semaphore (measured: ~2.4 against ~12 us of scheduling an execution, BENCHMARKS.md).

Each running execution holds a short lease in the store, renewed by a heartbeat; queued ones
are still ``pending`` there. After a crash the next start adopts what this machine's dead
processes held (no need to wait for the lease) and resumes everything pending. While running,
a sweep once per lease takes over what has been claimable for longer than a lease and is not
queued here: work of another process sharing the store that died (its lease ran out), or
that was recorded but never handed to an executor. Claims are atomic, so work two processes
both pick up still runs once. Shutting down stops starting queued executions (they stay
pending for the next start) and gives running ones a grace period.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import deque

import structlog

from runtime.service import Relay

log = structlog.get_logger("relay.executor")


class _Lane:
    """One instance's queue and how many worker coroutines serve it (at most ``size``)."""

    __slots__ = ("queue", "size", "workers")

    def __init__(self, size: int) -> None:
        self.queue: deque[str] = deque()
        self.size = size
        self.workers = 0


class InProcessExecutor:
    """Runs executions as tasks in the server's event loop."""

    def __init__(self, relay: Relay, *, default_concurrency: int = 10, lease: float = 30.0) -> None:
        self.relay = relay
        self.default_concurrency = default_concurrency
        self.lease = lease
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # the lanes' worker coroutines
        self._accepting = False
        self._running: set[str] = set()
        self._queued: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.completed = 0
        #: executions the sweeps took over (for tests and logs)
        self.swept = 0

    async def start(self) -> None:
        self._accepting = True
        self._heartbeat = asyncio.create_task(self._renew_leases(), name="lease heartbeat")
        await self._adopt_orphans()
        unfinished = await self.relay.store.unfinished_executions()
        for row in unfinished:
            await self.submit(row.id, row.instance)
        if unfinished:
            log.info("resuming unfinished executions", count=len(unfinished))
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="execution sweep")

    async def sweep(self) -> int:
        """Take over what has been claimable for longer than a lease and is neither queued
        nor running here; returns how many. (Oldest first, at most 1,000 a sweep: behind a
        backlog of this process's own, an orphan waits for the backlog to thin.)"""
        stalled = await self.relay.store.stalled_executions(time.time() - self.lease)
        taken = 0
        for execution_id, instance in stalled:
            if execution_id not in self._queued and execution_id not in self._running:
                await self.submit(execution_id, instance)
                taken += 1
        if taken:
            self.swept += taken
            log.info("took over stalled executions", count=taken)
        return taken

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease)
            try:
                await self.sweep()
            except Exception as exc:  # the store is away: the next sweep tries again
                log.warning("execution sweep failed", error=str(exc))

    async def _adopt_orphans(self) -> None:
        """Release executions held by processes of this host that no longer exist."""
        host = self.worker.rsplit(":", 1)[0]
        running = await self.relay.store.list_executions(status="running", limit=100_000)
        for row in running:
            holder = row.worker or ""
            name, _, pid = holder.rpartition(":")
            if name == host and pid.isdigit() and not _alive(int(pid)):
                await self.relay.store.release_execution(row.id, worker=holder)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            for execution_id in list(self._running):
                try:
                    await self.relay.store.renew_lease(execution_id, self.worker, self.lease)
                except Exception as exc:  # a missed renewal only risks a duplicate claim later
                    log.warning("lease renewal failed", execution_id=execution_id, error=str(exc))

    def _lane(self, instance: str | None) -> _Lane:
        key = instance or ""
        lane = self._lanes.get(key)
        if lane is None:
            size = self.default_concurrency
            if instance is not None:
                size = self._concurrency_of(instance) or size
            lane = self._lanes[key] = _Lane(size)
        return lane

    def _concurrency_of(self, instance: str) -> int | None:
        return self.relay.concurrency_of(instance)

    async def submit(self, execution_id: str, instance: str | None) -> None:
        if not self._accepting:
            return  # stays pending in the store; resumed on the next start
        if execution_id in self._queued:
            return
        lane = self._lane(instance)
        lane.queue.append(execution_id)
        self._queued.add(execution_id)
        if lane.workers < lane.size:
            lane.workers += 1
            task = asyncio.create_task(self._serve(lane, instance), name="execution lane")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, lane: _Lane, instance: str | None) -> None:
        """A worker coroutine: runs ``lane``'s queued executions one at a time until the queue
        is empty or the executor stops accepting."""
        try:
            while lane.queue and self._accepting:
                execution_id = lane.queue.popleft()
                self._queued.discard(execution_id)
                await self._run(execution_id, instance)
        finally:
            lane.workers -= 1

    async def _run(self, execution_id: str, instance: str | None) -> None:
        self._running.add(execution_id)
        try:
            status = await self.relay.execute(
                execution_id, self.worker, self.lease, instance=instance
            )
        except asyncio.CancelledError:
            log.warning("execution interrupted; it will be resumed", execution_id=execution_id)
            await self._release(execution_id)
            raise
        except Exception as exc:  # an executor must outlive any one execution
            log.error("execution crashed", execution_id=execution_id, error=type(exc).__name__)
            return
        finally:
            self._running.discard(execution_id)
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
        for lane in self._lanes.values():
            lane.queue.clear()  # not started: they stay pending in the store for the next start
        self._queued.clear()
        for chore in (self._heartbeat, self._sweeper):
            if chore is not None:
                chore.cancel()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
        interrupted = len(self._running)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.info("handed back unfinished executions", count=interrupted)

    def in_flight(self) -> int:
        """Executions running or queued here."""
        return len(self._running) + len(self._queued)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
