"""Deliveries through the web app run on ``relay worker`` processes, each exactly once."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from typing import Any

import httpx
import pytest
from relay_processes import free_port
from relay_service_support import FLOW, body, sign
from relay_waiting import until

from runtime.executors.dramatiq import DramatiqExecutor, QueueSettings

from .conftest import Cluster

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis]


def numbers(rows: list[Any]) -> list[int]:
    return sorted(int(r.result["outputs"]["answer"]["data"]["n"]) for r in rows)


async def test_deliveries_are_executed_once_by_worker_processes(cluster: Cluster) -> None:
    url = await cluster.deploy(FLOW, "plain")
    cluster.start_worker("--processes", "2", "--threads", "4")
    answers = await asyncio.gather(*(cluster.post(url, n) for n in range(20)))
    assert [a.status_code for a in answers] == [202] * 20
    rows = await cluster.all_finished(20, "plain")
    assert {r.status for r in rows} == {"completed"}
    assert numbers(rows) == list(range(20))
    assert {r.attempts for r in rows} == {1}


async def test_a_duplicate_delivery_and_repeated_messages_run_once(cluster: Cluster) -> None:
    url = await cluster.deploy(FLOW, "dup")
    cluster.start_worker("--threads", "4")
    first, second = await asyncio.gather(cluster.post(url, 7), cluster.post(url, 7))
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["execution_id"] == second.json()["execution_id"]
    assert sorted([first.json()["duplicate"], second.json()["duplicate"]]) == [False, True]
    [done] = await cluster.all_finished(1, "dup")
    # delivery is at least once: the same message again (a requeue, a web restart) is harmless
    for _ in range(3):
        await cluster.executor.submit(done.id, "dup")
    await cluster.queue_drained()
    again = await cluster.store.get_execution(done.id)
    assert (again.status, again.attempts, again.finished_at) == ("completed", 1, done.finished_at)


async def test_a_worker_killed_mid_execution_loses_nothing(cluster: Cluster) -> None:
    url = await cluster.deploy(FLOW, "durable")
    victim = cluster.start_worker("--threads", "4")
    answers = await asyncio.gather(*(cluster.post(url, n, pause=3.0) for n in range(3)))
    assert [a.status_code for a in answers] == [202] * 3
    holder = f"{socket.gethostname()}:{victim.pid}"

    async def all_running_on_victim() -> bool:
        rows = await cluster.store.list_executions(instance="durable")
        return len(rows) == 3 and all(r.status == "running" and r.worker == holder for r in rows)

    await until(all_running_on_victim, "the victim to run all three")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    cluster.start_worker("--threads", "4")
    rows = await cluster.all_finished(3, "durable")
    assert {r.status for r in rows} == {"completed"}
    assert numbers(rows) == [0, 1, 2]
    # taken up again exactly once each: the killed attempt, then the one that completed
    assert {r.attempts for r in rows} == {2}


async def test_a_flow_concurrency_limit_holds_across_workers(cluster: Cluster) -> None:
    flow = FLOW.replace("name: plain webhook\n", "name: plain webhook\nconcurrency: 2\n")
    url = await cluster.deploy(flow, "narrow")
    cluster.start_worker("--threads", "4")
    cluster.start_worker("--threads", "4")
    await asyncio.gather(*(cluster.post(url, n, pause=0.5) for n in range(8)))
    peak = 0

    async def finished_while_sampling() -> bool:
        nonlocal peak
        rows = await cluster.store.list_executions(instance="narrow")
        peak = max(peak, sum(r.status == "running" for r in rows))
        return len(rows) == 8 and all(r.status == "completed" for r in rows)

    await until(finished_while_sampling, "8 completed executions")
    assert 1 <= peak <= 2


async def test_a_killed_workers_concurrency_slot_lapses_with_its_lease(cluster: Cluster) -> None:
    flow = FLOW.replace("name: plain webhook\n", "name: plain webhook\nconcurrency: 1\n")
    url = await cluster.deploy(flow, "single")
    victim = cluster.start_worker("--threads", "2")
    assert (await cluster.post(url, 0, pause=10.0)).status_code == 202
    holder = f"{socket.gethostname()}:{victim.pid}"

    async def running_on_victim() -> bool:
        rows = await cluster.store.list_executions(instance="single")
        return len(rows) == 1 and rows[0].status == "running" and rows[0].worker == holder

    await until(running_on_victim, "the victim to hold the only slot")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    # the slot the victim held lapses one lease (RELAY_LEASE=3 s here) later, not after the
    # time limit: the killed execution and a new delivery both run on the next worker
    assert (await cluster.post(url, 1)).status_code == 202
    cluster.start_worker("--threads", "2")
    rows = await cluster.all_finished(2, "single")
    assert {r.status for r in rows} == {"completed"}
    assert numbers(rows) == [0, 1]


async def test_relay_serve_with_the_dramatiq_executor_hands_work_to_workers(
    cluster: Cluster,
) -> None:
    path = await cluster.deploy(FLOW, "served")
    port = free_port()
    cluster.start("serve", "--executor", "dramatiq", "--port", str(port))
    cluster.start_worker("--threads", "2")
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:

        async def healthy() -> bool:
            try:
                return (await client.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await until(healthy, "relay serve to answer /health")
        payload = body(41)
        answer = await client.post(path, content=payload, headers=sign(payload))
        assert answer.status_code == 202
    [row] = await cluster.all_finished(1, "served")
    assert (row.status, numbers([row])) == ("completed", [41])


async def _lose_every_message(cluster: Cluster) -> None:
    """What a Redis restart without persistence does: every key of the deployment is gone."""
    keys = list(cluster.redis.scan_iter(match=f"{cluster.queue.namespace}:*", count=1000))
    if keys:
        cluster.redis.delete(*keys)
    assert cluster.redis.hlen(f"{cluster.queue.namespace}:{cluster.queue.queue}.msgs") == 0


async def test_a_sweep_re_enqueues_what_redis_lost_and_each_runs_once(cluster: Cluster) -> None:
    url = await cluster.deploy(FLOW, "lost")
    answers = await asyncio.gather(*(cluster.post(url, n) for n in range(5)))
    assert [a.status_code for a in answers] == [202] * 5
    await _lose_every_message(cluster)
    stall_after = cluster.executor.settings.stall_after
    # not yet stalled: nothing is sent
    assert await cluster.executor.sweep(now=time.time()) == 0
    later = time.time() + stall_after + 1
    assert await cluster.executor.sweep(now=later) == 5
    assert await cluster.executor.sweep(now=later + 1) == 0  # at most once per stall_after
    cluster.start_worker("--threads", "4")
    rows = await cluster.all_finished(5, "lost")
    assert {r.status for r in rows} == {"completed"}
    assert numbers(rows) == list(range(5))
    assert {r.attempts for r in rows} == {1}
    assert await cluster.executor.sweep(now=later + 2 * stall_after) == 0  # finished: left alone


async def test_the_web_tier_sweeps_on_its_own(cluster: Cluster) -> None:
    url = await cluster.deploy(FLOW, "swept")
    assert (await cluster.post(url, 1)).status_code == 202
    await _lose_every_message(cluster)
    settings = QueueSettings.from_env(cluster.env, sweep_interval=0.1, stall_after=0)
    sweeping = DramatiqExecutor(cluster.relay, settings)
    msgs = f"{settings.namespace}:{settings.queue}.msgs"
    # ``start`` re-enqueues the unfinished execution; lose that too, then only the loop is left
    await sweeping.start()
    await until(lambda: asyncio.to_thread(cluster.redis.hlen, msgs), "start's re-enqueue")
    await _lose_every_message(cluster)
    try:
        await until(lambda: asyncio.to_thread(cluster.redis.hlen, msgs), "a sweep's re-enqueue")
    finally:
        await sweeping.shutdown(1)
    cluster.start_worker("--threads", "2")
    [row] = await cluster.all_finished(1, "swept")
    assert (row.status, row.attempts) == ("completed", 1)
