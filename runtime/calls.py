"""Calling a component function: ``async def`` ones awaited, plain ones in a worker thread."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.context import Context


async def call_function(function: Any, context: Context, *args: Any) -> Any:
    """Await an ``async def`` component function, or run a plain one in a worker thread."""
    if _is_async(function):
        return await function(context, *args)
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, function, context, *args)
    result = await asyncio.to_thread(call)
    if inspect.isawaitable(result):
        return await result
    return result


def _is_async(function: Any) -> bool:
    """``inspect.iscoroutinefunction``, once per function (it unwraps partials and checks flags
    on every call; a function's kind never changes)."""
    try:
        return _is_async_cached(function)
    except TypeError:  # an unhashable callable
        return inspect.iscoroutinefunction(function)


@functools.lru_cache(maxsize=1024)
def _is_async_cached(function: Any) -> bool:
    return inspect.iscoroutinefunction(function)
