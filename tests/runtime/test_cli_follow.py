"""``relay executions --follow`` (a real process, stopped with Ctrl-C) prints the events of an
execution another process runs on the same store; ``relay replay --failed --instance X``
replays the failed ones a dry run counted first, and refuses an ID together with a filter or
neither."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from relay_processes import RELAY, relay_env

from runtime import Runtime, Service, open_store
from runtime.cli import cli

FLOW = """\
name: picky
steps:
  - id: first
    action: relay.value
    inputs: {value: "${{ trigger.n }}"}
  - id: check
    action: relay.value
    inputs: {value: "${{ 10 / trigger.n }}"}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    (tmp_path / "picky.yaml").write_text(FLOW)
    (tmp_path / "empty.yaml").write_text("{}\n")
    code, _, err = invoke(
        "deploy", str(tmp_path / "picky.yaml"), "--config", str(tmp_path / "empty.yaml")
    )
    assert code == 0, err
    return home


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


async def _run(home: Path, *ns: int) -> list[tuple[str, str | None]]:
    store = await open_store(None, data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url="http://relay.test")
    try:
        done = []
        for n in ns:
            execution_id = await relay.start_manual("picky", {"n": n})
            done.append((execution_id, await relay.execute(execution_id, "test")))
        return done
    finally:
        await runtime.aclose()
        await store.close()


def test_follow_prints_the_events_of_a_run_elsewhere_until_ctrl_c(home: Path) -> None:
    follower = subprocess.Popen(
        [RELAY, "executions", "--follow", "--json"],
        env=relay_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None and follower.stdout is not None
        assert "following" in follower.stderr.readline()  # its starting point is set
        [(execution_id, status)] = asyncio.run(_run(home, 2))
        assert status == "completed"
        told: list[dict[str, Any]] = []
        while not told or told[-1]["kind"] != "finished":
            line = follower.stdout.readline()
            assert line, "relay executions --follow stopped printing"
            told.append(json.loads(line))
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=20)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    assert "Traceback" not in err
    assert [(e["kind"], e["execution_id"], (e.get("step") or {}).get("path")) for e in told] == [
        ("recorded", execution_id, None),
        ("started", execution_id, None),
        ("step", execution_id, "first"),
        ("step", execution_id, "check"),
        ("finished", execution_id, None),
    ]
    assert told[-1]["status"] == "completed" and told[0]["instance"] == "picky"


def test_follow_refuses_an_unknown_instance_and_a_status(home: Path) -> None:
    code, _, err = invoke("executions", "--follow", "--instance", "nobody")
    assert code == 1 and "no instance named 'nobody'" in err
    code, _, err = invoke("executions", "--follow", "--status", "failed")
    assert code == 1 and "--status" in err


def test_replay_failed_counts_first_then_replays_what_it_counted(home: Path) -> None:
    done = asyncio.run(_run(home, 0, 5, 0))
    failed = {i for i, status in done if status == "failed"}
    assert len(failed) == 2

    code, listed, err = invoke(
        "replay", "--failed", "--instance", "picky", "--since", "1h", "--dry-run"
    )
    assert code == 0, err
    lines = listed.splitlines()
    assert lines[0] == "would replay 2 executions" and set(lines[1:]) == failed

    code, ran, err = invoke("replay", "--failed", "--instance", "picky", "--since", "1h")
    assert code == 1  # the replays ran and failed again, as their originals did
    replayed = [line for line in ran.splitlines() if line.startswith("replay ")]
    assert len(replayed) == 2 and all(line.endswith(": failed") for line in replayed)
    assert {line.split()[3].rstrip(":") for line in replayed} == failed
    assert ran.splitlines()[-1] == "replayed 2 executions"

    code, later, _ = invoke(
        "replay", "--failed", "--instance", "picky", "--since", "2999-01-01", "--dry-run"
    )
    assert code == 0 and later.splitlines() == ["would replay 0 executions"]


def test_replay_wants_an_id_or_a_filter_and_not_both(home: Path) -> None:
    [(execution_id, _status)] = asyncio.run(_run(home, 1))
    code, _, err = invoke("replay")
    assert code == 1 and err.count("\n") == 1 and "an execution ID, or a filter" in err
    code, _, err = invoke("replay", execution_id, "--failed", "--instance", "picky")
    assert code == 1 and err.count("\n") == 1 and "not both" in err
    code, _, err = invoke("replay", "--failed")
    assert code == 1 and "--instance" in err
    code, _, err = invoke("replay", "--failed", "--instance", "picky", "--since", "soonish")
    assert code == 1 and "--since='soonish'" in err
    code, _, err = invoke("replay", "--failed", "--instance", "nobody", "--dry-run")
    assert code == 1 and "no instance named 'nobody'" in err
    code, out, err = invoke("replay", execution_id)  # by id, as before
    assert code == 0, err
    assert out.splitlines()[-1].startswith("replay ") and out.rstrip().endswith(": completed")
