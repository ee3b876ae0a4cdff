"""Limits shared by every worker through Redis.

- Per flow instance: at most the flow's ``concurrency`` executions at once, across all workers.
  Each running execution holds a slot: a member of a Redis sorted set scored by when it lapses.
  The holder renews it every third of the lease while it runs; a worker that dies (SIGKILL, a
  lost machine) stops renewing, and its slot lapses one lease later (``RELAY_LEASE``, 30 s by
  default). (Dramatiq's ``ConcurrentRateLimiter`` keeps one counter with one TTL refreshed on
  every use: a dead worker's slot stayed taken until the instance was idle for the whole TTL,
  which under steady traffic is never.)
- Per connection: at most N requests a minute, across all workers (``WindowRateLimiter`` over a
  60 s sliding window). Calendly limits each user's token, so the key is the connection's store
  key: every instance using one stored connection shares its budget.

Redis calls are blocking redis-py; they go to a thread so the worker's event loop (shared by all
of its executions) keeps running. Slot expiry uses Redis's clock (``TIME``), not the workers'.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from runtime.background import running
from runtime.errors import RetriableApiError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = structlog.get_logger("relay.limits")

#: KEYS[1] the instance's slots; ARGV: limit, lease (ms), holder. Drops lapsed slots, then
#: takes one if fewer than ``limit`` are held. Returns 1 when taken.
_TAKE_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

#: KEYS[1] the instance's slots; ARGV: lease (ms), holder. Extends a slot still held; returns 0
#: when it had already lapsed (and was perhaps taken by someone else).
_RENEW_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local until_ = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not until_ or tonumber(until_) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

#: Calendly's documented per-user limit on paid plans.
DEFAULT_REQUESTS_PER_MINUTE = 500


class RedisLimits:
    """The shared limits of one deployment (keys under ``<namespace>:limits:``)."""

    def __init__(
        self,
        redis_url: str,
        namespace: str,
        *,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        slot_lease: float = 30.0,
        max_wait: float = 120.0,
    ) -> None:
        self.backend = RedisBackend(url=redis_url)
        self.prefix = f"{namespace}:limits"
        self.requests_per_minute = requests_per_minute
        #: seconds a flow slot lasts without renewal (its holder renews every third of it)
        self.slot_lease = slot_lease
        #: how long a request may wait for the per-connection limit before it fails as a 429
        self.max_wait = max_wait
        client = self.backend.client
        self._take_slot = client.register_script(_TAKE_SLOT)
        self._renew_slot = client.register_script(_RENEW_SLOT)

    def slot_key(self, instance: str) -> str:
        """The Redis key holding ``instance``'s flow slots."""
        return f"{self.prefix}:slots:{instance}"

    @contextlib.asynccontextmanager
    async def flow_slot(self, instance: str, concurrency: int) -> AsyncIterator[bool]:
        """Try to take one of ``instance``'s ``concurrency`` slots; yields whether it did.
        Never waits: a worker that cannot run something now should do something else. A
        taken slot is renewed while the block runs and given back when it ends."""
        key, holder = self.slot_key(instance), uuid.uuid4().hex
        lease_ms = max(1, int(self.slot_lease * 1000))
        taken = await asyncio.to_thread(
            self._take_slot, keys=[key], args=[max(1, concurrency), lease_ms, holder]
        )
        if not taken:
            yield False
            return
        try:
            async with running(self._keep_slot(key, holder, lease_ms)):
                yield True
        finally:
            await asyncio.to_thread(self.backend.client.zrem, key, holder)

    async def _keep_slot(self, key: str, holder: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                held = await asyncio.to_thread(
                    self._renew_slot, keys=[key], args=[lease_ms, holder]
                )
            except Exception as exc:  # Redis away: the slot may lapse; keep trying
                log.warning("could not renew a flow slot", error=type(exc).__name__)
                continue
            if not held:
                log.warning("a flow slot lapsed before its execution ended", key=key)
                return

    async def before_request(self, connection_key: str) -> None:
        """``Runtime.request_limiter``: wait for a slot in the connection's per-minute budget;
        raises ``RetriableApiError`` (429) after ``max_wait`` seconds without one."""
        limiter = WindowRateLimiter(  # type: ignore[no-untyped-call]
            self.backend,
            f"{self.prefix}:requests:{connection_key}",
            limit=self.requests_per_minute,
            window=60,
        )
        deadline = time.monotonic() + self.max_wait
        while True:
            async with _acquired(limiter) as acquired:
                if acquired:
                    return
            if time.monotonic() >= deadline:
                raise RetriableApiError(
                    429,
                    "Rate Limited",
                    f"more than {self.requests_per_minute} requests a minute on this connection "
                    "across all workers",
                )
            # the window moves by whole seconds: poll about that often, spread out
            await asyncio.sleep(random.uniform(0.25, 1.0))

    def close(self) -> None:
        """Close the Redis client's connections."""
        self.backend.client.close()


@contextlib.asynccontextmanager
async def _acquired(limiter: Any) -> AsyncIterator[bool]:
    """``limiter.acquire(raise_on_failure=False)`` entered and left in worker threads."""
    manager = limiter.acquire(raise_on_failure=False)
    acquired = bool(await asyncio.to_thread(manager.__enter__))
    try:
        yield acquired
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
