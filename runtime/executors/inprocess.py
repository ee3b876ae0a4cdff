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

Each run writes under its claim (worker and attempt, see ``Holder``): when a renewal finds the
lease taken over (this process stalled past it and another claim has the execution), the run
is stopped and records nothing. A run longer than ``time_limit`` (``RELAY_TIME_LIMIT``, as for
workers) is stopped and recorded failed, which releases its lease.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import deque
from typing import TYPE_CHECKING

import structlog

from runtime.background import stop
from runtime.claims import Claim
from runtime.envsettings import POSITIVE, env_value
from runtime.executors.waking import Waker
from runtime.expression_budget import current_budget

if TYPE_CHECKING:
    from runtime.service import Service

log = structlog.get_logger("relay.executor")

#: Seconds an execution may run when ``RELAY_TIME_LIMIT`` is unset (as for workers).
DEFAULT_TIME_LIMIT = 600.0


class _Lane:
    """One instance's queue and how many worker coroutines serve it (at most ``size``)."""

    __slots__ = ("queue", "size", "workers")

    def __init__(self, size: int) -> None:
        self.queue: deque[str] = deque()
        self.size = size
        self.workers = 0


class InProcessExecutor:
    """Runs executions as tasks in the server's event loop."""

    def __init__(
        self,
        relay: Service,
        *,
        default_concurrency: int = 10,
        lease: float = 30.0,
        time_limit: float | None = None,
    ) -> None:
        self.relay = relay
        self.default_concurrency = default_concurrency
        self.lease = lease
        #: seconds an execution may run before it is failed (default ``RELAY_TIME_LIMIT``)
        self.time_limit = time_limit if time_limit is not None else time_limit_from_env()
        current_budget()  # a bad RELAY_EXPRESSION_* setting is refused at start, not mid-run
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # the lanes' worker coroutines
        self._accepting = False
        #: running here: each run's claim (its task, and its attempt once claimed)
        self._running: dict[str, Claim] = {}
        self._queued: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        #: makes waiting executions pending when their time comes, and queues them here
        self.waker = Waker(relay, self.submit)
        self._waking: asyncio.Task[None] | None = None
        self.completed = 0
        #: executions the sweeps took over (for tests and logs)
        self.swept = 0

    async def start(self) -> None:
        """Start the lease heartbeat, adopt orphaned executions and queue every unfinished one.
        Starting a started executor starts no second set of chores (an app's lifespan may
        start an executor its embedder started already)."""
        self._accepting = True
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._renew_leases(), name="lease heartbeat")
        await self._adopt_orphans()
        unfinished = await self.relay.store.unfinished_executions()
        for row in unfinished:
            await self.submit(row.id, row.instance)
        if unfinished:
            log.info("resuming unfinished executions", count=len(unfinished))
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="execution sweep")
        if self._waking is None:
            self._waking = asyncio.create_task(self.waker.run(), name="execution waker")

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
            await self.renew_leases()

    async def renew_leases(self) -> None:
        """Renew the lease of every claimed execution running here; stop those whose lease
        another claim has taken over (they could only repeat its work)."""
        for claim in list(self._running.values()):
            await claim.renew(self.lease)

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
        """Queue the execution in its instance's lane (once; ignored while stopping)."""
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
        task = asyncio.current_task()
        claim = self._running[execution_id] = Claim(
            self.relay.store, execution_id, self.worker, task
        )
        try:
            async with asyncio.timeout(self.time_limit) as deadline:
                status = await self.relay.execute(
                    execution_id, self.worker, self.lease, instance=instance, on_claim=claim.took
                )
        except TimeoutError:
            if deadline.expired():
                limit = f"the execution exceeded the time limit of {self.time_limit:g} s"
                await claim.fail("TimeLimitExceeded", limit)
            else:  # not the time limit's: e.g. a lock wait inside the execution
                log.error("execution crashed", execution_id=execution_id, error="TimeoutError")
            return
        except asyncio.CancelledError:
            if claim.lost and task is not None and task.uncancel() == 0:
                return  # stopped by the renewal that found the lease taken over (logged there)
            log.warning("execution interrupted; it will be resumed", execution_id=execution_id)
            await claim.release()
            raise
        except Exception as exc:  # an executor must outlive any one execution
            log.error("execution crashed", execution_id=execution_id, error=type(exc).__name__)
            return
        finally:
            claim.end()
            self._running.pop(execution_id, None)
        if status is not None and status != "waiting":
            self.completed += 1

    async def drain(self) -> None:
        """Wait until nothing is in flight (tests and the demo use this)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self, grace: float) -> None:
        """Drop what has not started (it stays pending in the store), wait up to ``grace``
        seconds for the running ones, then cancel the rest (left unfinished for the next start)."""
        self._accepting = False
        for lane in self._lanes.values():
            lane.queue.clear()  # not started: they stay pending in the store for the next start
        self._queued.clear()
        for chore in (self._heartbeat, self._sweeper, self._waking):
            if chore is not None:
                # waited for: a chore stopped midway through a store call must be done with it
                # before the store closes (the waker looks at the store every second)
                await stop(chore)
        self._heartbeat = self._sweeper = self._waking = None
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

    def workers(self) -> int:
        """Worker coroutines serving the lanes now (at most each lane's size, however many
        executions are queued)."""
        return len(self._tasks)


def time_limit_from_env() -> float:
    """``RELAY_TIME_LIMIT`` (seconds, above zero), 600 when unset."""
    raw = os.environ.get("RELAY_TIME_LIMIT")
    return float(env_value("RELAY_TIME_LIMIT", raw, POSITIVE)) if raw else DEFAULT_TIME_LIMIT


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
