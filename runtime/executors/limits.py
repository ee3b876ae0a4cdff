"""Limits shared by every worker through Redis (Dramatiq's rate limiters).

- Per flow instance: at most the flow's ``concurrency`` executions at once, across all workers
  (``ConcurrentRateLimiter``, a counter per instance).
- Per connection: at most N requests a minute, across all workers (``WindowRateLimiter`` over a
  60 s sliding window). Calendly limits each user's token, so the key is the connection's store
  key: every instance using one stored connection shares its budget.

The limiters speak blocking redis-py; calls go to a thread so the worker's event loop (shared by
all of its executions) keeps running. A worker killed while holding a concurrency slot leaks it
until the counter's TTL lapses, which happens only once nobody touches that instance's counter
for the whole TTL; the TTL is therefore the time limit, so a leak is bounded by quiet periods.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from dramatiq.rate_limits import ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from runtime.errors import RetriableApiError

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
        slot_ttl: float = 600.0,
        max_wait: float = 120.0,
    ) -> None:
        self.backend = RedisBackend(url=redis_url)
        self.prefix = f"{namespace}:limits"
        self.requests_per_minute = requests_per_minute
        self.slot_ttl = slot_ttl
        #: how long a request may wait for the per-connection limit before it fails as a 429
        self.max_wait = max_wait

    @contextlib.asynccontextmanager
    async def flow_slot(self, instance: str, concurrency: int) -> AsyncIterator[bool]:
        """Try to take one of ``instance``'s ``concurrency`` slots; yields whether it did.
        Never waits: a worker that cannot run something now should do something else."""
        # dramatiq's rate limiters carry no annotations
        limiter = ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
            self.backend,
            f"{self.prefix}:flow:{instance}",
            limit=max(1, concurrency),
            ttl=int(self.slot_ttl * 1000),
        )
        async with _acquired(limiter) as acquired:
            yield acquired

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
