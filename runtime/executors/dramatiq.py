"""The Dramatiq executor (web tier): recorded executions go to ``relay worker`` through Redis.

The web process records a delivery and its pending execution in the store (the source of
truth) before answering, then enqueues a message carrying only the execution id and instance
name; any worker on any machine takes it (``runtime.executors.worker``). Messages arrive at
least once (a dead worker's unacknowledged messages are requeued, ``start`` re-enqueues what
is unfinished, a periodic sweep re-enqueues what stays unfinished too long), and the store's
claim makes the effect exactly once.

Configuration is by environment (see ``QueueSettings.from_env``) so every web process and
worker of a deployment agrees on the Redis URL, namespace and queue.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from typing import TYPE_CHECKING, Any

import structlog
from attrs import evolve, frozen
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from runtime.background import stop
from runtime.envsettings import POSITIVE, env_value
from runtime.errors import ConfigurationError
from runtime.executors.waking import Waker

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dramatiq.middleware import Middleware

    from runtime.service import Service

log = structlog.get_logger("relay.executor")

#: The actor every execution message names (declared by the workers).
ACTOR_NAME = "run_execution"
_QUEUE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9._-]*")


@frozen
class QueueSettings:
    """Where execution messages go: shared by the web tier and the workers."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: the Dramatiq queue; a deployment (or a test) may use its own
    queue: str = "relay"
    #: prefix of every Redis key relay writes (messages, heartbeats, rate limits)
    namespace: str = "relay"
    #: seconds without a heartbeat after which a worker counts as dead and its unacknowledged
    #: messages are requeued (Dramatiq's own recovery; the store's lease guards the effect)
    heartbeat_timeout: float = 60.0
    #: out of a million broker commands, how many also run queue maintenance (that requeue);
    #: Dramatiq's default is 1000; tests raise it so recovery is prompt
    maintenance_chance: int = 1000
    #: seconds between the web tier's sweeps for stalled executions (0: no sweeping)
    sweep_interval: float = 30.0
    #: an unfinished execution older than this (seconds) is re-enqueued by a sweep, at most
    #: once per this many seconds: its message may be lost (Redis restarted without
    #: persistence, an enqueue that failed, a message whose retries ran out)
    stall_after: float = 120.0

    def __attrs_post_init__(self) -> None:
        if not _QUEUE_NAME.fullmatch(self.queue):
            raise ConfigurationError(
                f"invalid queue name {self.queue!r}: letters, digits, '.', '_' and '-' only"
            )
        if not 0 < self.heartbeat_timeout < math.inf:
            raise ConfigurationError("the heartbeat timeout must be positive and finite")
        if not (0 <= self.sweep_interval < math.inf and 0 <= self.stall_after < math.inf):
            raise ConfigurationError(
                "the sweep interval and stall age must be finite and cannot be negative"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> QueueSettings:
        """``RELAY_REDIS_URL``, ``RELAY_QUEUE``, ``RELAY_REDIS_NAMESPACE``,
        ``RELAY_HEARTBEAT_TIMEOUT`` (seconds), ``RELAY_MAINTENANCE_CHANCE``,
        ``RELAY_SWEEP_INTERVAL`` and ``RELAY_STALL_AFTER`` (seconds); ``overrides``
        (e.g. command-line options) win over the environment, ``None`` values are ignored."""
        env = os.environ if environ is None else environ
        settings = cls()
        values: dict[str, Any] = {}
        for name, var, kind in (
            ("redis_url", "RELAY_REDIS_URL", str),
            ("queue", "RELAY_QUEUE", str),
            ("namespace", "RELAY_REDIS_NAMESPACE", str),
            ("heartbeat_timeout", "RELAY_HEARTBEAT_TIMEOUT", POSITIVE),
            ("maintenance_chance", "RELAY_MAINTENANCE_CHANCE", int),
            ("sweep_interval", "RELAY_SWEEP_INTERVAL", float),
            ("stall_after", "RELAY_STALL_AFTER", float),
        ):
            if env.get(var):
                values[name] = env_value(var, env[var], kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return evolve(settings, **values)


def make_broker(settings: QueueSettings, middleware: list[Middleware] | None = None) -> RedisBroker:
    """A Redis broker for ``settings``; the web tier needs no middleware, workers pass theirs."""
    return RedisBroker(  # type: ignore[no-untyped-call]  # its __init__ is unannotated
        url=settings.redis_url,
        namespace=settings.namespace,
        heartbeat_timeout=int(settings.heartbeat_timeout * 1000),
        maintenance_chance=settings.maintenance_chance,
        middleware=middleware or [],
    )


def execution_message(settings: QueueSettings, execution_id: str, instance: str | None) -> Any:
    """The message asking a worker to run ``execution_id`` (nothing else travels: the
    execution, its payload and its secrets stay in the store)."""
    return Message(
        queue_name=settings.queue,
        actor_name=ACTOR_NAME,
        args=(execution_id, instance),
        kwargs={},
        options={},
    )


class DramatiqExecutor:
    """``Executor`` for ``relay serve --executor dramatiq``: enqueues, never runs."""

    def __init__(
        self,
        relay: Service,
        settings: QueueSettings | None = None,
        broker: RedisBroker | None = None,
    ) -> None:
        self.relay = relay
        self.settings = settings or QueueSettings.from_env()
        self._owns_broker = broker is None
        self.broker = broker or make_broker(self.settings)
        self._accepting = False
        self._sweeper: asyncio.Task[None] | None = None
        #: makes waiting executions pending when their time comes, and enqueues them (the
        #: workers also re-send a suspended execution's message to arrive when it is due)
        self.waker = Waker(relay, self.submit)
        self._waking: asyncio.Task[None] | None = None
        #: execution id -> when a sweep last re-enqueued it (only those still unfinished)
        self._swept: dict[str, float] = {}

    async def start(self) -> None:
        """Enqueue every unfinished execution again: pending ones (their message may have
        been lost with a crashed web process or an exhausted retry) and running ones whose
        lease ran out (their worker died). Duplicates of live messages are harmless: the
        claim decides who runs, and a worker skips what is finished. Then sweep every
        ``sweep_interval`` seconds for executions that stay unfinished (see ``sweep``)."""
        self._accepting = True
        unfinished = await self.relay.store.unfinished_executions()
        for row in unfinished:
            await self.submit(row.id, row.instance)
        if unfinished:
            log.info("re-enqueued unfinished executions", count=len(unfinished))
        if self.settings.sweep_interval > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="relay-sweep")
        if self._waking is None:
            self._waking = asyncio.create_task(self.waker.run(), name="relay-waker")

    async def sweep(self, now: float | None = None) -> int:
        """Re-enqueue what has been unfinished for more than ``stall_after`` seconds, each at
        most once per ``stall_after``; return how many were enqueued.

        Covers what no other path recovers while the web tier keeps running: Redis restarted
        without persistence (every queued message gone), an enqueue that failed while Redis
        was away, a message whose retries ran out. A backlog that is merely slow to drain gets
        one duplicate message per ``stall_after``, which the claim turns into a no-op."""
        t = time.time() if now is None else now
        stall_after = self.settings.stall_after
        stalled = await self.relay.store.stalled_executions(t - stall_after)
        still: dict[str, float] = {}
        sent = 0
        for execution_id, instance in stalled:
            last = self._swept.get(execution_id)
            if last is not None and t - last < stall_after:
                still[execution_id] = last
                continue
            await self.submit(execution_id, instance)
            still[execution_id] = t
            sent += 1
        self._swept = still  # forget what has finished
        if sent:
            log.warning("re-enqueued stalled executions", count=sent)
        return sent

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                await self.sweep()
            except Exception as exc:  # the store is away: try again next time
                log.error("sweep for stalled executions failed", error=type(exc).__name__)

    async def submit(self, execution_id: str, instance: str | None) -> None:
        """Enqueue the execution for a worker; while stopping, leave it pending for a sweep."""
        if not self._accepting:
            return  # stays pending in the store; enqueued by the next start or a sweep
        message = execution_message(self.settings, execution_id, instance)
        try:
            # redis-py is blocking: keep the server's event loop free while it talks to Redis
            await asyncio.to_thread(self.broker.enqueue, message)
        except Exception as exc:  # the delivery is recorded: answer it; a sweep re-enqueues it
            log.error(
                "could not enqueue execution; it stays pending until a sweep or restart",
                execution_id=execution_id,
                error=type(exc).__name__,
            )

    async def shutdown(self, grace: float) -> None:
        """Stop enqueueing and sweeping. Nothing runs here, so there is nothing to wait for."""
        self._accepting = False
        if self._sweeper is not None:
            await stop(self._sweeper)
            self._sweeper = None
        if self._waking is not None:
            await stop(self._waking)
            self._waking = None
        if self._owns_broker:
            # RedisBroker.close is a no-op: its connection pool is the client's to close
            await asyncio.to_thread(self.broker.client.close)

    def in_flight(self) -> int:
        """Always 0: executions run on the workers, not in this process."""
        return 0
