"""Time-driven triggers: schedules and polling, fired by the scheduler, once per due time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import InProcessExecutor, ManualClock, Runtime, Service, Token, open_store
from runtime.scheduler import Scheduler

SCHEDULED = """\
name: every minute
trigger:
  schedule: {every: 1m}
steps:
  - id: tick
    action: relay.value
    inputs: {value: "${{ trigger.scheduled_at }}"}
"""
POLLED = """\
name: new and updated events
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
trigger:
  component: calendly
  trigger: pollChangesTrigger
  inputs:
    connection: ${{ config.calendly }}
    lookBackDate: "2000-01-01"
steps:
  - id: count
    action: relay.value
    inputs: {value: "${{ trigger.count }}"}
"""


class Setup:
    def __init__(
        self, relay: Service, executor: InProcessExecutor, scheduler: Scheduler, home: Path
    ) -> None:
        self.relay, self.executor, self.scheduler, self.home = relay, executor, scheduler, home

    async def deploy(self, text: str, name: str, config: dict[str, Any] | None = None) -> None:
        path = self.home / f"{name}.yaml"
        path.write_text(text)
        await self.relay.deploy(path, config or {}, name)

    async def completed(self, name: str) -> list[Any]:
        await self.executor.drain()
        rows = await self.relay.store.list_executions(instance=name, limit=100)
        assert {r.status for r in rows} <= {"completed"}, [r.result for r in rows]
        return rows


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(now=1_800_000_000.0)


@pytest.fixture
def sandbox(clock: ManualClock) -> Sandbox:
    """The sandbox shares relay's clock, so "changed since" means the same on both sides."""
    return Sandbox(
        SandboxConfig(seed=3, events=30, base_url="http://calendly.test"), clock=clock.time
    )


@pytest_asyncio.fixture
async def setup(tmp_path: Path, sandbox: Sandbox, clock: ManualClock) -> AsyncIterator[Setup]:
    runtime = Runtime(hosts={"calendly.test": sandbox.app}, clock=clock)
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", data_dir=tmp_path)
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    yield Setup(relay, executor, Scheduler(relay, executor), tmp_path)
    await executor.shutdown(5)
    await relay.aclose()
    await runtime.aclose()
    await store.close()


@pytest.mark.asyncio
async def test_a_schedule_fires_once_per_interval(setup: Setup) -> None:
    await setup.deploy(SCHEDULED, "ticker")
    clock = setup.relay.runtime.clock
    assert isinstance(clock, ManualClock)
    assert len(await setup.scheduler.run_due()) == 1
    assert await setup.scheduler.run_due() == []  # not due again yet
    clock.advance(61)
    assert len(await setup.scheduler.run_due()) == 1
    rows = await setup.completed("ticker")
    assert sorted(r.result["outputs"]["tick"]["data"] for r in rows) == [
        1_800_000_000.0,
        1_800_000_061.0,
    ]


@pytest.mark.asyncio
async def test_polling_runs_only_when_something_changed(setup: Setup, sandbox: Sandbox) -> None:
    store = setup.relay.store
    fields = {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
        "sandboxUrl": "http://calendly.test",
    }
    await store.save_connection("cal", "calendly", "calendlyOauth2Connection", fields)
    await store.tokens.save(
        "connection:cal", Token.from_response(sandbox.issue_token(), 1_800_000_000.0)
    )
    await setup.deploy(POLLED, "poller", {"calendly": {"use": "cal"}})
    clock = setup.relay.runtime.clock
    assert isinstance(clock, ManualClock)
    first = await setup.scheduler.run_due()
    assert len(first) == 1  # the look-back backfill
    backfill = (await setup.completed("poller"))[0].result["outputs"]["count"]["data"]
    assert backfill > 0
    clock.advance(301)
    assert await setup.scheduler.run_due() == []  # nothing changed: no execution
    clock.advance(10)
    sandbox.book()
    clock.advance(301)
    assert len(await setup.scheduler.run_due()) == 1
    rows = await setup.completed("poller")
    assert len(rows) == 2
    assert rows[0].result["outputs"]["count"]["data"] == 1  # newest first: just the booking
    assert await store.get_cursor("poller") is not None
