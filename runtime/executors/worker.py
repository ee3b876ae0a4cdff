"""The worker side of the Dramatiq executor: what one ``run_execution`` message does.

One ``ExecutionRunner`` per worker process holds one ``Service`` (built lazily on the process's
event loop, which Dramatiq's AsyncIO middleware runs for every worker thread). For a message
``(execution_id, instance)`` it:

1. takes a slot of the instance's concurrency limit (shared through Redis). If the flow is at
   its limit it tries again a few times over ``SLOT_WAITS`` (~0.3 s: short executions free a
   slot within that), then asks to be looked at again shortly (the message is re-sent with a
   delay, which frees this worker thread instead of blocking it). Deferring at once made
   throughput collapse when workers had more threads than the flow's limit (BENCHMARKS.md,
   figure 6: 188/s -> 69/s with 32 threads against a limit of 10);
2. runs ``Service.execute``, whose claim in the store is exclusive: a repeated message for an
   execution that is finished does nothing; one that another worker holds under a live lease
   is looked at again when that lease would run out (its holder may have died);
3. renews the lease while the execution runs, and fails the execution when it outlives the
   time limit: the run is cancelled (the steps done so far stay recorded) and not retried,
   since running it again could repeat side effects; a failed execution can be replayed;
4. on a crash (an exception out of the store or the runtime), hands the execution back and
   lets Dramatiq retry the message with backoff; on the last attempt, records it as failed.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from typing import TYPE_CHECKING, Any

import structlog
from attrs import evolve, field, frozen

from runtime.api import Runtime
from runtime.background import running
from runtime.claims import Claim
from runtime.envsettings import POSITIVE, POSITIVE_INT, env_value
from runtime.executors.dramatiq import QueueSettings
from runtime.executors.limits import DEFAULT_REQUESTS_PER_MINUTE, RedisLimits
from runtime.service import Service
from runtime.store import open_store
from runtime.store.executions import FINAL

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Seconds between tries for a flow slot before the message is deferred (each jittered).
SLOT_WAITS = (0.01, 0.02, 0.04, 0.08, 0.16)

log = structlog.get_logger("relay.worker")


@frozen
class WorkerSettings:
    """How a worker process runs executions (see ``from_env`` for the variables)."""

    queue: QueueSettings = field(factory=QueueSettings)
    #: the store; ``None``: ``$RELAY_HOME/relay.db`` (only sensible with one machine)
    database_url: str | None = None
    threads: int = 8
    #: seconds an execution may run before it is failed
    time_limit: float = 600.0
    #: seconds a claim lasts without renewal (renewed every third of it while running)
    lease: float = 30.0
    #: how often a crashed attempt is retried, and the backoff between attempts (seconds)
    max_retries: int = 5
    min_backoff: float = 1.0
    max_backoff: float = 300.0
    #: each stored connection's request budget per minute, shared by all workers
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    #: seconds a stopping worker lets in-flight executions finish
    grace: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> WorkerSettings:
        """``RELAY_DATABASE_URL``, ``RELAY_WORKER_THREADS``, ``RELAY_TIME_LIMIT``,
        ``RELAY_LEASE``, ``RELAY_MAX_RETRIES``, ``RELAY_MIN_BACKOFF``, ``RELAY_MAX_BACKOFF``,
        ``RELAY_REQUESTS_PER_MINUTE``, ``RELAY_WORKER_GRACE`` and ``QueueSettings``' own;
        ``overrides`` win, ``None`` values are ignored (``queue=...`` names the queue)."""
        env = os.environ if environ is None else environ
        queue = QueueSettings.from_env(env, queue=overrides.pop("queue", None))
        values: dict[str, Any] = {"queue": queue, "database_url": env.get("RELAY_DATABASE_URL")}
        for name, var, kind in (
            ("threads", "RELAY_WORKER_THREADS", POSITIVE_INT),
            ("time_limit", "RELAY_TIME_LIMIT", POSITIVE),
            ("lease", "RELAY_LEASE", POSITIVE),
            ("max_retries", "RELAY_MAX_RETRIES", int),
            ("min_backoff", "RELAY_MIN_BACKOFF", float),
            ("max_backoff", "RELAY_MAX_BACKOFF", float),
            ("requests_per_minute", "RELAY_REQUESTS_PER_MINUTE", POSITIVE_INT),
            ("grace", "RELAY_WORKER_GRACE", float),
        ):
            if env.get(var):
                values[name] = env_value(var, env[var], kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return evolve(cls(), **values)


class ExecutionRunner:
    """Runs the executions messages name, in one worker process (see the module doc)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.limits = RedisLimits(
            settings.queue.redis_url,
            settings.queue.namespace,
            requests_per_minute=settings.requests_per_minute,
            slot_lease=settings.lease,
        )
        self._relay: Service | None = None
        self._building = asyncio.Lock()

    async def relay(self) -> Service:
        """The process's ``Service``, built on first use (on the worker's event loop)."""
        async with self._building:
            if self._relay is None:
                runtime = Runtime(request_limiter=self.limits.before_request)
                store = await open_store(self.settings.database_url)
                self._relay = Service(runtime, store)
        return self._relay

    async def aclose(self) -> None:
        """Close the service and its store if built, and the shared limits' Redis client."""
        if self._relay is not None:
            await self._relay.aclose()
            await self._relay.store.close()
            self._relay = None
        self.limits.close()

    async def handle(
        self, execution_id: str, instance: str | None, *, final_attempt: bool = False
    ) -> float | None:
        """Process one message. Returns ``None`` when done with it, or the seconds after
        which the same message should be looked at again."""
        relay = await self.relay()
        concurrency = await self._concurrency(relay, instance)
        if instance is None or concurrency is None:
            return await self._run(relay, execution_id, final_attempt)
        for wait in (*SLOT_WAITS, None):
            async with self.limits.flow_slot(instance, concurrency) as acquired:
                if acquired:
                    return await self._run(relay, execution_id, final_attempt)
            if wait is None:
                break
            await asyncio.sleep(wait * random.uniform(0.5, 1.5))
        return random.uniform(0.2, 1.0)  # still at its limit; spread the retries

    async def _concurrency(self, relay: Service, instance: str | None) -> int | None:
        # the instance as ``Service`` caches it (a few seconds): ``execute`` reads the same one
        found = await relay.instance_named(instance) if instance else None
        return relay.flow_of(found).concurrency if found else None

    async def _run(self, relay: Service, execution_id: str, final_attempt: bool) -> float | None:
        claim = Claim(relay.store, execution_id, self.worker_id, asyncio.current_task())
        try:
            async with (
                asyncio.timeout(self.settings.time_limit) as deadline,
                running(self._renew(claim)),
            ):
                status = await relay.execute(
                    execution_id, self.worker_id, self.settings.lease, on_claim=claim.took
                )
        except TimeoutError as exc:
            if not deadline.expired():  # not ours: e.g. a lock wait inside the execution
                await self._crashed(relay, claim, exc, final_attempt)
                raise
            await self._timed_out(claim)
            return None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if claim.lost and task is not None and task.uncancel() == 0:
                return None  # another claim has it (the renewal that found out logged it)
            # the worker is stopping, or Dramatiq's hard time limit struck: hand it back
            await claim.release()
            raise
        except Exception as exc:
            await self._crashed(relay, claim, exc, final_attempt)
            raise
        finally:
            claim.end()
        if deadline.expired():
            # the engine absorbed the cancellation and recorded the execution as canceled
            await self._timed_out(claim)
            return None
        if status == "waiting":  # suspended: the message comes back when it is due
            return await self._due_in(relay, execution_id)
        if status is not None:
            return None
        return await self._look_again_in(relay, execution_id)

    async def _due_in(self, relay: Service, execution_id: str) -> float | None:
        """Seconds until a suspended execution is due (the message is re-sent with that
        delay: waiting holds no worker thread)."""
        row = await relay.store.get_execution(execution_id)
        if row is None or row.status != "waiting":
            return None  # canceled meanwhile, or woken and taken by another worker
        return max(0.05, (row.wake_at or 0.0) - relay.runtime.clock.time())

    async def _look_again_in(self, relay: Service, execution_id: str) -> float | None:
        """Not claimed: nothing to do if it is finished, held (or gone); otherwise another worker
        holds it, so look again when its lease would run out (its holder may be dead)."""
        row = await relay.store.get_execution(execution_id)
        # held (its instance is paused): resuming it makes it pending and a sweep enqueues it
        if row is None or row.status in FINAL or row.status == "held":
            return None
        if row.status == "waiting":  # a suspended execution's message, come back when due
            due_in = (row.wake_at or 0.0) - relay.runtime.clock.time()
            now = relay.runtime.clock.time()
            if due_in <= 0 and await relay.store.wake_execution(execution_id, now):
                return 0.0  # pending now: run it with the next delivery of this message
            return max(0.05, due_in)
        remaining = (row.lease_until or 0.0) - time.time()
        return max(0.2, remaining + random.uniform(0.1, 0.5))

    async def _renew(self, claim: Claim) -> None:
        """Renew the lease every third of it, until a renewal finds it taken over (which
        stops the run)."""
        lease = self.settings.lease
        while True:
            await asyncio.sleep(lease / 3)
            if not await claim.renew(lease):
                return

    async def _crashed(
        self, relay: Service, claim: Claim, exc: BaseException, final_attempt: bool
    ) -> None:
        log.error(
            "execution crashed",
            execution_id=claim.execution_id,
            error=type(exc).__name__,
            final=final_attempt,
        )
        if final_attempt:
            await claim.fail(type(exc).__name__, relay.runtime.redactor.text(str(exc)))
        else:
            await claim.release()

    async def _timed_out(self, claim: Claim) -> None:
        limit = self.settings.time_limit
        message = f"the execution exceeded the time limit of {limit:g} s"
        await claim.fail("TimeLimitExceeded", message, after_cancel=True)
