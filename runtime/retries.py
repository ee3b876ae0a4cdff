"""Running an action step's function under its retry policy and time limit."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from runtime.calls import call_function
from runtime.checkpoints import Suspend
from runtime.errors import ApiError, InputValidationError

if TYPE_CHECKING:
    from runtime.clock import Clock
    from runtime.context import Context
    from runtime.flows.model import ActionStep, RetryPolicy


async def attempt(
    step: ActionStep,
    perform: Any,
    context: Context,
    params: dict[str, Any],
    log: Any,
    clock: Clock,
    first: int = 1,
) -> tuple[Any, int]:
    """``perform``'s output and the number of attempts it took (counting from ``first``: a
    resumed retry goes on where it was). The exception that ends the attempts is raised with
    an ``attempts`` attribute. A backoff longer than ``context.suspend_after`` raises
    ``Suspend`` (the next attempt is due when it is over) instead of waiting."""
    policy = step.retry
    attempt = first - 1
    while True:
        attempt += 1
        try:
            if step.timeout is None:  # asyncio.timeout(None) never fires: skip its set-up
                return await call_function(perform, context, params), attempt
            async with asyncio.timeout(step.timeout):
                return await call_function(perform, context, params), attempt
        except InputValidationError:
            raise
        except (Exception, TimeoutError) as exc:
            if attempt >= policy.attempts or not should_retry(policy, exc):
                exc.attempts = attempt  # type: ignore[attr-defined]
                raise
            delay = policy.delay(attempt, random.random())
            if isinstance(exc, ApiError) and exc.retry_after:
                delay = max(delay, exc.retry_after)
            log.info("retrying step", attempt=attempt, delay=round(delay, 3), error=str(exc))
            if context.suspend_after is not None and delay > context.suspend_after:
                suspended = Suspend(clock.time() + delay, "retry")
                suspended.attempts = attempt
                raise suspended from None
            await clock.sleep(delay)


def should_retry(policy: RetryPolicy, exc: BaseException) -> bool:
    """Whether ``policy`` retries a step that failed with ``exc``."""
    if "all" in policy.on:
        return True
    if isinstance(exc, TimeoutError):
        return "timeout" in policy.on or "retriable" in policy.on
    if not isinstance(exc, ApiError):
        return False
    if "rate_limit" in policy.on and exc.status == 429:
        return True
    if "server_error" in policy.on and exc.status >= 500:
        return True
    return "retriable" in policy.on and exc.retriable
