"""Rejected (and ignored) deliveries, counted in memory and written to the store in batches.

A rejected delivery is never stored: its instance, reason, answer and time are counted per
minute here, and ``flush`` adds the counts to the store's ``delivery_rejections`` rows (the
server flushes every ``FLUSH_INTERVAL`` seconds, the management API before it lists). A flood
of rejected posts therefore costs one row per reason a minute, written once a second, not a
write per post; at most ``MAX_PENDING`` distinct (instance, minute, reason) counts wait here,
and any further reason is counted under ``OVERFLOW_REASON``.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import structlog

from runtime.store.deliveries import RejectionCount

if TYPE_CHECKING:
    from runtime.store import Store

log = structlog.get_logger("relay.service")

#: Seconds between two flushes of the server's counts.
FLUSH_INTERVAL = 1.0
#: Distinct counts that may wait for a flush.
MAX_PENDING = 1000
#: The reason counted once ``MAX_PENDING`` others wait.
OVERFLOW_REASON = "other reasons (too many different ones to count each)"
#: Characters of a reason kept.
MAX_REASON = 200


class RejectionLog:
    """Counts of rejected deliveries waiting to be written to ``store``."""

    def __init__(self, store: Store, *, max_pending: int = MAX_PENDING) -> None:
        self._store = store
        self._max = max_pending
        self._pending: dict[tuple[str, float, str], RejectionCount] = {}
        self._lock = asyncio.Lock()

    def add(self, instance: str, status: int, reason: str, at: float) -> None:
        """Count one delivery to ``instance`` answered ``status`` for ``reason`` at ``at``."""
        minute = math.floor(at / 60.0) * 60.0 if math.isfinite(at) else 0.0
        # one line, storable on both engines (no NUL, no lone surrogate), bounded
        text = " ".join(reason.split())[:MAX_REASON].replace("\x00", "")
        text = text.encode("utf-8", "replace").decode("utf-8") or "rejected"
        key = (instance, minute, text)
        found = self._pending.get(key)
        if found is None and len(self._pending) >= self._max:
            key = (instance, minute, OVERFLOW_REASON)
            found = self._pending.get(key)
            text = OVERFLOW_REASON
        if found is None:
            self._pending[key] = RejectionCount(instance, minute, text, status, 1, at, at)
            return
        self._pending[key] = RejectionCount(
            instance,
            minute,
            text,
            status,
            found.count + 1,
            min(found.first_at, at),
            max(found.last_at, at),
        )

    @property
    def pending(self) -> int:
        """How many counts wait for a flush."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write the waiting counts; when the store fails they wait for the next flush."""
        async with self._lock:
            counts, self._pending = self._pending, {}
            if not counts:
                return
            try:
                await self._store.record_rejections(counts.values())
            except BaseException:
                for key, count in counts.items():  # put back, merged with any counted since
                    later = self._pending.get(key)
                    if later is not None:
                        count = RejectionCount(
                            count.instance,
                            count.minute,
                            count.reason,
                            later.status,
                            count.count + later.count,
                            min(count.first_at, later.first_at),
                            max(count.last_at, later.last_at),
                        )
                    if key in self._pending or len(self._pending) < self._max:
                        self._pending[key] = count
                raise


async def flush_forever(log_: RejectionLog, interval: float = FLUSH_INTERVAL) -> None:
    """Flush ``log_`` every ``interval`` seconds until cancelled (``Service.aclose`` flushes
    what is left)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await log_.flush()
        except Exception as exc:  # the store is away: the counts wait for the next round
            log.warning("counting rejected deliveries failed", error=type(exc).__name__)
