"""Waiting for another OS process (or the store it writes) to reach a state, with a deadline.

Another process can signal no event in this one, so its progress is polled: a short pause
between looks, and a failure naming what was awaited once the deadline passes. Work in this
process is awaited on its own event or task instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
#: Seconds a condition may take before a test gives up (a bound, not a speed claim).
WAIT = 45.0
_PAUSE = 0.05


def wait_until(
    check: Callable[[], T | None], what: str, timeout: float = WAIT, *, pause: float = _PAUSE
) -> T:
    """Call ``check`` until it returns something truthy and return that; fail naming ``what``
    at the deadline. ``check`` raises to fail at once (the process it looks at exited);
    ``pause`` is the time between looks."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(pause)  # polling another process, not synchronising on time


async def until(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    timeout: float = WAIT,  # noqa: ASYNC109 - a bound on looks at another process, not a cancel
    *,
    pause: float = _PAUSE,
) -> T:
    """``wait_until`` for an async ``check``, pausing without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(pause)  # polling another process or the store, not synchronising


async def status_seen(store: Any, execution_id: str, status: str) -> Any:
    """The execution's row once the store shows it with ``status``."""

    async def seen() -> Any:
        row = await store.get_execution(execution_id)
        return row if row is not None and row.status == status else None

    return await until(seen, f"execution {execution_id} to be {status}")
