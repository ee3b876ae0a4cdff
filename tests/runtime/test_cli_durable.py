"""The CLI over durable executions: ``relay executions --status waiting`` lists the suspended
ones with their wake-up time, ``relay execution`` shows a waiting one's steps so far and marks
the steps a resumed claim ran, and ``relay cancel`` ends one (exit 1 when already finished)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime import Runtime, Service, open_store
from runtime.cli import cli

SLEEPY = """\
name: sleepy
steps:
  - id: before
    action: relay.value
    inputs: {value: "${{ trigger.n }}"}
  - id: nap
    action: relay.sleep
    inputs: {seconds: 86400}
  - id: after
    action: relay.value
    inputs: {value: done}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    (tmp_path / "sleepy.yaml").write_text(SLEEPY)
    (tmp_path / "empty.yaml").write_text("{}\n")
    code, _, err = invoke(
        "deploy", str(tmp_path / "sleepy.yaml"), "--config", str(tmp_path / "empty.yaml")
    )
    assert code == 0, err
    return home


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


async def _start(home: Path, n: int) -> tuple[str, str | None]:
    store = await open_store(None, data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url="http://relay.test")
    try:
        execution_id = await relay.start_manual("sleepy", {"n": n})
        return execution_id, await relay.execute(execution_id, "test")
    finally:
        await runtime.aclose()
        await store.close()


def test_a_waiting_execution_is_listed_shown_and_canceled(home: Path) -> None:
    execution_id, status = asyncio.run(_start(home, 7))
    assert status == "waiting"
    code, out, err = invoke("executions", "--status", "waiting", "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert row["id"] == execution_id and row["status"] == "waiting"
    assert row["wake_at"] == pytest.approx(row["created_at"] + 86400, abs=60)
    code, out, _ = invoke("executions", "--status", "waiting")
    assert execution_id in out and "wakes" in out

    code, out, err = invoke("execution", execution_id[:10], "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "waiting"
    assert [(s["path"], s["status"]) for s in doc["steps"]] == [
        ("before", "completed"),
        ("nap", "waiting"),
    ]
    assert doc["steps"][0]["output"] == {"data": 7}
    code, out, _ = invoke("execution", execution_id)
    assert code == 0 and "waiting until" in out and "nap" in out

    code, out, err = invoke("cancel", execution_id[:10])
    assert (code, out.strip()) == (0, f"canceled {execution_id}"), err
    code, out, _ = invoke("execution", execution_id, "--json")
    doc = json.loads(out)
    assert doc["status"] == "canceled" and [s["path"] for s in doc["steps"]] == ["before"]
    assert doc["error"]["type"] == "Canceled"
    code, _, err = invoke("cancel", execution_id)
    assert code == 1 and "is already canceled: nothing to cancel" in err
    code, out, _ = invoke("executions", "--status", "waiting", "--json")
    assert json.loads(out) == []


def test_cancel_names_an_unknown_execution(home: Path) -> None:
    code, _, err = invoke("cancel", "abc123")
    assert code == 1 and "no execution 'abc123'" in err
