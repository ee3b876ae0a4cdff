"""Limits shared through Redis, and the request hook they plug into."""

from __future__ import annotations

import asyncio

import pytest
from relay_backends import REDIS_URL
from relay_waiting import until

from runtime import Runtime
from runtime.errors import RetriableApiError
from runtime.executors.limits import RedisLimits

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


async def test_a_connection_request_budget_is_shared_by_every_worker(
    redis_namespace: str,
) -> None:
    first, second = (
        RedisLimits(REDIS_URL, redis_namespace, requests_per_minute=5, max_wait=0) for _ in range(2)
    )
    for limits in (first, second, first, second, first):
        await limits.before_request("connection:shared")
    with pytest.raises(RetriableApiError) as refused:
        await second.before_request("connection:shared")
    assert refused.value.status == 429
    await second.before_request("connection:other")  # each connection has its own budget
    first.close()
    second.close()


async def test_flow_slots_are_counted_across_workers(redis_namespace: str) -> None:
    first, second = (RedisLimits(REDIS_URL, redis_namespace) for _ in range(2))
    async with first.flow_slot("acme", 2) as a, second.flow_slot("acme", 2) as b:
        assert (a, b) == (True, True)
        async with first.flow_slot("acme", 2) as c, second.flow_slot("other", 2) as d:
            assert (c, d) == (False, True)
    async with second.flow_slot("acme", 2) as freed:
        assert freed
    first.close()
    second.close()


async def test_a_held_slot_is_renewed_and_a_dead_holders_slot_lapses(
    redis_namespace: str,
) -> None:
    alive = RedisLimits(REDIS_URL, redis_namespace, slot_lease=0.6)
    other = RedisLimits(REDIS_URL, redis_namespace, slot_lease=0.6)
    try:
        async with alive.flow_slot("one", 1) as held:
            assert held
            # over two leases: kept only by its renewals (the lease runs on Redis's clock)
            await asyncio.sleep(1.5)
            async with other.flow_slot("one", 1) as refused:
                assert not refused
        # what a SIGKILLed worker leaves: a slot taken (by the same script) and never renewed
        taken = await asyncio.to_thread(
            alive._take_slot, keys=[alive.slot_key("one")], args=[1, 600, "killed-worker"]
        )
        assert taken == 1
        async with other.flow_slot("one", 1) as still_taken:
            assert not still_taken

        async def free() -> bool:
            async with other.flow_slot("one", 1) as taken:
                return taken

        await until(free, "the dead slot to lapse", timeout=10)
    finally:
        alive.close()
        other.close()


async def test_requests_with_a_connection_go_through_the_runtime_limiter() -> None:
    runtime = Runtime()
    seen: list[str] = []

    async def limiter(key: str) -> None:
        seen.append(key)

    runtime.request_limiter = limiter
    fields = {"clientId": "sandbox-client-id", "clientSecret": "sandbox-client-secret"}
    handle = await runtime.open_connection(
        "cal", "calendly", "calendlyOauth2Connection", fields, store_key="connection:cal"
    )
    assert seen == []  # authorizing is not an API request
    await runtime.invoke_action("calendly.getCurrentUser", {"connection": handle})
    assert seen == ["connection:cal"]

    async def refuse(key: str) -> None:
        raise RetriableApiError(429, "Rate Limited", f"no budget left for {key}")

    runtime.request_limiter = refuse
    with pytest.raises(RetriableApiError, match="no budget left for connection:cal"):
        await runtime.invoke_action("calendly.getCurrentUser", {"connection": handle})
    await runtime.aclose()
