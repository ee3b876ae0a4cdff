"""Durable steps on a real store (SQLite file and PostgreSQL): each step is checkpointed, a
claim that takes over an interrupted execution goes on at the step in flight (a completed step
that changes something is never called again), long waits suspend the execution, and cancel
stops it.

A "crash" is made by hand, as in ``test_fencing``: the first server's run hangs inside a step
(``ledger.hang``) and its lease is run out in the store, as a dead process would have let it run
out; a second server on the same store takes over. The first server's late writes are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
from attrs import define
from relay_ledger import Ledger, LedgerPlugin
from sqlalchemy import update

from runtime import InProcessExecutor, Runtime, Service, idempotency_key, open_store
from runtime.clock import ManualClock
from runtime.store import Store
from runtime.store.tables import executions

pytestmark = pytest.mark.asyncio

FLOW = """\
name: durable
trigger: {webhook: {}}
steps:
  - id: first
    action: ledger.write
    inputs: {value: "${{ trigger.body.n }}"}
  - id: look
    action: ledger.read
    inputs: {value: "${{ steps.first.data.value }}"}
  - id: remember
    action: relay.setState
    inputs: {scope: execution, key: seen, value: "${{ steps.look.data }}"}
  - id: each
    for_each: "${{ [1, 2] }}"
    steps:
      - id: put
        action: ledger.write
        inputs: {value: "${{ string(item) }}"}
  - id: which
    branch:
      - when: "${{ trigger.body.n == '1' }}"
        steps:
          - id: one
            action: ledger.write
            inputs: {value: one}
  - id: crash
    action: ledger.hang
  - id: last
    action: ledger.write
    inputs: {value: "${{ state.execution.seen }}"}
"""


@define
class Server:
    relay: Service
    executor: InProcessExecutor
    store: Store
    clock: ManualClock
    ledger: Ledger


@pytest_asyncio.fixture
async def servers(tmp_path: Path, store_url: str) -> AsyncIterator[tuple[Server, Server]]:
    made: list[Server] = []
    for start in (1_000.0, 2_000.0):
        clock, ledger = ManualClock(now=start), Ledger()
        runtime = Runtime(clock=clock, plugins=[LedgerPlugin(ledger)])
        store = await open_store(store_url, data_dir=tmp_path)
        relay = Service(runtime, store, base_url="http://relay.test")
        made.append(Server(relay, InProcessExecutor(relay), store, clock, ledger))
    yield made[0], made[1]
    for server in made:
        server.ledger.release.set()  # a step left hanging by a "crash" ends (and is refused)
        await server.executor.shutdown(1)
        await server.relay.aclose()
        await server.store.close()


async def deploy(server: Server, tmp_path: Path, text: str = FLOW) -> str:
    flow = tmp_path / "durable.yaml"
    flow.write_text(text)
    await server.relay.deploy(flow, {}, "acme")
    return "acme"


async def record(server: Server, body: dict[str, Any]) -> str:
    instance = await server.store.get_instance("acme")
    assert instance is not None
    return await server.store.create_execution(
        "acme", instance.flow_text, instance.flow_version, {"body": body}
    )


async def run_out_lease(store: Store, execution_id: str) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            update(executions).where(executions.c.id == execution_id).values(lease_until=0.0)
        )


async def crashed_at_hang(first: Server, tmp_path: Path) -> str:
    """An execution the first server ran up to ``crash`` (hanging there), its lease run out."""
    await deploy(first, tmp_path)
    execution_id = await record(first, {"n": "1"})
    first.ledger.hanging = True
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await asyncio.wait_for(first.ledger.reached.wait(), 10)
    await run_out_lease(first.store, execution_id)
    return execution_id


async def test_a_takeover_goes_on_at_the_step_in_flight(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    execution_id = await crashed_at_hang(first, tmp_path)
    progress = await second.store.load_checkpoints(execution_id)
    assert [(c.path, c.status) for c in progress] == [
        ("first", "completed"),
        ("look", "completed"),
        ("remember", "completed"),
        ("each[0].put", "completed"),
        ("each[1].put", "completed"),
        ("each", "completed"),
        ("which", "completed"),
        ("which.case0.one", "completed"),
    ]
    await second.executor.start()
    await second.executor.drain()
    row = await second.store.get_execution(execution_id)
    assert row is not None and row.result is not None
    assert (row.status, row.attempts) == ("completed", 2)
    # every completed step that changes something ran once, on the first server only

    def key(path: str) -> str:
        return idempotency_key(execution_id, path)

    for path in ("first", "each[0].put", "each[1].put", "which.case0.one"):
        assert first.ledger.writes[key(path)] == 1, path
        assert second.ledger.writes[key(path)] == 0, path
    # the step in flight went out again (at least once), and what followed ran on the second
    assert first.ledger.writes[key("crash")] == 1 and second.ledger.writes[key("crash")] == 1
    assert second.ledger.writes[key("last")] == 1 and first.ledger.writes[key("last")] == 0
    steps = {s["path"]: s for s in row.result["steps"]}
    assert steps["first"]["claim"] == 1 and steps["crash"]["claim"] == 2
    assert steps["last"]["claim"] == 2
    # the state a step set before the crash is what the step after it reads
    outputs = row.result["outputs"]
    assert outputs["last"]["data"]["value"] == "1"
    assert outputs["each"]["count"] == 2 and outputs["which"] == {"branch": "case0"}
    # the finish drops the checkpoints: the result records every step
    assert await second.store.load_checkpoints(execution_id) == []


async def test_the_first_servers_late_writes_are_refused(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    execution_id = await crashed_at_hang(first, tmp_path)
    await second.executor.start()
    await second.executor.drain()
    done = await second.store.get_execution(execution_id)
    assert done is not None and done.status == "completed"
    with structlog.testing.capture_logs() as logs:
        first.ledger.hanging = False
        await first.executor.renew_leases()  # finds the lease taken over: the run is stopped
        await first.executor.drain()
    assert any("lease was taken over" in e["event"] for e in logs)
    after = await first.store.get_execution(execution_id)
    assert after is not None and after.finished_at == done.finished_at
    assert first.ledger.writes[idempotency_key(execution_id, "last")] == 0


async def test_a_step_that_is_not_idempotent_is_failed_not_repeated(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    text = FLOW.replace(
        "    action: ledger.hang\n", "    action: ledger.hang\n    idempotent: false\n"
    )
    await deploy(first, tmp_path, text)
    execution_id = await record(first, {"n": "2"})
    first.ledger.hanging = True
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await asyncio.wait_for(first.ledger.reached.wait(), 10)
    await run_out_lease(first.store, execution_id)
    await second.executor.start()
    await second.executor.drain()
    row = await second.store.get_execution(execution_id)
    assert row is not None and row.result is not None and row.status == "failed"
    assert row.result["error"]["step"] == "crash"
    assert row.result["error"]["type"] == "InterruptedStep"
    assert "idempotent: false" in row.result["error"]["message"]
    assert second.ledger.writes[idempotency_key(execution_id, "crash")] == 0


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


async def test_a_long_sleep_suspends_holds_nothing_and_wakes_on_time(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, _ = servers
    await deploy(first, tmp_path, SLEEPY)
    execution_id = await record(first, {})
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None
    assert (row.status, row.worker, row.lease_until) == ("waiting", None, None)
    assert row.wake_at == pytest.approx(first.clock.now + 3600)
    assert first.executor.in_flight() == 0 and first.executor.workers() == 0
    waiting = await first.store.list_executions(status="waiting")
    assert [r.id for r in waiting] == [execution_id]
    assert await first.executor.waker.wake_due() == 0  # not yet
    first.clock.advance(3600)
    assert await first.executor.waker.wake_due() == 1
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.result is not None and row.status == "completed"
    assert first.ledger.writes[idempotency_key(execution_id, "before")] == 1
    assert first.ledger.writes[idempotency_key(execution_id, "after")] == 1
    nap = next(s for s in row.result["steps"] if s["id"] == "nap")
    assert (nap["status"], nap["claim"]) == ("completed", 2)
    assert row.result["outputs"]["nap"] == {"data": 3600}


async def test_a_sleep_until_a_time(servers: tuple[Server, Server], tmp_path: Path) -> None:
    first, _ = servers
    at = first.clock.now + 7200
    text = SLEEPY.replace("{seconds: 3600}", '{until: "${{ trigger.body.at }}"}')
    await deploy(first, tmp_path, text)
    execution_id = await record(first, {"at": at})
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.status == "waiting" and row.wake_at == pytest.approx(at)


async def test_a_long_retry_backoff_suspends_and_goes_on_with_the_next_attempt(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, _ = servers
    first.ledger.failures = 1
    text = """\
name: patient
trigger: {webhook: {}}
steps:
  - id: try
    action: ledger.flaky
    retry: {attempts: 3, backoff: fixed, initial: 2h, max: 2h, jitter: false}
"""
    await deploy(first, tmp_path, text)
    execution_id = await record(first, {})
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.status == "waiting"
    first.clock.advance(7200)
    assert await first.executor.waker.wake_due() == 1
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.result is not None and row.status == "completed"
    step = row.result["steps"][0]
    assert (step["status"], step["attempts"]) == ("completed", 2)
    assert first.ledger.tried[idempotency_key(execution_id, "try")] == 2


async def test_cancel_ends_a_waiting_execution_and_a_replay_of_it_runs(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, _ = servers
    await deploy(first, tmp_path, SLEEPY)
    execution_id = await record(first, {})
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await first.executor.drain()
    assert await first.relay.runner.cancel(execution_id) == "canceled"
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.result is not None and row.status == "canceled"
    assert [s["id"] for s in row.result["steps"]] == ["before"]
    first.clock.advance(3600)
    assert await first.executor.waker.wake_due() == 0  # nothing wakes a canceled one
    assert await first.relay.runner.cancel(execution_id) == "finished"  # already: left alone
    again = await first.relay.replay(execution_id)
    await first.executor.submit(again, "acme")
    await first.executor.drain()
    replayed = await first.store.get_execution(again)
    assert replayed is not None and replayed.status == "waiting"


async def test_cancel_stops_a_running_execution_at_its_next_checkpoint(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, _ = servers
    await deploy(first, tmp_path)
    execution_id = await record(first, {"n": "3"})
    first.ledger.hanging = True
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await asyncio.wait_for(first.ledger.reached.wait(), 10)
    assert await first.relay.runner.cancel(execution_id) == "requested"
    first.ledger.release.set()  # the step in flight ends; the run stops at its checkpoint
    await first.executor.drain()
    row = await first.store.get_execution(execution_id)
    assert row is not None and row.result is not None and row.status == "canceled"
    assert row.result["error"]["type"] == "Canceled"
    assert first.ledger.writes[idempotency_key(execution_id, "last")] == 0
    assert [s["id"] for s in row.result["steps"]][-1] == "crash"


async def test_an_execution_canceled_while_its_holder_was_gone_ends_at_its_claim(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    execution_id = await crashed_at_hang(first, tmp_path)
    assert await second.relay.runner.cancel(execution_id) == "requested"
    await second.executor.start()
    await second.executor.drain()
    row = await second.store.get_execution(execution_id)
    assert row is not None and row.status == "canceled"
    assert second.ledger.writes[idempotency_key(execution_id, "crash")] == 0


async def test_a_run_handed_back_at_shutdown_goes_on_at_its_step_in_flight(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = servers
    await deploy(first, tmp_path)
    execution_id = await record(first, {"n": "1"})
    first.ledger.hanging = True
    await first.executor.start()
    await first.executor.submit(execution_id, "acme")
    await asyncio.wait_for(first.ledger.reached.wait(), 10)
    await first.executor.shutdown(0.05)  # SIGTERM, and the grace runs out: handed back
    row = await first.store.get_execution(execution_id)
    assert row is not None and (row.status, row.lease_until) == ("pending", None)
    await second.executor.start()
    await second.executor.drain()
    row = await second.store.get_execution(execution_id)
    assert row is not None and (row.status, row.attempts) == ("completed", 2)
    assert second.ledger.writes[idempotency_key(execution_id, "first")] == 0
    assert second.ledger.writes[idempotency_key(execution_id, "crash")] == 1
