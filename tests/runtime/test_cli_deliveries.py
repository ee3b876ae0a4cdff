"""``relay deliveries NAME``: an instance's accepted, duplicate, rejected and ignored deliveries
from the local store (deliveries posted through the real server app into it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store
from runtime.cli import cli

HOOK = """\
name: plain hook
trigger: {webhook: {}}
steps:
  - id: echo
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""
#: In the rejected body: it must never be shown.
MARKER = "never-shown-body-4411"


async def _deliver(home: Path, flow: Path) -> str:
    """Deploy ``hook`` and post to it: a delivery sent three times (one key), another, and a
    rejected one; the first's execution id."""
    store = await open_store(None, data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    try:
        instance = await relay.deploy(flow, {}, "hook")
        path = f"/webhooks/{instance.webhook_token}"
        transport = httpx.ASGITransport(app=create_app(relay, executor))
        async with httpx.AsyncClient(transport=transport, base_url="http://relay.test") as http:
            answers = [
                await http.post(path, content=b'{"n": 1}', headers={"Idempotency-Key": "first"})
                for _ in range(3)
            ]
            await http.post(path, content=b'{"n": 2}')
            bad = await http.post(
                path, content=MARKER.encode(), headers={"Idempotency-Key": "bad\tkey"}
            )
            assert bad.status_code == 400
        return str(answers[0].json()["execution_id"])
    finally:
        await executor.shutdown(5)
        await relay.aclose()  # writes the rejection counts
        await runtime.aclose()
        await store.close()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def delivered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    flow = tmp_path / "hook.yaml"
    flow.write_text(HOOK)
    return asyncio.run(_deliver(home, flow))


def test_relay_deliveries_lists_what_an_instance_was_sent(delivered: str) -> None:
    code, out, err = _invoke("deliveries", "hook", "--json")
    assert code == 0, err
    items = json.loads(out)
    assert sorted(i["outcome"] for i in items) == ["accepted", "accepted", "rejected"]
    first = next(i for i in items if i["execution_id"] == delivered)
    assert (first["times_seen"], first["dedupe_key"]) == (3, "key:first")
    [rejected] = [i for i in items if i["outcome"] == "rejected"]
    assert rejected["status"] == 400 and "Idempotency-Key" in rejected["reason"]
    assert MARKER not in out

    code, out, _ = _invoke("deliveries", "hook", "--outcome", "duplicate")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["received", "outcome", "seen"]
    assert len(rows) == 1 and delivered in rows[0] and "key:first" in rows[0]
    code, out, _ = _invoke("deliveries", "hook", "--outcome", "rejected", "--limit", "1")
    assert code == 0 and "Idempotency-Key" in out and MARKER not in out


def test_relay_deliveries_names_what_is_wrong(delivered: str) -> None:
    code, _, err = _invoke("deliveries", "nope")
    assert code == 1 and err.strip() == "error: no instance named 'nope'"
    code, _, err = _invoke("deliveries", "hook", "--outcome", "lost")
    assert code == 2 and "--outcome" in err
    code, _, err = _invoke("deliveries", "hook", "--limit", "0")
    assert code == 2 and "--limit" in err
