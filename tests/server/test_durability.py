"""Durability: a server killed with SIGKILL mid-burst loses no accepted delivery."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from relay_processes import RELAY, free_port, kill_hard, relay_env, start_server, stop
from relay_service_support import FLOW, body, sign

from runtime import open_store

BURST = 120
KILL_AFTER = 40  # answered deliveries before the kill


def deploy(home: Path, port: int) -> str:
    flow = home / "plain.yaml"
    flow.write_text(FLOW)
    (home / "config.yaml").write_text("{}\n")
    out = subprocess.run(
        [RELAY, "deploy", str(flow), "--config", str(home / "config.yaml"), "--name", "durable"],
        env=relay_env(home, RELAY_PUBLIC_URL=f"http://127.0.0.1:{port}"),
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    url = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("webhook URL"))
    return url


async def burst(url: str, server: subprocess.Popen[bytes]) -> set[int]:
    """Send BURST signed deliveries, 10 at a time; SIGKILL the server after KILL_AFTER answers.
    Returns the numbers whose delivery was answered 202."""
    accepted: set[int] = set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(BURST):
        queue.put_nowait(n)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            payload = body(n, pause=0.05)
            try:
                response = await client.post(url, content=payload, headers=sign(payload))
            except httpx.HTTPError:
                continue  # the server is gone: this delivery was never acknowledged
            if response.status_code == 202:
                accepted.add(n)
                if len(accepted) == KILL_AFTER and server.poll() is None:
                    kill_hard(server)

    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.gather(*(sender(client) for _ in range(10)))
    return accepted


@pytest.mark.asyncio
async def test_sigkill_mid_burst_then_restart_runs_every_accepted_delivery_once(tmp_path: Path) -> None:
    port = free_port()
    url = deploy(tmp_path, port)
    server = start_server(tmp_path, port, "--lease", "5")
    try:
        accepted = await burst(url, server)
    finally:
        if server.poll() is None:
            kill_hard(server)
    assert len(accepted) >= KILL_AFTER
    store = await open_store(None, data_dir=tmp_path)
    try:
        interrupted = [
            r for r in await store.list_executions(limit=10_000) if r.status in ("pending", "running")
        ]
    finally:
        await store.close()
    # the kill must have caught work in flight, or this test would prove nothing
    assert interrupted
    restarted = start_server(tmp_path, port, "--lease", "5")
    try:
        store = await open_store(None, data_dir=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while True:
                rows = await store.list_executions(instance="durable", limit=10_000)
                if all(r.status in ("completed", "failed") for r in rows) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        finally:
            await store.close()
    finally:
        errors = stop(restarted)
    by_n: dict[int, list[str]] = {}
    for row in rows:
        by_n.setdefault(row.payload["body"]["n"], []).append(row.status)
    missing = sorted(n for n in accepted if n not in by_n)
    assert missing == [], f"accepted but never recorded: {missing}"
    assert {n: s for n, s in by_n.items() if s != ["completed"]} == {}, errors[-2000:]
