"""Per-user fixed 60-second windows, reported the way Calendly reports them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

WINDOW = 60.0


@attrs.define
class Decision:
    """The outcome of one request against the limit, with the header values to send."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*``; ``Reset`` is seconds until the window resets, not a timestamp."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Counts requests per key (the user) in a window that starts at its first request."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit: int) -> Decision:
        """Count one request for ``key``; refuse it when the window's budget is spent."""
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= WINDOW:
            start, used = now, 0
        reset = max(1, math.ceil(start + WINDOW - now))
        if used >= limit:
            self._windows[key] = (start, used)
            return Decision(False, limit, 0, reset)
        used += 1
        self._windows[key] = (start, used)
        return Decision(True, limit, limit - used, reset)

    def peek(self, key: str, limit: int) -> Decision:
        """The current state for ``key`` without counting a request."""
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= WINDOW:
            start, used = now, 0
        reset = max(1, math.ceil(start + WINDOW - now))
        return Decision(used < limit, limit, max(0, limit - used), reset)
