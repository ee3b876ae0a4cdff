"""A trigger kind defined outside relay (``tests/support/interval_trigger.py``: one class, one
registration line) deploys, fires on the scheduler, runs its flow and undeploys, with no
change to relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from interval_trigger import IntervalTrigger

from runtime import InProcessExecutor, ManualClock, Runtime, Service, WebhookRequest, open_store
from runtime.scheduler import Scheduler

FLOW = """\
name: every half minute
trigger:
  interval: {seconds: 30}
steps:
  - id: tick
    action: relay.value
    inputs: {value: "${{ trigger.tick }}"}
"""


@pytest_asyncio.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Service]:
    runtime = Runtime(clock=ManualClock(now=1_800_000_000.0))
    runtime.registry.trigger_kinds.add(IntervalTrigger)  # the registration line
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", data_dir=tmp_path)
    yield Service(runtime, store, base_url="http://relay.test")
    await runtime.aclose()
    await store.close()


@pytest.mark.asyncio
async def test_a_new_kind_deploys_fires_runs_and_undeploys(relay: Service, tmp_path: Path) -> None:
    path = tmp_path / "ticker.yaml"
    path.write_text(FLOW)
    instance = await relay.deploy(path, {}, "ticker")
    assert instance.deploy_state == {"armed_at": 1_800_000_000.0}  # the kind's deploy step

    executor = InProcessExecutor(relay)
    await executor.start()
    scheduler = Scheduler(relay, executor)
    clock = relay.runtime.clock
    assert isinstance(clock, ManualClock)
    try:
        assert len(await scheduler.run_due()) == 1
        assert await scheduler.run_due() == []  # not due again yet
        clock.advance(30)
        assert len(await scheduler.run_due()) == 1
        await executor.drain()
    finally:
        await executor.shutdown(5)
    rows = await relay.store.list_executions(instance="ticker", limit=10)
    assert {r.status for r in rows} == {"completed"}
    assert sorted((r.result or {})["outputs"]["tick"]["data"] for r in rows) == [0, 1]

    request = WebhookRequest(
        method="POST", url="http://relay.test/", headers={}, body=b"{}", received_at=0.0
    )
    outcome = await relay.receive_webhook(instance.webhook_token, request)
    assert outcome.status == 405  # the kind receives no webhooks

    IntervalTrigger.undeployed.clear()
    await relay.undeploy("ticker")
    assert IntervalTrigger.undeployed == ["ticker"]
    assert await relay.store.get_instance("ticker") is None
