"""Background tasks that live exactly as long as a block or an owner: lease renewers,
sweepers. One place for start, cancel and wait, so none is left running after its owner."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine


@contextlib.asynccontextmanager
async def running(work: Coroutine[Any, Any, None], name: str | None = None) -> AsyncIterator[None]:
    """Run ``work`` as a task while the body of the ``async with`` runs; stopped on exit."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        await stop(task)


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has finished (its cancellation is not re-raised)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
