"""Durability: the web tier killed with SIGKILL mid-burst loses no accepted delivery.

Runs on both setups: SQLite with the in-process executor (the server runs the executions),
and PostgreSQL with Dramatiq (a ``relay worker`` process runs them; the server only records
and enqueues, and re-enqueues what it had not handed over when it comes back).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_backends import SETUPS, setup_env
from relay_processes import RELAY, deploy, free_port, kill_hard, relay_env, start_server, stop
from relay_service_support import FLOW, SECRET, body, sign
from relay_waiting import until

from runtime import open_store

BURST = 120
KILL_AFTER = 40  # answered deliveries before the kill


@pytest.fixture(params=SETUPS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with setup_env(request.param, tmp_path) as env:
        yield request.param, env


def deploy_plain(home: Path, port: int, env: dict[str, str]) -> str:
    flow = home / "plain.yaml"
    flow.write_text(FLOW)
    (home / "config.yaml").write_text(f"hookSecret: {SECRET}\n")
    full_env = relay_env(home, RELAY_PUBLIC_URL=f"http://127.0.0.1:{port}", **env)
    return deploy(home, flow, "durable", home / "config.yaml", full_env)


def start_worker(home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``relay worker`` running the executions of the Dramatiq setup."""
    return subprocess.Popen(
        [RELAY, "worker", "--threads", "4"],
        env=relay_env(home, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
            payload = body(n, pause=0.2)
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


async def rows_when_settled(home: Path, env: dict[str, str]) -> list[Any]:
    store = await open_store(env.get("RELAY_DATABASE_URL"), data_dir=home)
    try:

        async def settled() -> list[Any] | None:
            rows = await store.list_executions(instance="durable", limit=10_000)
            return rows if rows and all(r.status in ("completed", "failed") for r in rows) else None

        return await until(settled, "every execution to settle", timeout=90)
    finally:
        await store.close()


async def in_flight(home: Path, env: dict[str, str]) -> int:
    store = await open_store(env.get("RELAY_DATABASE_URL"), data_dir=home)
    try:
        rows = await store.list_executions(limit=10_000)
        return sum(r.status in ("pending", "running") for r in rows)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_sigkill_mid_burst_then_restart_runs_every_accepted_delivery_once(
    setup: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    name, env = setup
    args = ("--lease", "5") if name == "sqlite+inprocess" else ("--executor", "dramatiq")
    port = free_port()
    url = deploy_plain(tmp_path, port, env)
    worker = None
    if name == "postgresql+dramatiq":
        worker = start_worker(tmp_path, env)
    try:
        server = start_server(tmp_path, port, *args, env=env)
        try:
            accepted = await burst(url, server)
        finally:
            if server.poll() is None:
                kill_hard(server)
        assert len(accepted) >= KILL_AFTER
        # the kill must have caught work unfinished, or this test would prove nothing
        assert await in_flight(tmp_path, env) > 0
        restarted = start_server(tmp_path, port, *args, env=env)
        try:
            rows = await rows_when_settled(tmp_path, env)
        finally:
            errors = stop(restarted)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    by_n: dict[int, list[str]] = {}
    for row in rows:
        by_n.setdefault(row.payload["body"]["n"], []).append(row.status)
    missing = sorted(n for n in accepted if n not in by_n)
    assert missing == [], f"accepted but never recorded: {missing}"
    assert {n: s for n, s in by_n.items() if s != ["completed"]} == {}, errors[-2000:]
    assert os.environ.get("RELAY_DATABASE_URL") is None  # the setups never leak into this process
