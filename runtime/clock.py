"""Time, injectable: the engine, HTTP retries and token expiry all ask a ``Clock``.

Tests pass a ``ManualClock`` so backoff and expiry run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import time

from attrs import define, field


class Clock:
    """Wall-clock time and real sleeping."""

    def time(self) -> float:
        """The wall clock, in UNIX seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` for real (a negative wait is none)."""
        await asyncio.sleep(max(0.0, seconds))


@define
class ManualClock(Clock):
    """A clock that only moves when told to; ``sleep`` advances it instead of waiting."""

    now: float = 1_700_000_000.0
    slept: list[float] = field(factory=list)

    def time(self) -> float:
        """The clock's current reading; it moves only by ``sleep`` and ``advance``."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock past it at once, yielding to other tasks once."""
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` without recording a sleep."""
        self.now += seconds
