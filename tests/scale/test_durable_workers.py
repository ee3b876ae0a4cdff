"""Durable steps under chaos on PostgreSQL with Dramatiq: ``relay worker`` processes killed
(SIGKILL) or paused (SIGSTOP) while their executions create shares in a real sandbox process,
over real HTTP. The web tier runs in this process (``Cluster``) and is never killed here.

The sandbox's request log is the count (``relay_chaos``); the SQLite and in-process version is
tests/server/test_durable_chaos.py.
"""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest
from relay_chaos import (
    CREATING,
    FLOW,
    PAUSED_FLOW,
    by_delivery,
    chaos_sandbox,
    chaos_seed,
    check_each_step_made_once,
    claims_of,
    flow_config,
    kill_at_random_point,
    payload,
    share_requests,
    store_connection,
)
from relay_service_support import sign
from relay_waiting import until

from .conftest import Cluster

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis]

#: Deliveries in the burst (each makes four shares), and how many workers are killed in it.
BURST = 24
KILLS = 2


async def deliver(cluster: Cluster, url: str, n: int, **fields: float) -> None:
    body = payload(n, **fields)
    answer = await cluster.client.post(url, content=body, headers=sign(body))
    assert answer.status_code == 202, answer.text


async def test_sigkill_of_workers_mid_burst_repeats_no_completed_step(
    cluster: Cluster, tmp_path: Path
) -> None:
    seed = chaos_seed()
    print(f"RELAY_CHAOS_SEED={seed}")  # shown by pytest when the test fails
    rng = random.Random(seed)
    with chaos_sandbox(tmp_path, latency=0.05) as sandbox:
        event_type = await store_connection(cluster.store, sandbox)
        url = await cluster.deploy(FLOW, "chaos", flow_config(event_type))
        worker = cluster.start_worker("--threads", "8")
        await asyncio.gather(*(deliver(cluster, url, n, pause=0.1) for n in range(BURST)))
        for kill in range(KILLS):
            # at least 12 share requests with 8 threads: some execution has begun its second
            # share, so its first was committed before the kill (the check below needs one)
            after = await kill_at_random_point(worker, sandbox, rng, 12, 36)
            print(f"kill {kill}: after {after} share requests")
            rows = await cluster.store.list_executions(instance="chaos", limit=10_000)
            # the kill must have caught work unfinished, or it would prove nothing
            assert any(r.status in ("pending", "running") for r in rows)
            worker = cluster.start_worker("--threads", "8")
        rows = await cluster.all_finished(BURST, "chaos")
        made = share_requests(sandbox)
    executions = by_delivery(rows)
    assert sorted(executions) == list(range(BURST))  # each delivery, once
    assert {n: r[0].status for n, r in executions.items() if r[0].status != "completed"} == {}
    repeats, keyed = check_each_step_made_once(rows, made, CREATING)
    print(f"steps sent again (in flight at a kill): {dict(repeats)}; {keyed} keyed requests")
    # the claims after a kill went on from the step in flight, keeping what came before
    # (claims 2 and 3 count too: an execution caught by both kills resumes twice)
    assert any(len(claims_of(r)) >= 2 for r in rows)


NAP = 3.0  # seconds each paused execution waits (held: RELAY_SUSPEND_AFTER is above it)


async def test_a_paused_workers_late_checkpoint_and_finish_are_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    with chaos_sandbox(tmp_path) as sandbox:
        event_type = await store_connection(cluster.store, sandbox)
        url = await cluster.deploy(PAUSED_FLOW, "paused", flow_config(event_type))
        first = cluster.start_worker("--threads", "2", RELAY_SUSPEND_AFTER="10")
        # delivery 1 waits mid-flow (its next write is a checkpoint), delivery 2 in its last
        # step (its next write is the finish)
        await deliver(cluster, url, 1, a=NAP, b=0.0)
        await deliver(cluster, url, 2, a=0.0, b=NAP)

        async def both_waiting() -> bool:
            made = await asyncio.to_thread(share_requests, sandbox)
            return {(1, "s1"), (2, "s1"), (2, "s2")} <= set(made)

        await until(both_waiting, "both executions to reach their wait")
        first.send_signal(signal.SIGSTOP)
        try:
            cluster.start_worker("--threads", "2", RELAY_SUSPEND_AFTER="10")
            rows = await cluster.all_finished(2, "paused")
            done = {r.id: r.finished_at for r in rows}
        finally:
            first.send_signal(signal.SIGCONT)
        log = Path(cluster.home / "worker-0.log")

        async def refused() -> bool:
            text = await asyncio.to_thread(log.read_text)
            lines = [line for line in text.splitlines() if "lease was taken over" in line]
            return all(any(i in line for line in lines) for i in done)

        await until(refused, "the paused worker to find both leases taken over")
        after = await cluster.store.list_executions(instance="paused", limit=10)
        # a late checkpoint that got in would be left behind (the finish dropped them all)
        assert [await cluster.store.load_checkpoints(i) for i in done] == [[], []]
        assert first.poll() is None  # the refused runs stopped; the worker did not
        made = share_requests(sandbox)
    assert {key: len(sent) for key, sent in made.items()} == {
        (1, "s1"): 1,
        (1, "s2"): 1,
        (2, "s1"): 1,
        (2, "s2"): 1,
    }
    for row in after:
        assert (row.status, row.attempts) == ("completed", 2)
        assert row.finished_at == done[row.id]  # written once, by the second worker
        claims = {s["path"]: s["claim"] for s in row.result["steps"]}
        assert claims["s1"] == 1 and claims["nap_b"] == 2, claims
        if row.payload["body"]["n"] == 1:
            assert claims["s2"] == 2
