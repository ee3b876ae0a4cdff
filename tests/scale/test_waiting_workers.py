"""Durable waits on PostgreSQL with Dramatiq workers: a worker suspends a long sleep (the
execution waits holding no worker thread, its message re-sent with a delay) and the execution
goes on at its due time; a canceled waiting execution stays canceled when its message comes."""

from __future__ import annotations

from typing import Any

import pytest
from relay_service_support import FLOW
from relay_waiting import status_seen, until

from runtime.store.executions import FINAL

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis]


async def test_a_worker_suspends_a_long_sleep_and_it_goes_on_when_due(cluster: Any) -> None:
    url = await cluster.deploy(FLOW, "sleepy")
    cluster.start_worker("--threads", "2", RELAY_SUSPEND_AFTER="1")
    answer = await cluster.post(url, 1, pause=3.0)
    assert answer.status_code == 202
    execution_id = answer.json()["execution_id"]
    waiting = await status_seen(cluster.store, execution_id, "waiting")
    assert (waiting.worker, waiting.lease_until) == (None, None) and waiting.wake_at
    [row] = await cluster.all_finished(1, "sleepy")
    assert row.status == "completed" and row.attempts == 2, cluster.worker_logs()
    steps = {s["id"]: s for s in row.result["steps"]}
    assert steps["remember"]["claim"] == 1  # done before the wait, not again after it
    assert steps["pause"]["claim"] == 2 and steps["answer"]["claim"] == 2
    assert row.result["outputs"]["answer"] == {"data": {"n": 1}}


async def test_a_canceled_waiting_execution_stays_canceled(cluster: Any) -> None:
    url = await cluster.deploy(FLOW, "sleepy")
    cluster.start_worker("--threads", "2", RELAY_SUSPEND_AFTER="1")
    answer = await cluster.post(url, 2, pause=2.0)
    execution_id = answer.json()["execution_id"]
    await status_seen(cluster.store, execution_id, "waiting")
    assert await cluster.relay.runner.cancel(execution_id) == "canceled"
    await cluster.queue_drained()  # the delayed message came and found nothing to run

    async def settled() -> Any:
        row = await cluster.store.get_execution(execution_id)
        return row if row is not None and row.status in FINAL else None

    row = await until(settled, "the canceled execution")
    assert (row.status, row.attempts) == ("canceled", 1)
