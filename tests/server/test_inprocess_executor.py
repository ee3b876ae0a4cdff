"""The in-process executor: a flow's ``concurrency`` bounds its running executions, a burst
queues (ids, not tasks), shutting down leaves queued work pending for the next start, and a
running executor takes over work another process left behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from relay_service_support import CONFIG, FLOW, LiveService, body
from relay_waiting import until

from runtime import InProcessExecutor

pytestmark = pytest.mark.asyncio


def most_at_once(rows: list[object]) -> int:
    """The largest number of executions whose [started, finished] spans overlap."""
    edges = []
    for row in rows:
        edges += [(row.started_at, 1), (row.finished_at, -1)]  # type: ignore[attr-defined]
    running = peak = 0
    for _, change in sorted(edges, key=lambda e: (e[0], e[1])):
        running += change
        peak = max(peak, running)
    return peak


async def deploy_with_concurrency(service: LiveService, name: str, concurrency: int) -> str:
    flow = service.flow.with_name(f"{name}.yaml")
    flow.write_text(
        FLOW.replace("name: plain webhook\n", f"name: plain webhook\nconcurrency: {concurrency}\n")
    )
    instance = await service.relay.deploy(flow, CONFIG, name)
    return "/webhooks/" + instance.webhook_token


async def test_a_burst_runs_at_most_the_flows_concurrency_at_once(service: LiveService) -> None:
    path = await deploy_with_concurrency(service, "two", 2)
    answers = await asyncio.gather(*(service.post(path, body(n, 0.05)) for n in range(12)))
    assert [a.status_code for a in answers] == [202] * 12
    assert service.executor.in_flight() > 0  # queued behind the two lanes' workers
    assert service.executor.workers() <= 2  # coroutines per lane, not one task per delivery
    await service.executor.drain()
    rows = await service.executions(instance="two")
    assert sorted(r.status for r in rows) == ["completed"] * 12
    assert most_at_once(rows) == 2
    assert service.executor.in_flight() == 0


async def test_shutdown_leaves_queued_executions_pending_and_a_restart_runs_them(
    service: LiveService, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = service.relay.runtime.clock
    pausing = asyncio.Event()
    pause = clock.sleep

    async def sleep(seconds: float) -> None:
        pausing.set()  # the flow's pause step: the first execution is running
        await pause(seconds)

    monkeypatch.setattr(clock, "sleep", sleep)
    path = await deploy_with_concurrency(service, "one", 1)
    for n in range(5):
        assert (await service.post(path, body(n, 0.2))).status_code == 202
    await asyncio.wait_for(pausing.wait(), 10)
    await service.executor.shutdown(grace=5)
    rows = await service.executions(instance="one")
    assert sorted(r.status for r in rows) == ["completed"] + ["pending"] * 4
    assert service.executor.in_flight() == 0
    again = InProcessExecutor(service.relay)
    await again.start()
    try:
        await again.drain()
    finally:
        await again.shutdown(5)
    rows = await service.executions(instance="one")
    assert sorted(r.status for r in rows) == ["completed"] * 5
    assert all(r.attempts == 1 for r in rows)  # none was claimed and dropped


async def test_a_running_executor_takes_over_what_another_process_left(
    service: LiveService,
) -> None:
    path = await deploy_with_concurrency(service, "left", 4)
    store = service.relay.store
    executor = InProcessExecutor(service.relay, lease=0.3)
    await executor.start()
    try:
        answered = await service.post(path, body(1))  # a delivery, for its flow text
        row = await store.get_execution(answered.json()["execution_id"])
        assert row is not None
        # recorded but never handed to an executor (its process died right after the commit)
        orphan = await store.create_execution("left", row.flow_text, row.flow_version, row.payload)
        # claimed by a process elsewhere that died: its lease runs out
        held = await store.create_execution("left", row.flow_text, row.flow_version, row.payload)
        assert await store.claim_execution(held, "elsewhere:1", 0.2) is not None

        async def both_completed() -> dict[str, Any] | None:
            rows = {r.id: r for r in await service.executions(instance="left")}
            return rows if all(rows[i].status == "completed" for i in (orphan, held)) else None

        rows = await until(both_completed, "the orphan and the held one to complete", timeout=20)
        assert rows[orphan].status == rows[held].status == "completed"
        assert rows[held].attempts == 2  # the dead holder's claim, then this one
        assert executor.swept >= 2
        assert await executor.sweep() == 0  # nothing left; its own work is never taken twice
    finally:
        await executor.shutdown(5)


async def test_starting_a_started_executor_starts_no_second_set_of_chores(
    service: LiveService,
) -> None:
    """An app's lifespan may start an executor its embedder started already: one heartbeat,
    sweep and waker stay, and shutting down stops them all (none is left polling a store
    that is about to close)."""
    executor = InProcessExecutor(service.relay)

    def chores() -> set[asyncio.Task[Any]]:
        names = {"lease heartbeat", "execution sweep", "execution waker"}
        return {t for t in asyncio.all_tasks() if t.get_name() in names and not t.done()}

    before = chores()  # the fixture's own executor's
    await executor.start()
    started = chores() - before
    await executor.start()
    assert chores() - before == started and len(started) == 3
    await executor.shutdown(5)
    assert chores() - before == set()
