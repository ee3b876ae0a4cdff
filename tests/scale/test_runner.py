"""What one execution message does in a worker (the runner driven directly, no subprocess)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from relay_service_support import FLOW
from relay_waiting import until

from runtime.errors import ConfigurationError
from runtime.executors import make_executor
from runtime.executors.dramatiq import DramatiqExecutor, QueueSettings
from runtime.executors.inprocess import InProcessExecutor
from runtime.executors.worker import ExecutionRunner, WorkerSettings

from .conftest import Cluster

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis]


@pytest_asyncio.fixture
async def runner(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ExecutionRunner]:
    # the runner opens its own store, as a worker process does: same keys, same database
    monkeypatch.setenv("RELAY_SECRET_KEYS", cluster.env["RELAY_SECRET_KEYS"])
    runner = ExecutionRunner(WorkerSettings.from_env(cluster.env, time_limit=1.0, lease=30.0))
    yield runner
    await runner.aclose()


async def recorded(cluster: Cluster, name: str, pause: float = 0.0) -> str:
    url = await cluster.deploy(FLOW, name)
    answer = await cluster.post(url, 1, pause=pause)
    assert answer.status_code == 202
    execution_id: str = answer.json()["execution_id"]
    return execution_id


async def test_an_execution_past_its_time_limit_fails(
    cluster: Cluster, runner: ExecutionRunner
) -> None:
    execution_id = await recorded(cluster, "slow", pause=10.0)
    assert await runner.handle(execution_id, "slow") is None
    row = await cluster.store.get_execution(execution_id)
    assert row.status == "failed"
    assert row.result["error"]["type"] == "TimeLimitExceeded"


async def test_a_message_for_a_finished_execution_does_nothing(
    cluster: Cluster, runner: ExecutionRunner
) -> None:
    execution_id = await recorded(cluster, "once")
    assert await runner.handle(execution_id, "once") is None
    first = await cluster.store.get_execution(execution_id)
    assert (first.status, first.attempts) == ("completed", 1)
    assert await runner.handle(execution_id, "once") is None
    again = await cluster.store.get_execution(execution_id)
    assert (again.attempts, again.finished_at) == (1, first.finished_at)


async def test_an_execution_held_elsewhere_is_looked_at_when_its_lease_runs_out(
    cluster: Cluster, runner: ExecutionRunner
) -> None:
    execution_id = await recorded(cluster, "held")
    assert await cluster.store.claim_execution(execution_id, "elsewhere:1", 20.0) is not None
    delay = await runner.handle(execution_id, "held")
    assert delay is not None and 19.0 < delay < 21.0
    row = await cluster.store.get_execution(execution_id)
    assert (row.status, row.worker) == ("running", "elsewhere:1")


async def test_an_instance_at_its_concurrency_limit_defers_the_message(
    cluster: Cluster, runner: ExecutionRunner
) -> None:
    execution_id = await recorded(cluster, "full")
    async with contextlib.AsyncExitStack() as slots:
        # the plain flow's concurrency is 10: other workers hold all of it
        for _ in range(10):
            assert await slots.enter_async_context(runner.limits.flow_slot("full", 10))
        delay = await runner.handle(execution_id, "full")
    assert delay is not None and delay < 1.5
    assert (await cluster.store.get_execution(execution_id)).status == "pending"


async def test_a_slot_freed_moments_later_runs_the_execution_instead_of_deferring(
    cluster: Cluster, runner: ExecutionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = await recorded(cluster, "busy")
    async with contextlib.AsyncExitStack() as slots:
        for _ in range(10):  # the flow's concurrency is 10: other workers hold all of it
            assert await slots.enter_async_context(runner.limits.flow_slot("busy", 10))
        retrying, released = asyncio.Event(), asyncio.Event()
        tries = 0
        take = runner.limits.flow_slot

        @contextlib.asynccontextmanager
        async def watched(instance: str, concurrency: int) -> AsyncIterator[bool]:
            nonlocal tries
            tries += 1
            if tries == 2:  # refused once, the runner tries again: hold it until slots free
                retrying.set()
                await released.wait()
            async with take(instance, concurrency) as acquired:
                yield acquired

        monkeypatch.setattr(runner.limits, "flow_slot", watched)
        handling = asyncio.create_task(runner.handle(execution_id, "busy"))
        await asyncio.wait_for(retrying.wait(), 10)
        assert not handling.done()  # waiting for a slot, not deferred yet
    # the others' executions ended: their slots are free again
    released.set()
    assert await asyncio.wait_for(handling, 10) is None
    assert (await cluster.store.get_execution(execution_id)).status == "completed"


async def test_settings_come_from_the_environment_and_options_win() -> None:
    env = {"RELAY_QUEUE": "q1", "RELAY_TIME_LIMIT": "12", "RELAY_REDIS_NAMESPACE": "n"}
    settings = WorkerSettings.from_env(env, time_limit=None, threads=3)
    assert (settings.queue.queue, settings.queue.namespace) == ("q1", "n")
    assert (settings.time_limit, settings.threads) == (12.0, 3)
    assert WorkerSettings.from_env(env, queue="q2").queue.queue == "q2"
    with pytest.raises(ConfigurationError, match="RELAY_LEASE"):
        WorkerSettings.from_env({"RELAY_LEASE": "soon"})
    with pytest.raises(ConfigurationError, match="queue name"):
        QueueSettings(queue="no spaces")


async def test_serve_chooses_its_executor_by_name(cluster: Cluster) -> None:
    assert isinstance(make_executor("inprocess", cluster.relay), InProcessExecutor)
    executor = make_executor("dramatiq", cluster.relay)
    assert isinstance(executor, DramatiqExecutor)
    assert executor.in_flight() == 0
    await executor.shutdown(0)
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("celery", cluster.relay)


async def test_a_worker_whose_lease_was_taken_over_stops_and_writes_nothing(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_SECRET_KEYS", cluster.env["RELAY_SECRET_KEYS"])
    # renewals every 0.1 s; the run sleeps far longer than the test
    runner = ExecutionRunner(WorkerSettings.from_env(cluster.env, time_limit=60.0, lease=0.3))
    try:
        execution_id = await recorded(cluster, "stalled", pause=30.0)
        handling = asyncio.create_task(runner.handle(execution_id, "stalled"))

        async def claimed() -> bool:
            return bool(
                (await cluster.store.get_execution(execution_id)).worker == runner.worker_id
            )

        await until(claimed, "the runner to claim it", timeout=20)
        # the runner stalls past its lease and another worker takes the execution over
        await cluster.store.release_execution(execution_id)
        taken = await cluster.store.claim_execution(execution_id, "elsewhere:1", 60.0)
        assert taken is not None and taken.attempts == 2
        assert await asyncio.wait_for(handling, 20) is None  # stopped by its next renewal
        row = await cluster.store.get_execution(execution_id)
        assert (row.status, row.worker, row.attempts) == ("running", "elsewhere:1", 2)
        assert row.result is None
    finally:
        await runner.aclose()
