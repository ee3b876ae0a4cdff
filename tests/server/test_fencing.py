"""Two servers on one store: a server whose lease lapsed (its loop stalled past it) and was
taken over by another cannot record the execution; it is finished exactly once, by the claim
that holds it. And the in-process executor's time limit fails an execution that outlives it.

The stall is made by hand: the first server's run waits inside ``relay.sleep`` on a clock the
test opens (``GatedClock``), and its lease is run out in the store as a stalled loop would
have let it run out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
from attrs import define, field
from relay_service_support import CONFIG, FLOW
from sqlalchemy import update

from runtime import InProcessExecutor, Runtime, Service, open_store
from runtime.clock import ManualClock
from runtime.store import Store
from runtime.store.tables import executions

pytestmark = pytest.mark.asyncio


@define
class GatedClock(ManualClock):
    """A manual clock whose ``sleep`` waits until the test opens the gate."""

    gate: asyncio.Event = field(factory=asyncio.Event)
    sleeping: asyncio.Event = field(factory=asyncio.Event)

    async def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        await self.gate.wait()
        await super().sleep(seconds)


@define
class Server:
    relay: Service
    executor: InProcessExecutor
    store: Store
    clock: ManualClock


@pytest_asyncio.fixture
async def servers(tmp_path: Path, store_url: str) -> AsyncIterator[tuple[Server, Server]]:
    made: list[Server] = []
    for clock in (GatedClock(now=1_000.0), ManualClock(now=2_000.0)):
        runtime = Runtime(clock=clock)
        store = await open_store(store_url, data_dir=tmp_path)
        relay = Service(runtime, store, base_url="http://relay.test")
        made.append(Server(relay, InProcessExecutor(relay), store, clock))
    yield made[0], made[1]
    for server in made:
        await server.executor.shutdown(5)
        await server.relay.aclose()
        await server.store.close()


async def stalled_run(first: Server, second: Server, tmp_path: Path) -> str:
    """An execution the first server runs (waiting in its sleep step) whose lease has lapsed,
    and which the second server then takes over and finishes."""
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    await first.relay.deploy(flow, CONFIG, "acme")
    instance = await first.store.get_instance("acme")
    assert instance is not None
    execution_id = await first.store.create_execution(
        "acme", instance.flow_text, instance.flow_version, {"body": {"n": 1, "pause": 5}}
    )
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    assert isinstance(first.clock, GatedClock)
    await first.clock.sleeping.wait()  # the first server is inside the sleep step
    async with first.store.engine.begin() as conn:  # ... and stalls past its lease
        await conn.execute(
            update(executions).where(executions.c.id == execution_id).values(lease_until=0.0)
        )
    await second.executor.start()  # resumes what is claimable: the lapsed execution
    await second.executor.drain()
    row = await second.store.get_execution(execution_id)
    assert row is not None and (row.status, row.attempts) == ("completed", 2)
    return execution_id


def finished_by_second(row: Any) -> bool:
    # each server's clock stamps the result it writes: 2,000 is the second server's
    return bool(row.result["started_at"] >= 2_000.0)


async def test_a_holder_whose_lease_was_taken_over_cannot_finish_it(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    execution_id = await stalled_run(first, second, tmp_path)
    assert isinstance(first.clock, GatedClock)
    with structlog.testing.capture_logs() as logs:
        first.clock.gate.set()  # the first server's loop comes back and its run goes on
        await first.executor.drain()
    refused = [e for e in logs if "lease was taken over" in e["event"]]
    assert len(refused) == 1 and refused[0]["execution_id"] == execution_id
    row = await first.store.get_execution(execution_id)
    assert row is not None and (row.status, row.attempts) == ("completed", 2)
    assert finished_by_second(row)  # the first server's outcome was refused
    assert first.executor.completed == 0 and second.executor.completed == 1


async def test_a_renewal_that_finds_the_lease_taken_over_stops_the_run(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    execution_id = await stalled_run(first, second, tmp_path)
    with structlog.testing.capture_logs() as logs:
        await first.executor.renew_leases()  # the heartbeat, after the stall
        await first.executor.drain()  # the run was stopped: it never leaves its sleep
    stopped = [e for e in logs if "lease was taken over" in e["event"]]
    assert len(stopped) == 1 and stopped[0]["execution_id"] == execution_id
    assert first.executor.in_flight() == 0
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.status == "completed" and finished_by_second(row)


async def test_the_inprocess_executor_fails_an_execution_past_its_time_limit(
    tmp_path: Path, store_url: str
) -> None:
    clock = GatedClock()  # the sleep step never ends: only the time limit stops it
    runtime = Runtime(clock=clock)
    store = await open_store(store_url, data_dir=tmp_path)
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay, time_limit=1.0)
    try:
        flow = tmp_path / "plain.yaml"
        flow.write_text(FLOW)
        await relay.deploy(flow, CONFIG, "acme")
        instance = await store.get_instance("acme")
        assert instance is not None
        execution_id = await store.create_execution(
            "acme", instance.flow_text, instance.flow_version, {"body": {"n": 1, "pause": 9}}
        )
        await executor.start()
        with structlog.testing.capture_logs() as logs:
            await executor.submit(execution_id, "acme")
            await executor.drain()
        row = await store.get_execution(execution_id)
        assert row is not None and row.result is not None
        assert (row.status, row.worker, row.lease_until) == ("failed", None, None)
        assert row.result["error"] == {
            "type": "TimeLimitExceeded",
            "message": "the execution exceeded the time limit of 1 s",
        }
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["execution failed"]
        assert executor.in_flight() == 0
    finally:
        await executor.shutdown(5)
        await relay.aclose()
        await runtime.aclose()
        await store.close()


async def test_the_time_limit_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import ConfigurationError
    from runtime.executors.inprocess import time_limit_from_env

    monkeypatch.setenv("RELAY_TIME_LIMIT", "12.5")
    assert time_limit_from_env() == 12.5
    for raw in ("0", "-1", "soon", "nan", "inf"):
        monkeypatch.setenv("RELAY_TIME_LIMIT", raw)
        with pytest.raises(ConfigurationError, match=f"^RELAY_TIME_LIMIT={raw!r}"):
            time_limit_from_env()
    monkeypatch.delenv("RELAY_TIME_LIMIT")
    assert time_limit_from_env() == 600.0
