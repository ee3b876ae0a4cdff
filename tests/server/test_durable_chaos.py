"""Durable steps under chaos, with the SQLite store and the in-process executor: ``relay
serve`` processes killed (SIGKILL) or paused (SIGSTOP) while their executions create shares in
a real sandbox process, over real HTTP.

The sandbox's request log is the count: each share's name says which delivery and which step
asked for it (``relay_chaos``). The Dramatiq version (workers killed and paused) is in
tests/scale/test_durable_workers.py.
"""

from __future__ import annotations

import asyncio
import json
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
    end,
    flow_config,
    kill_at_random_point,
    payload,
    post_deliveries,
    serve,
    settled,
    share_requests,
    store_at,
    store_connection,
)
from relay_processes import deploy, free_port, relay_env
from relay_service_support import sign
from relay_waiting import until

pytestmark = pytest.mark.asyncio

#: Deliveries sent in each round (each makes four shares).
BURST = 16
#: Rounds that end with a SIGKILL of the server; a last server then finishes everything.
KILLS = 2


def deploy_flow(home: Path, text: str, name: str, event_type: str, port: int) -> str:
    flow = home / f"{name}.yaml"
    flow.write_text(text)
    config = home / f"{name}-config.yaml"
    config.write_text(json.dumps(flow_config(event_type)))  # JSON is YAML
    env = relay_env(home, RELAY_PUBLIC_URL=f"http://127.0.0.1:{port}")
    return deploy(home, flow, name, config, env)


async def test_sigkill_of_the_server_mid_burst_repeats_no_completed_step(
    tmp_path: Path,
) -> None:
    seed = chaos_seed()
    print(f"RELAY_CHAOS_SEED={seed}")  # shown by pytest when the test fails
    rng = random.Random(seed)
    with chaos_sandbox(tmp_path, latency=0.05) as sandbox:
        async with store_at(tmp_path, None) as store:
            event_type = await store_connection(store, sandbox)
        port = free_port()
        url = deploy_flow(tmp_path, FLOW, "chaos", event_type, port)
        accepted: set[int] = set()
        for round_ in range(KILLS):
            server = serve(tmp_path, port, tmp_path / f"serve-{round_}.log", env={})
            try:
                numbers = [100 * round_ + i for i in range(BURST)]
                sending = asyncio.create_task(post_deliveries(url, numbers, pause=0.1))
                after = await kill_at_random_point(server, sandbox, rng, 4, 40)
                print(f"round {round_}: killed after {after} share requests")
                accepted |= await sending
            finally:
                end(server)
            async with store_at(tmp_path, None) as store:
                rows = await store.list_executions(instance="chaos", limit=10_000)
            # the kill must have caught work unfinished, or the round would prove nothing
            assert any(r.status in ("pending", "running") for r in rows)
        last = serve(tmp_path, port, tmp_path / "serve-last.log", env={})
        try:
            async with store_at(tmp_path, None) as store:
                rows = await settled(store, "chaos")
        finally:
            end(last)
        made = share_requests(sandbox)
    executions = by_delivery(rows)
    assert sorted(n for n in accepted if n not in executions) == []  # none lost
    assert {n: len(found) for n, found in executions.items() if len(found) != 1} == {}
    assert {n: r[0].status for n, r in executions.items() if r[0].status != "completed"} == {}
    repeats, keyed = check_each_step_made_once(rows, made, CREATING)
    print(f"steps sent again (in flight at a kill): {dict(repeats)}; {keyed} keyed requests")
    # and the claims after a kill went on from the step in flight, keeping what came before
    # (claims 2 and 3 count too: an execution caught by both kills resumes twice)
    assert any(len(claims_of(r)) >= 2 for r in rows)


NAP = 3.0  # seconds each paused execution waits (held: RELAY_SUSPEND_AFTER is above it)
PAUSED_ENV = {"RELAY_SUSPEND_AFTER": "10"}


async def test_a_paused_servers_late_checkpoint_and_finish_are_refused(tmp_path: Path) -> None:
    with chaos_sandbox(tmp_path) as sandbox:
        async with store_at(tmp_path, None) as store:
            event_type = await store_connection(store, sandbox)
        first_port, second_port = free_port(), free_port()
        url = deploy_flow(tmp_path, PAUSED_FLOW, "paused", event_type, first_port)
        first_log = tmp_path / "first.log"
        first = serve(tmp_path, first_port, first_log, "--lease", "2", env=PAUSED_ENV)
        second = None
        try:
            # delivery 1 waits mid-flow (its next write is a checkpoint), delivery 2 in its
            # last step (its next write is the finish)
            for n, a, b in ((1, NAP, 0.0), (2, 0.0, NAP)):
                body = payload(n, a=a, b=b)
                answer = await asyncio.to_thread(_post, url, body)
                assert answer == 202

            async def both_waiting() -> bool:
                made = await asyncio.to_thread(share_requests, sandbox)
                return {(1, "s1"), (2, "s1"), (2, "s2")} <= set(made)

            await until(both_waiting, "both executions to reach their wait")
            first.send_signal(signal.SIGSTOP)
            second_log = tmp_path / "second.log"
            args = ("--lease", "2")
            second = serve(
                tmp_path, second_port, second_log, *args, env=PAUSED_ENV, public_port=first_port
            )
            async with store_at(tmp_path, None) as store:
                rows = await settled(store, "paused", count=2)
                done = {r.id: r.finished_at for r in rows}
                first.send_signal(signal.SIGCONT)

                async def refused() -> bool:
                    text = await asyncio.to_thread(first_log.read_text)
                    lines = [line for line in text.splitlines() if "lease was taken over" in line]
                    return all(any(i in line for line in lines) for i in done)

                await until(refused, "the paused server to find both leases taken over")
                after = await store.list_executions(instance="paused", limit=10)
                # a late checkpoint that got in would be left behind (the finish dropped all)
                assert [await store.load_checkpoints(i) for i in done] == [[], []]
            assert first.poll() is None  # the refused runs stopped; the server did not
        finally:
            end(first)
            if second is not None:
                end(second)
        made = share_requests(sandbox)
    # every share was asked for once: the paused server sent nothing after its pause
    assert {key: len(sent) for key, sent in made.items()} == {
        (1, "s1"): 1,
        (1, "s2"): 1,
        (2, "s1"): 1,
        (2, "s2"): 1,
    }
    for row in after:
        assert (row.status, row.attempts) == ("completed", 2)
        assert row.finished_at == done[row.id]  # written once, by the second server
        claims = {s["path"]: s["claim"] for s in row.result["steps"]}
        assert claims["s1"] == 1 and claims["nap_b"] == 2, claims
        if row.payload["body"]["n"] == 1:
            assert claims["s2"] == 2


def _post(url: str, body: bytes) -> int:
    import httpx

    return httpx.post(url, content=body, headers=sign(body), timeout=5).status_code
