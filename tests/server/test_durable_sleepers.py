"""A thousand executions each sleeping for an hour hold nothing: no worker coroutine, task or
lease, and memory does not grow with them; deliveries go on being accepted and run meanwhile;
and after a restart (a new service and executor over the same SQLite file, the injected clock
moved on) they all wake when their hour is up, not before, and run the step after the sleep
once each.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

import pytest
from attrs import define
from relay_ledger import Ledger, LedgerPlugin

from runtime import InProcessExecutor, Runtime, Service, idempotency_key, open_store
from runtime.clock import ManualClock
from runtime.store import Store

pytestmark = pytest.mark.asyncio

SLEEPY = """\
name: sleepy
trigger: {webhook: {}}
steps:
  - id: before
    action: ledger.write
    inputs: {value: a}
  - id: nap
    action: relay.sleep
    inputs: {seconds: 3600}
  - id: after
    action: ledger.write
    inputs: {value: b}
"""

QUICK = """\
name: quick
trigger: {webhook: {}}
steps:
  - id: only
    action: ledger.write
    inputs: {value: "${{ trigger.body.n }}"}
"""

START = 1_000_000.0
#: bytes held per waiting execution, at most (the store keeps them, not the process)
PER_SLEEPER = 2_000


@define
class Server:
    relay: Service
    executor: InProcessExecutor
    store: Store
    ledger: Ledger

    async def close(self) -> None:
        await self.executor.shutdown(1)
        await self.relay.aclose()
        await self.store.close()


async def serve(directory: Path, clock: ManualClock) -> Server:
    ledger = Ledger()
    runtime = Runtime(clock=clock, plugins=[LedgerPlugin(ledger)])
    store = await open_store(None, data_dir=directory)
    relay = Service(runtime, store, base_url="http://relay.test")
    return Server(relay, InProcessExecutor(relay, default_concurrency=20), store, ledger)


async def sleepers(server: Server, count: int) -> list[str]:
    """``count`` executions of the sleepy flow, run until each waits."""
    instance = await server.store.get_instance("sleepy")
    assert instance is not None
    ids = await asyncio.gather(
        *(
            server.store.create_execution(
                "sleepy", instance.flow_text, instance.flow_version, {"body": {}}
            )
            for _ in range(count)
        )
    )
    for execution_id in ids:
        await server.executor.submit(execution_id, "sleepy")
    await server.executor.drain()
    return list(ids)


def held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_a_thousand_hour_long_sleeps_hold_nothing_and_wake_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = ManualClock(now=START)
    first = await serve(tmp_path, clock)
    for name, text in (("sleepy", SLEEPY), ("quick", QUICK)):
        (tmp_path / f"{name}.yaml").write_text(text)
        await first.relay.deploy(tmp_path / f"{name}.yaml", {}, name)
    await first.executor.start()
    try:
        await sleepers(first, 20)  # warms caches, pools and the lane before anything is counted
        tasks_before = len(asyncio.all_tasks())
        tracemalloc.start()
        try:
            ids = await sleepers(first, 80)
            at_100 = held()
            ids += await sleepers(first, 900)
            at_1000 = held()
        finally:
            tracemalloc.stop()
        growth = (at_1000 - at_100) / 900
        assert growth < PER_SLEEPER, f"{growth:.0f} bytes held per waiting execution"
        assert len(asyncio.all_tasks()) <= tasks_before
        assert first.executor.workers() == 0 and first.executor.in_flight() == 0
        waiting = await first.store.list_executions(status="waiting", limit=2000)
        assert len(waiting) == 1000
        assert {r.wake_at for r in waiting} == {START + 3600}
        assert all(r.worker is None and r.lease_until is None for r in waiting)

        # a delivery is accepted and runs to the end while they wait
        delivered, new = await first.store.record_delivery(
            "quick", "d-1", {}, b'{"n": "7"}', clock.time(), payload={"body": {"n": "7"}}
        )
        assert new
        await first.executor.submit(delivered, "quick")
        await first.executor.drain()
        row = await first.store.get_execution(delivered)
        assert row is not None and row.result is not None and row.status == "completed"
        assert row.result["outputs"]["only"]["data"]["value"] == "7"
        assert await first.executor.waker.wake_due() == 0
    finally:
        await first.close()

    # restart: a new service over the same file; the hour is not up yet, then it is
    second = await serve(tmp_path, clock)
    try:
        clock.advance(3599)
        await second.executor.start()
        assert await second.executor.waker.wake_due() == 0
        assert await second.store.next_wake() == START + 3600
        clock.advance(1)
        await second.executor.waker.wake_due()
        await second.executor.drain()
        done = await second.store.list_executions(instance="sleepy", limit=2000)
        assert len(done) == 1000
        assert {r.status for r in done} == {"completed"}, second.executor.waker.woken
        for execution_id in ids:
            before, after = (idempotency_key(execution_id, p) for p in ("before", "after"))
            assert (first.ledger.writes[before], second.ledger.writes[before]) == (1, 0)
            assert (first.ledger.writes[after], second.ledger.writes[after]) == (0, 1)
    finally:
        await second.close()
