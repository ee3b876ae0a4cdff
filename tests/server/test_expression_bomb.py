"""An expression bomb delivered to one instance of a real ``relay serve`` (SQLite, in-process
executor): while its execution runs, ``/health`` answers and another instance's signed
deliveries are accepted and run; the bomb's execution then ends failed with the budget error.

The bomb is a 1 KB payload whose list the flow iterates three levels deep (500 items: 125 million steps,
minutes of CEL holding the GIL if it were evaluated on the event loop)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_processes import deploy, free_port, relay_env, start_server, stop
from relay_service_support import FLOW, SECRET, body, sign
from relay_waiting import until

from runtime import open_store

BOMB_FLOW = """\
name: bomb
config:
  hookSecret: {type: string, secret: true}
trigger:
  webhook: {secret: "${{ config.hookSecret }}"}
steps:
  - id: explode
    action: relay.value
    inputs:
      value: {found: "${{ trigger.body.xs.exists(a, trigger.body.xs.exists(b,
        trigger.body.xs.exists(c, a + b + c < 0))) }}"}
"""
#: How long the bomb's isolated evaluation may run: long enough to look around while it does.
TIME_LIMIT = "12"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "config.yaml").write_text(f"hookSecret: {SECRET}\n")
    env = relay_env(tmp_path, RELAY_PUBLIC_URL=base)
    urls = {}
    for name, text in (("bomb", BOMB_FLOW), ("steady", FLOW)):
        flow = tmp_path / f"{name}.yaml"
        flow.write_text(text)
        urls[name] = deploy(tmp_path, flow, name, tmp_path / "config.yaml", env)
    server = start_server(tmp_path, port, env={"RELAY_EXPRESSION_TIME_LIMIT": TIME_LIMIT})
    try:
        yield base, urls
    finally:
        stop(server)


async def status_of(home: Path, execution_id: str) -> Any:
    store = await open_store(None, data_dir=home)
    try:
        return await store.get_execution(execution_id)
    finally:
        await store.close()


async def reaching(home: Path, execution_id: str, statuses: tuple[str, ...]) -> Any:
    """The execution's row once its status is one of ``statuses``."""

    async def reached() -> Any:
        row = await status_of(home, execution_id)
        return row if row is not None and row.status in statuses else None

    return await until(reached, f"{execution_id} to be {' or '.join(statuses)}", timeout=90)


@pytest.mark.asyncio
async def test_a_bomb_does_not_stop_the_server_and_fails_with_the_budget_error(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, urls = served
    payload = json.dumps({"xs": [1] * 500}, separators=(",", ":")).encode()  # 1 KB
    assert len(payload) <= 1024
    # a client that gives up after 5 s: a blocked event loop fails it
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(urls["bomb"], content=payload, headers=sign(payload))
        assert answer.status_code == 202
        bomb = answer.json()["execution_id"]
        row = await reaching(tmp_path, bomb, ("running", "completed", "failed"))
        assert row is not None and row.status == "running"
        for _ in range(3):
            assert (await client.get(f"{base}/health")).status_code == 200
        steady = []
        for n in range(5):
            delivery = body(n)
            accepted = await client.post(urls["steady"], content=delivery, headers=sign(delivery))
            assert accepted.status_code == 202
            steady.append(accepted.json()["execution_id"])
        for execution_id in steady:
            done = await reaching(tmp_path, execution_id, ("completed", "failed"))
            assert done is not None and done.status == "completed"
        # all that happened while the bomb's execution was still running
        assert (await status_of(tmp_path, bomb)).status == "running"
        assert (await client.get(f"{base}/health")).status_code == 200
    row = await reaching(tmp_path, bomb, ("completed", "failed"))
    assert row is not None and row.status == "failed" and row.attempts == 1
    assert row.result is not None
    assert row.result["error"]["message"].startswith(
        "steps.explode.inputs.value.found: expression exceeded its evaluation budget"
    )
